"""Memory use of this process, for batch records and benchmarks (standard library only)."""


def peak_rss_mb():
    """Peak resident memory of this process (MiB): VmHWM, which starts afresh at exec (ru_maxrss would
    carry over the parent's peak on Linux); ru_maxrss where /proc is absent; NaN where neither exists
    (Windows)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
