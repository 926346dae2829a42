"""The shared_data fixture fails loudly on CI and skips elsewhere when ../shared/data is missing."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_with_missing_data(tmp_path, ci):
    test = tmp_path / "test_uses_data.py"
    test.write_text(textwrap.dedent("""
        import tests.conftest as c
        c.SHARED_DATA = c.SHARED_DATA / "surely-not-here"
        from tests.conftest import shared_data  # noqa: F401

        def test_needs_data(shared_data):
            pass
    """))
    env = {"CI": ci, "PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:pytest_qgis", "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(tmp_path), str(test)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_missing_shared_data_fails_on_ci_and_skips_on_a_laptop(tmp_path):
    on_ci = _run_with_missing_data(tmp_path, "true")
    assert on_ci.returncode != 0 and "on CI it must be provided" in on_ci.stdout, on_ci.stdout[-2000:]
    laptop = _run_with_missing_data(tmp_path, "")
    assert laptop.returncode == 0 and "1 skipped" in laptop.stdout, laptop.stdout[-2000:]
