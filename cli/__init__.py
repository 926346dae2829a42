"""Serac's command line, without QGIS: ``serac <job> ...`` for every job of the core and ``serac batch``.

The subcommands are generated from the job registry (:data:`serac.core.jobs.JOBS`): one per job,
its inputs and outputs as file paths, its settings as options with the same names, defaults, units
and ranges as the Processing dialog. ``serac batch MANIFEST`` runs many rows (pairs, scenes,
tiles) as tasks on Dask distributed (see :mod:`.batch`). Dask is imported only by ``serac batch``.
"""


def main(argv=None) -> int:
    """Entry point of the ``serac`` command (console script ``serac = serac.cli:main``)."""
    from .main import main as _main

    return _main(argv)
