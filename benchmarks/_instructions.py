"""Instructions executed by a benchmark child, counted by valgrind's callgrind, shared by the bench_*.py scripts.

On a shared machine CPU time moves with the load (caches, frequency, other processes: 40 % between runs of the
same code was seen here); the number of instructions a process executes does not, so it compares versions of the
code where timings cannot. Hardware counters (``perf``) are not available on the build VM; callgrind runs the
program on a simulated CPU, about 50 times slower, so only small cases are counted. Counts include start-up: a
benchmark subtracts a baseline run (the same child without the measured call).
"""

import os
import re
import shutil
import subprocess

#: Environment of a one-thread child (BLAS and OpenMP pools of one thread).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def valgrind_available():
    return shutil.which("valgrind") is not None


def count_instructions(cmd, env=None):
    """(instructions executed by ``cmd`` (a list) in all its threads, its stdout), under callgrind."""
    env = dict(os.environ if env is None else env, **ONE_THREAD)
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
                          capture_output=True, text=True, env=env)
    found = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"callgrind run failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return int(found.group(1)), proc.stdout
