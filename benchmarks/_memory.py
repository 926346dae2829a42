"""Peak memory of a benchmark process, shared by the bench_*.py scripts: the core's
:func:`serac.core.memory.peak_rss_mb`, loaded from its file (the scripts run before ``serac`` is importable)."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("serac_core_memory",
                                               Path(__file__).resolve().parents[1] / "core" / "memory.py")
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
peak_rss_mb = _module.peak_rss_mb
