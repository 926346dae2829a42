"""Makes the code under test importable as the package ``serac`` for the benchmarks (import this first).

That is this checkout, or, in a child a benchmark starts with ``--compare``, the checkout named by
``SERAC_BENCH_CODE``. The set-up itself is ``models/_entry.py``'s, as for the tests and scripts.
"""

import os
import sys
from pathlib import Path

#: this checkout (the plugin folder): data, results and the benchmarks themselves
ROOT = Path(__file__).resolve().parents[1]
#: the checkout whose code runs (another one in a ``--compare`` child)
CODE = Path(os.environ.get("SERAC_BENCH_CODE") or ROOT).resolve()
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from models._entry import ensure_serac_importable  # noqa: E402

ensure_serac_importable(CODE)
