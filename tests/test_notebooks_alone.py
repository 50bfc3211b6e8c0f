"""Every notebook passes on its own, in a fresh process: one case per notebook, `nbdev_test --path NB --n_workers 0`.

This is `make nbtest` (tools/test_notebooks.py, whose `run_one` runs each notebook) as pytest cases, so that `make
test` hands the notebooks and the test files to the same pytest-xdist workers: a notebook starts whenever a worker is
free, instead of the test files waiting for the last notebook. Each notebook is a test class of its own (`Test_NB`),
since `--dist loadscope` hands out a module's functions together but each class on its own (conftest.py orders the
work). Cells flagged in `tst_flags` are skipped here, as `nbdev_test` does by default; `make test-slow` runs them.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from test_notebooks import notebooks, run_one  # noqa: E402

NBS = notebooks()
NBDEV_TEST = str(Path(sys.executable).parent/'nbdev_test')

def _case(nb:Path) -> type:
    "The test class `Test_<notebook>`: one case, the notebook run alone."
    def test_alone(self):
        _, ok, secs, out = run_one(nb, NBDEV_TEST)
        assert ok, f"{nb.relative_to(ROOT)} failed on its own ({secs:.0f} s); the end of its output:\n" + '\n'.join(out.strip().splitlines()[-40:])
    test_alone.__doc__ = f"{nb.relative_to(ROOT)} runs top to bottom in a fresh `nbdev_test` process, one torch thread, with no error."
    return type(f'Test_{nb.stem}', (), {'test_alone': test_alone, 'notebook': nb})

for _nb in NBS: globals()[f'Test_{_nb.stem}'] = _case(_nb)

def test_every_notebook_is_a_case():
    "The cases are the notebooks `nbdev_test` runs, none left out (a stale list would skip a chapter silently)."
    assert len(NBS) >= 10 and {nb.stem for nb in NBS} >= {'index', '00_core', '04_callback', '12_experiments'}, NBS
    assert all(globals()[f'Test_{nb.stem}'].notebook == nb for nb in NBS)
