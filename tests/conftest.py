"""Fixtures shared by the docs tests: the site is built once per test session, by the command `make docs` runs."""
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='session')
def site():
    """Build the docs with `tools/build_docs.py` into `_site_local/` (what `make docs` makes); returns (proc dir, site dir).

    The tests check the very folder a person opens, and leave it there, built; nbdev's processing writes `_proc/`
    in the checkout whatever the output folder is."""
    out = ROOT/'_site_local'
    r = subprocess.run([sys.executable, 'tools/build_docs.py', '--out', str(out), '--n_workers', '2'], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"docs build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    return ROOT/'_proc', out
