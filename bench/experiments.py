"""Run the CPU-scale studies of nbs/12_experiments.ipynb from the shell, one study per process if you like:

    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py fmnist_cpu &
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py sensitivity_c capacity mnist_paper &
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py frontier      # section 5, the longest (`make studies`: all)

Each study resumes where it stopped (finished runs and reports are reused). Results go to nbs/results/<study>.json,
the files the notebook's tables read; run folders to runs/<study>/. The notebook's `study` cells run the same calls.
On a 2-core machine give each process one thread: two processes with two threads each slow both down many times.
"""
import sys
from pathlib import Path
from sensible_adv.experiments import *

STUDIES = {'fmnist_cpu': (FMNIST_RUNS, FMNIST_EVALS), 'sensitivity_c': (SENSITIVITY_RUNS, SENSITIVITY_EVALS),
           'capacity': (CAPACITY_RUNS, CAPACITY_EVALS), 'mnist_paper': (MNIST_PAPER_RUNS, MNIST_PAPER_EVALS)}

if __name__ == '__main__':
    names = sys.argv[1:] or [*STUDIES, 'frontier']
    unknown = [n for n in names if n not in STUDIES and n != 'frontier']
    if unknown: sys.exit(f"unknown study {unknown}; choose from {[*STUDIES, 'frontier']}")
    repo = Path(__file__).resolve().parent.parent
    (repo/'runs').mkdir(exist_ok=True)
    log = lambda m: (print(m, flush=True), open(repo/'runs'/'experiments.log', 'a').write(m + '\n'))
    for n in names:
        if n == 'frontier': run_frontier(repo/'runs'/'frontier', repo/'nbs'/'results', log=log); continue
        runs, evals = STUDIES[n]
        run_study(n, runs, evals, root=repo/'runs', out=repo/'nbs'/'results', log=log)
