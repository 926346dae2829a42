"""Serac — glacier remote sensing for QGIS.

QGIS calls :func:`classFactory` to create the plugin. Nothing here imports QGIS at
module level, so ``serac.core`` can be imported (and tested) without QGIS.
"""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin.dependencies import activate

    activate()  # Serac's package folder in the QGIS profile, before anything imports rasterio & co.
    from .core.native_libs import isolate_bundled_libraries

    early = isolate_bundled_libraries()  # the wheels' own GDAL/GEOS, not QGIS's (Linux)
    if early:
        from qgis.core import Qgis, QgsMessageLog

        QgsMessageLog.logMessage(
            f"{', '.join(early)} was imported before Serac loaded (by another plugin?): its own GDAL/GEOS "
            "libraries may be mixed with QGIS's, which can crash QGIS or give wrong results. Restart QGIS; if "
            "this message comes back, disable the other plugin that imports it.", "Serac", Qgis.MessageLevel.Warning)
    from .plugin.serac_plugin import SeracPlugin

    return SeracPlugin(iface)
