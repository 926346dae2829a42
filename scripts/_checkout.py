"""Makes this checkout importable as the package ``serac`` for the scripts run from this folder.

The work is done by ``models/_entry.py`` (the one set-up of every entry point outside QGIS); this
module puts the checkout on ``sys.path`` (appended: ``models`` only, never ahead of installed packages)
to reach it.
"""

import sys
from pathlib import Path

#: the checkout (the plugin folder)
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from models._entry import ensure_serac_importable, link_plugin  # noqa: E402,F401 (link_plugin: for the scripts)


def use_checkout():
    """Make :data:`ROOT` importable as ``serac``; returns :data:`ROOT`."""
    ensure_serac_importable(ROOT)
    return ROOT
