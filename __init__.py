"""Serac — glacier remote sensing for QGIS.

QGIS calls :func:`classFactory` to create the plugin. Nothing here imports QGIS at
module level, so ``serac.core`` can be imported (and tested) without QGIS.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin.serac_plugin import SeracPlugin

    return SeracPlugin(iface)
