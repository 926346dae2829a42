"""``python -m serac.cli``: the ``serac`` command."""

import sys

from . import main

sys.exit(main())
