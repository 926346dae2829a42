"""Makes this checkout importable as the package ``serac`` for the scripts run from this folder."""

import sys
from pathlib import Path

#: the checkout (the plugin folder)
ROOT = Path(__file__).resolve().parents[1]
#: folder holding the link ``serac`` -> ROOT (as QGIS_PLUGINPATH would)
PLUGIN_PATH = ROOT / "build" / "pluginpath"


def use_checkout():
    """Put :data:`PLUGIN_PATH` first on ``sys.path``, making its link ``serac`` if missing; returns :data:`ROOT`."""
    link = PLUGIN_PATH / "serac"
    if not link.exists():
        PLUGIN_PATH.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT, target_is_directory=True)
    if str(PLUGIN_PATH) not in sys.path:
        sys.path.insert(0, str(PLUGIN_PATH))
    return ROOT
