"""Serac — glacier remote sensing for QGIS.

QGIS calls :func:`classFactory` to create the plugin. Nothing here imports QGIS at
module level, so ``serac.core`` can be imported (and tested) without QGIS.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin.dependencies import activate

    activate()  # Serac's package folder in the QGIS profile, before anything imports rasterio & co.
    from .plugin.serac_plugin import SeracPlugin

    return SeracPlugin(iface)
