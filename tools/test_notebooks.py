#!/usr/bin/env python
"""Run every notebook on its own, in a process of its own, a few at a time (dev tool, not part of the library).

`nbdev_test --n_workers N` runs the notebooks in a pool of worker processes that are reused, so a notebook can pass
only because another one ran earlier in the same process and imported something for it (the README's example once
passed that way, and failed for every user). Here each notebook gets a process of its own, which runs exactly what
`nbdev_test --path NB --n_workers 0` runs for it (`nbdev.test.test_nb`, with the project's `tst_flags` skipped). It
prints one line per notebook with its time, then the failed notebooks with the end of their output, and exits 1 if
any failed.

Two ways to start that process:
- by default each one is forked from this process after it has imported the third-party libraries in `PRELOAD`,
  which every notebook would import anyway (about 8 s of each notebook's time on the 2-core machine). None of them
  is ours or fastai: fastai's imports patch other libraries' classes, and a notebook that forgot one of its imports
  could then pass. The notebook's namespace is new, and every module of this project and of fastai is imported by
  the notebook itself, as for a reader;
- `--fresh`: each one is a new `nbdev_test --path NB --n_workers 0` process, imports and all, exactly as a reader
  who opens just that notebook gets. `make test-slow` (which CI runs too) tests this way.

Each process runs with one torch thread: two processes with two threads each on two cores oversubscribe the CPU,
and OpenMP's spinning threads then make torch code tens of times slower (measured: 23 s -> 760 s for one notebook).

Usage: test_notebooks.py [--jobs 2] [--flags "slow cross"] [--fresh] [--nbdev-test PATH] [NOTEBOOK ...]
"""
import argparse, importlib, os, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Third-party libraries imported once, before the forks (see the docstring for why none of this project or fastai)
PRELOAD = ('numpy', 'pandas', 'matplotlib', 'scipy.stats', 'torch', 'torchvision', 'nbdev.test')

# The longest notebooks alone on 2 cores (tens of seconds each; the others take under 25 s): started first, so that the
# jobs end together instead of one long notebook running alone at the end. A stale entry costs time, never a test.
LONGEST_FIRST = ('04_callback', '07_evaluate', '12_experiments', '01_theory')

def notebooks(folder:Path=ROOT/'nbs') -> list:
    "The notebooks `nbdev_test` would run: every `.ipynb` under `folder`, except names starting with `_` or `.`."
    return sorted(p for p in folder.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(folder).parts))

def longest_first(nbs:list) -> list:
    "`nbs` with those named in `LONGEST_FIRST` first, in its order, then the others as given."
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    return sorted(nbs, key=lambda nb: rank.get(nb.stem, len(rank)))

def shown(nb:Path) -> str:
    "`nb` as printed: relative to the repository where it lies in it."
    return str(nb.relative_to(ROOT)) if nb.is_relative_to(ROOT) else str(nb)

def test_in_this_process(nb:Path, flags:str='') -> bool:
    "What `nbdev_test --path NB --n_workers 0 [--flags FLAGS]` does for one notebook: `test_nb` from the notebooks' folder."
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.test import test_nb
    cfg = get_config(path=ROOT)
    with working_directory(cfg.nbs_path):
        ok, _ = test_nb(nb, skip_flags=cfg.tst_flags.split(), force_flags=flags.split(), basepath=cfg.config_path)
    return ok

def start(nb:Path, log:Path, flags:str='', fresh:bool=False, nbdev_test:str='nbdev_test') -> int:
    "Fork a child that tests `nb` with its output in `log` (`fresh`: the child runs a new `nbdev_test` instead); its pid."
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid: return pid
    code = 1
    try:  # the child: never returns
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1); os.dup2(fd, 2); os.close(fd)
        os.chdir(ROOT)
        if fresh: os.execv(nbdev_test, [nbdev_test, '--path', str(nb), '--n_workers', '0'] + (['--flags', flags] if flags else []))
        code = 0 if test_in_this_process(nb, flags) else 1
    except BaseException: traceback.print_exc()
    finally:
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)

def run_all(nbs:list, jobs:int=2, flags:str='', fresh:bool=False, nbdev_test:str='nbdev_test') -> list:
    "Test `nbs`, `jobs` at a time, printing a line as each ends; returns the failed ones as (notebook, its output)."
    queue, running, failed = list(nbs), {}, []
    with tempfile.TemporaryDirectory() as logs:
        while queue or running:
            while queue and len(running) < jobs:
                nb = queue.pop(0); log = Path(logs)/f'{len(queue)}.log'
                running[start(nb, log, flags, fresh, nbdev_test)] = nb, log, time.perf_counter()
            pid, status = os.wait()
            if pid not in running: continue
            nb, log, t0 = running.pop(pid)
            ok = os.waitstatus_to_exitcode(status) == 0
            print(f"  {'ok  ' if ok else 'FAIL'} {time.perf_counter() - t0:6.0f} s  {shown(nb)}", flush=True)
            if not ok: failed.append((nb, log.read_text(errors='replace')))
    return failed

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*', type=Path, help='notebooks to test (default: every notebook in nbs/)')
    p.add_argument('--jobs', type=int, default=2, help='notebooks tested at the same time')
    p.add_argument('--flags', default='', help="nbdev_test --flags: run the cells carrying these flags too (e.g. 'slow cross')")
    p.add_argument('--fresh', action='store_true', help='a new nbdev_test process per notebook, importing everything itself')
    p.add_argument('--nbdev-test', default=str(Path(sys.executable).parent/'nbdev_test'), help='the nbdev_test that --fresh runs')
    a = p.parse_args(argv)
    if a.jobs < 1: p.error(f'--jobs must be at least 1; got {a.jobs}')
    nbs = longest_first([n.resolve() for n in a.notebooks] or notebooks())
    missing = [str(n) for n in nbs if not n.is_file()]
    if missing: p.error(f"no such notebook: {', '.join(missing)}")
    if a.fresh and not os.access(a.nbdev_test, os.X_OK): p.error(f'--nbdev-test {a.nbdev_test} is not an executable')
    for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ[v] = '1'  # before torch is imported, here or in a child
    t0 = time.perf_counter()
    how = 'a new nbdev_test process' if a.fresh else f"a process forked after importing {', '.join(PRELOAD)}"
    print(f"testing {len(nbs)} notebooks, each in {how}, {a.jobs} at a time" + (f" (flags: {a.flags})" if a.flags else ''), flush=True)
    if not a.fresh:
        for m in PRELOAD: importlib.import_module(m)
    failed = run_all(nbs, a.jobs, a.flags, a.fresh, a.nbdev_test)
    wall = time.perf_counter() - t0
    for nb, out in failed:
        print(f"\n===== {shown(nb)} failed; the end of its output:\n" + '\n'.join(out.strip().splitlines()[-40:]))
    if failed:
        print(f"\nFAIL: {len(failed)} of {len(nbs)} notebooks failed on their own: "
              + ', '.join(shown(nb) for nb, _ in failed) + f" ({wall:.0f} s)")
        return 1
    print(f"ok: all {len(nbs)} notebooks pass, each in a process of its own ({wall:.0f} s)")
    return 0

if __name__ == '__main__': sys.exit(main())
