"""Run the CPU-scale studies of nbs/12_experiments.ipynb from the shell, one study per process if you like:

    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py fmnist_cpu &
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py sensitivity_c capacity mnist_paper &
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py frontier      # section 5, the longest (`make studies`: all)
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py frontier_4x --part 0/2 &   # section 6, in two processes
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py frontier_4x --part 1/2 &
    OMP_NUM_THREADS=1 .venv/bin/python bench/experiments.py c_schedule_holdout frontier_schedule   # section 6: the schedule of c

`--train-only` trains a frontier's missing models and leaves their evaluation to a later call. Training saves a
checkpoint each epoch, but an evaluation resumes only from its last finished batch (AutoAttack on 256 images of a
robust model takes over two hours on one core): when a machine's time runs out soon, train; evaluate when it has hours.

Each study resumes where it stopped (finished runs and reports are reused). Results go to nbs/results/<study>.json,
the files the notebook's tables read; run folders to runs/<study>/. The notebook's `study` cells run the same calls.
On a 2-core machine give each process one thread: two processes with two threads each slow both down many times.
"""
import sys
from pathlib import Path
from sensible_adv.experiments import *

STUDIES = {'fmnist_cpu': (FMNIST_RUNS, FMNIST_EVALS), 'sensitivity_c': (SENSITIVITY_RUNS, SENSITIVITY_EVALS),
           'capacity': (CAPACITY_RUNS, CAPACITY_EVALS), 'mnist_paper': (MNIST_PAPER_RUNS, MNIST_PAPER_EVALS)}

FRONTIERS = {'frontier': (FRONTIER, FRONTIER_BASE), 'frontier_schedule': (FRONTIER_SCHEDULE, FRONTIER_BASE),
             'frontier_4x': (FRONTIER_4X, FRONTIER_4X_BASE)}

if __name__ == '__main__':
    args = sys.argv[1:]
    part = (0, 1)
    if '--part' in args:     # `--part k/n`: the frontiers' every n-th model from the k-th, for n processes side by side
        i = args.index('--part'); k, n = map(int, args[i + 1].split('/')); part = (k, n); del args[i:i + 2]
    train_only = '--train-only' in args
    if train_only: args.remove('--train-only')
    names = args or [*STUDIES, 'c_schedule_holdout', *FRONTIERS]
    unknown = [n for n in names if n not in STUDIES and n not in FRONTIERS and n != 'c_schedule_holdout']
    if train_only and (others := [n for n in names if n not in FRONTIERS]):
        sys.exit(f"--train-only applies to the frontiers {[*FRONTIERS]}, not to {others}")
    if unknown: sys.exit(f"unknown study {unknown}; choose from {[*STUDIES, 'c_schedule_holdout', *FRONTIERS]}")
    repo = Path(__file__).resolve().parent.parent
    (repo/'runs').mkdir(exist_ok=True)
    log = lambda m: (print(m, flush=True), open(repo/'runs'/'experiments.log', 'a').write(m + '\n'))
    for n in names:
        if n == 'c_schedule_holdout': select_on_holdout(out=repo/'nbs'/'results', log=log); continue
        if n in FRONTIERS:
            configs, base = FRONTIERS[n]
            run_frontier(repo/'runs'/n, repo/'nbs'/'results', part=part, configs=configs, base=base, study=n,
                         evaluate=not train_only, log=log); continue
        runs, evals = STUDIES[n]
        run_study(n, runs, evals, root=repo/'runs', out=repo/'nbs'/'results', log=log)
