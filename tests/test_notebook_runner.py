"""`tools/test_notebooks.py`, the runner `make test` and `make test-slow` test the notebooks with: a notebook that
fails, or that uses a name it never imported, is reported by name with the end of its output and exit status 1, in
both ways of starting its process (forked after the third-party imports; a new `nbdev_test`)."""
import json, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def _nb(path:Path, *cells:str) -> Path:
    "A notebook at `path` with these code cells."
    cell = lambda src: dict(cell_type='code', execution_count=None, metadata={}, outputs=[], source=src)
    path.write_text(json.dumps(dict(cells=[cell(s) for s in cells], metadata={}, nbformat=4, nbformat_minor=5)))
    return path

def _runner(*args):
    return subprocess.run([sys.executable, 'tools/test_notebooks.py', *args], cwd=ROOT, capture_output=True, text=True, timeout=600)

@pytest.mark.parametrize('mode', [pytest.param([], id='forked'), pytest.param(['--fresh'], id='fresh', marks=pytest.mark.slow)])
def test_failures_are_named_and_fail_the_run(tmp_path, mode):
    good = _nb(tmp_path/'good.ipynb', 'import torch\nx = torch.ones(2)', 'assert x.sum().item() == 2')
    bad = _nb(tmp_path/'bad.ipynb', 'import torch\nassert torch.ones(1).item() == 2, "deliberately wrong"')
    # torch is imported by the runner before it forks: the notebook's own namespace must still lack it
    unimported = _nb(tmp_path/'unimported.ipynb', 'x = torch.ones(1)')
    r = _runner(*mode, str(good), str(bad), str(unimported))
    assert r.returncode == 1, r.stdout + r.stderr
    line = lambda status, nb: re.search(rf'^  {status} +\d+ s  {re.escape(str(nb))}$', r.stdout, re.M)
    assert line('ok', good) and line('FAIL', bad) and line('FAIL', unimported), r.stdout
    assert 'deliberately wrong' in r.stdout and "name 'torch' is not defined" in r.stdout
    assert 'FAIL: 2 of 3 notebooks failed' in r.stdout and str(bad) in r.stdout.splitlines()[-1] and str(unimported) in r.stdout.splitlines()[-1]

def test_bad_arguments_refused_before_anything_runs(tmp_path):
    "(A run where every notebook passes, exit status 0, is `make test` itself.)"
    r = _runner('--jobs', '0')
    assert r.returncode == 2 and '--jobs must be at least 1; got 0' in r.stderr
    r = _runner(str(tmp_path/'missing.ipynb'))
    assert r.returncode == 2 and 'no such notebook' in r.stderr
