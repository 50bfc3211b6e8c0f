"""Shared test configuration: `--runtime-only`, and the docs site built once per session.

Two kinds of test files, and `--runtime-only`.

The *runtime* files below need only what a user's `pip install sensible_adv` gives (settings.ini `requirements`) and
pytest: they test the library as users run it (the command line, the fault handling, the data, the README's
examples). The other files need the development set (nbdev, nbconvert, ART, ...). `make test` runs all of them in
the pinned development environment; `make compat` builds an environment from the runtime requirements alone, with
the newest fastai and fastcore, and runs `pytest --runtime-only`, where every other file is reported as skipped,
with the reason, without being imported (their imports would fail there).

The docs tests share one build of the site, made by the command `make docs` runs (the `site` fixture).
"""
import fcntl, os, subprocess, sys
from pathlib import Path
import pytest

RUNTIME_TESTS = ('test_cli.py', 'test_data.py', 'test_ddp.py', 'test_faults.py', 'test_library.py', 'test_readme.py', 'test_runs.py', 'test_attacks.py',
                 'test_battery.py', 'test_fastai_ddp.py')

# `make mutate` (mutmut 3) runs pytest inside mutants/, with MUTANT_UNDER_TEST set, many times over: there only the
# fast files that test the core modules in-process are collected (the others take minutes, or run the package in a
# subprocess, where its mutants are not switched on).
MUTATION_TESTS = ('test_bugs.py', 'test_cuda.py', 'test_crosscheck.py', 'test_runs.py', 'test_wrappers.py', 'test_attacks.py')
if 'MUTANT_UNDER_TEST' in os.environ:
    collect_ignore = [p.name for p in Path(__file__).parent.glob('test_*.py') if p.name not in MUTATION_TESTS]

def pytest_addoption(parser):
    parser.addoption('--runtime-only', action='store_true',
                     help=f"run only the tests that need no development tools ({', '.join(RUNTIME_TESTS)}); skip the others")

class DevOnlyFile(pytest.File):
    "A test file that needs the development set: not imported; one skipped item that says why."
    def collect(self): yield DevOnlySkip.from_parent(self, name=self.path.name)

class DevOnlySkip(pytest.Item):
    "The skipped stand-in for a development-set test file."
    def runtest(self):
        pytest.skip(f"{self.path.name} needs the development set (nbdev, nbconvert, ART, ...), which a runtime-only "
                    "environment lacks; `make test` runs it")
    def reportinfo(self): return self.path, 0, self.name

def pytest_pycollect_makemodule(module_path, parent):
    "Under `--runtime-only`, stand in for every test module that is not a runtime one."
    if parent.config.getoption('--runtime-only') and module_path.name not in RUNTIME_TESTS:
        return DevOnlyFile.from_parent(parent, path=module_path)

# `make test` hands whole files to 2 pytest-xdist workers in collection order (`--dist loadfile --no-loadscope-reorder`):
# the files that take longest come first, so that the two workers end together instead of one long file running alone
# at the end. test_browser.py is first of all: it builds the docs site (the `site` fixture, one process), which
# test_docs.py, later in the order, then finds built instead of waiting for it. Any other file follows in name order;
# a stale entry costs time only.
LONGEST_FIRST = ('test_browser.py', 'test_ddp.py', 'test_faults.py', 'test_runs.py', 'test_cli.py', 'test_docs.py',
                 'test_crosscheck.py', 'test_pipelines.py', 'test_battery.py', 'test_bench_timing.py', 'test_wrappers.py',
                 'test_notebook_runner.py')

def pytest_collection_modifyitems(config, items):
    "Items of the files in `LONGEST_FIRST` first, in its order; within a file, as collected."
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # a stable sort

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='session')
def site(tmp_path_factory):
    """Build the docs with `tools/build_docs.py` into `_site_local/` (what `make docs` makes); returns (proc dir, site dir).

    The tests check the very folder a person opens, and leave it there, built; nbdev's processing writes `_proc/`
    in the checkout whatever the output folder is. nbdev's processing runs in this one process (`--n_workers 0`): each
    of its worker processes would import the library again (about 10 s each on this machine), for no shorter build,
    while the other pytest worker uses the second core."""
    out = ROOT/'_site_local'
    # under pytest-xdist (`make test`) each worker has a session of its own: the first to get here builds, the
    # others wait on the lock and find it built (two builds at once would delete each other's `_proc/` files)
    shared = _shared_tmp(tmp_path_factory)
    with open(shared/'site.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared/'site.built').exists():
            r = subprocess.run([sys.executable, 'tools/build_docs.py', '--out', str(out), '--n_workers', '0'], cwd=ROOT,
                               capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, f"docs build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
            (shared/'site.log').write_text(r.stdout + r.stderr)
            (shared/'site.built').write_text('ok')
    return ROOT/'_proc', out

def _shared_tmp(tmp_path_factory):
    "The folder every pytest-xdist worker of this session sees (one session: its own base folder)."
    return tmp_path_factory.getbasetemp().parent if os.environ.get('PYTEST_XDIST_WORKER') else tmp_path_factory.getbasetemp()

@pytest.fixture(scope='session')
def site_log(site, tmp_path_factory):
    "What the docs build printed (its stdout, then its stderr)."
    return (_shared_tmp(tmp_path_factory)/'site.log').read_text()


# ---- the command line in this process (test_cli, test_faults)

def cli_in_process(*args):
    "`sensible_adv ARGS` in this process (`sensible_adv.cli.main`): its exit status, stdout and stderr, as `subprocess.run` returns them."
    import io
    from contextlib import redirect_stderr, redirect_stdout
    from types import SimpleNamespace
    from sensible_adv.cli import main
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code          # argparse's own exits (--help, refusals)
    return SimpleNamespace(returncode=rc, stdout=out.getvalue(), stderr=err.getvalue())

@pytest.fixture
def bars_as_found(monkeypatch):
    "`main` turns fastprogress's bars off for a non-terminal stdout (a process-wide switch): put it back after the test."
    import fastprogress.fastprogress as fp
    monkeypatch.setattr(fp, 'NO_BAR', fp.NO_BAR)
