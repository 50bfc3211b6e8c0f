#!/usr/bin/env python
"""Run every notebook on its own, in a fresh process, a few at a time (dev tool, not part of the library).

`nbdev_test --n_workers N` runs the notebooks in a pool of worker processes that are reused, so a notebook can pass
only because another one ran earlier in the same process and imported something for it (the README's example once
passed that way, and failed for every user). Here each notebook gets its own `nbdev_test --path NB --n_workers 0`
process, as a reader who opens just that notebook gets. It prints one line per notebook with its time, then the
failed notebooks with the end of their output, and exits 1 if any failed.

Each process runs with one torch thread: two processes with two threads each on two cores oversubscribe the CPU,
and OpenMP's spinning threads then make torch code tens of times slower (measured: 23 s -> 760 s for one notebook).

Usage: test_notebooks.py [--jobs 2] [--flags "slow cross"] [--nbdev-test PATH] [NOTEBOOK ...]
"""
import argparse, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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

def run_one(nb:Path, nbdev_test:str, flags:str='') -> tuple:
    "Test notebook `nb` in a fresh process; returns (notebook, passed, seconds, output)."
    cmd = [nbdev_test, '--path', str(nb), '--n_workers', '0'] + (['--flags', flags] if flags else [])
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return nb, r.returncode == 0, time.perf_counter() - t0, r.stdout + r.stderr

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('notebooks', nargs='*', type=Path, help='notebooks to test (default: every notebook in nbs/)')
    p.add_argument('--jobs', type=int, default=2, help='notebooks tested at the same time')
    p.add_argument('--flags', default='', help="nbdev_test --flags: run the cells carrying these flags too (e.g. 'slow cross')")
    p.add_argument('--nbdev-test', default=str(Path(sys.executable).parent/'nbdev_test'), help='the nbdev_test to run')
    a = p.parse_args(argv)
    if a.jobs < 1: p.error(f'--jobs must be at least 1; got {a.jobs}')
    nbs = longest_first([n.resolve() for n in a.notebooks] or notebooks())
    missing = [str(n) for n in nbs if not n.is_file()]
    if missing: p.error(f"no such notebook: {', '.join(missing)}")
    t0, failed = time.perf_counter(), []
    print(f"testing {len(nbs)} notebooks, each in a fresh process, {a.jobs} at a time" + (f" (flags: {a.flags})" if a.flags else ''), flush=True)
    with ThreadPoolExecutor(a.jobs) as pool:
        for fut in as_completed([pool.submit(run_one, nb, a.nbdev_test, a.flags) for nb in nbs]):
            nb, ok, secs, out = fut.result()
            print(f"  {'ok  ' if ok else 'FAIL'} {secs:6.0f} s  {nb.relative_to(ROOT)}", flush=True)
            if not ok: failed.append((nb, out))
    wall = time.perf_counter() - t0
    for nb, out in failed:
        print(f"\n===== {nb.relative_to(ROOT)} failed; the end of its output:\n" + '\n'.join(out.strip().splitlines()[-40:]))
    if failed:
        print(f"\nFAIL: {len(failed)} of {len(nbs)} notebooks failed on their own: "
              + ', '.join(str(nb.relative_to(ROOT)) for nb, _ in failed) + f" ({wall:.0f} s)")
        return 1
    print(f"ok: all {len(nbs)} notebooks pass, each alone in a fresh process ({wall:.0f} s)")
    return 0

if __name__ == '__main__': sys.exit(main())
