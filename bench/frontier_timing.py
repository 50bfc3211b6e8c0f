"""Training time of the frontier's methods at the frontier's budget, timed one process at a time and interleaved.

The studies' own training seconds were taken beside other work, so they contradict each other (sensible vs PGD-AT:
28 s vs 65 s in the demo, 317 s vs 238 s and 73 s vs 357 s in two runs of one study). Here one process trains each
configuration of `FRONTIER` and `FRONTIER_SCHEDULE` (nbs/12_experiments.ipynb) with exactly the frontier's arguments (`FRONTIER_BASE`, seed 0),
`--repeats` times; each repeat trains every configuration once, in an order rotated from one repeat to the next, so
a slow drift of the machine's load reaches every method alike. Nothing else should run meanwhile: the load average
before each training is recorded beside its time, so a reader can see whether that held.

    OMP_NUM_THREADS=1 python bench/frontier_timing.py [--configs natural pgd trades_b6 sense_c0.5] [--repeats 3]

Writes bench/results/frontier_timing.json: per configuration the seconds of each repeat, their median, minimum and
maximum; and each configuration's time over PGD-AT's (`pgd`), the median of the per-repeat ratios with their range.
`--smoke`: the same code path on the bundled digits (200 images, 1 epoch), the CPU twin the test suite runs.
"""
import argparse, json, os, platform, statistics, sys, tempfile, time, warnings
from pathlib import Path
warnings.filterwarnings('ignore')
import torch
import sensible_adv
from sensible_adv.core import atomic_write
from sensible_adv.runs import train
from sensible_adv.experiments import FRONTIER, FRONTIER_SCHEDULE, FRONTIER_BASE, _frontier_train_kw

CONFIGS = {**FRONTIER, **FRONTIER_SCHEDULE}   # the frontier's configurations and the schedule of c (section 6)

DEFAULT_CONFIGS = ('natural', 'pgd', 'trades_b6', 'sense_c0.5', 'sense_c0.3', 'sense_kl_c0.5', 'fat_t2', 'mart')
SMOKE = dict(dataset='digits', arch='digits_cnn', n_train=200, n_valid=50, epochs=1)
REFERENCE = 'pgd'

def train_seconds(name:str, folder:Path, smoke:bool) -> float:
    "Wall seconds of one frontier training of configuration `name` (seed 0) into `folder`, progress bars off."
    kw = {**_frontier_train_kw(name, 0, CONFIGS), **(SMOKE if smoke else {})}
    t = time.perf_counter()
    train(out=str(folder), quiet=True, device='cpu', **kw)
    return time.perf_counter() - t

def rotated(names:list, k:int) -> list:
    "`names` started at position `k` (mod its length): repeat k's order."
    k %= len(names)
    return names[k:] + names[:k]

def summary(seconds:dict, reference:str=REFERENCE) -> dict:
    "Per configuration: median, min and max seconds; and over `reference`, the median and range of the per-repeat ratios."
    out = {}
    for name, ts in seconds.items():
        row = dict(median=statistics.median(ts), min=min(ts), max=max(ts))
        if reference in seconds:
            ratios = [t / r for t, r in zip(ts, seconds[reference])]
            row.update(over_reference=statistics.median(ratios), over_reference_min=min(ratios), over_reference_max=max(ratios))
        out[name] = row
    return out

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--configs', nargs='+', default=list(DEFAULT_CONFIGS), help=f"configurations: {', '.join(CONFIGS)}")
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--smoke', action='store_true', help='digits, 200 images, 1 epoch (the CPU twin of the tests)')
    p.add_argument('--out', default='bench/results/frontier_timing.json')
    a = p.parse_args(argv)
    unknown = [c for c in a.configs if c not in CONFIGS]
    if unknown: p.error(f"--configs: unknown {unknown}; choose from {', '.join(CONFIGS)}")
    if a.repeats < 1: p.error(f'--repeats must be >= 1; got {a.repeats}')
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', 1)))
    seconds, load = {c: [] for c in a.configs}, {c: [] for c in a.configs}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.repeats):
            for name in rotated(a.configs, k):
                load[name].append(os.getloadavg()[0])
                seconds[name].append(train_seconds(name, Path(tmp)/f'{name}_{k}', a.smoke))
                print(f"repeat {k + 1}/{a.repeats} {name:<14} {seconds[name][-1]:7.1f} s (load before {load[name][-1]:.2f})", flush=True)
    res = dict(setup=dict(base=SMOKE if a.smoke else FRONTIER_BASE, smoke=a.smoke, repeats=a.repeats, threads=torch.get_num_threads(),
                          reference=REFERENCE, torch=torch.__version__, sensible_adv=sensible_adv.__version__,
                          machine=platform.machine(), cpus=os.cpu_count()),
               seconds=seconds, load_before=load, summary=summary(seconds))
    print(f"\n{'config':<14} {'median s':>9} {'min':>7} {'max':>7} {'/ PGD-AT':>9} {'range':>13}")
    for name, r in res['summary'].items():
        ratio = (f"{r['over_reference']:9.2f} {r['over_reference_min']:6.2f}-{r['over_reference_max']:<6.2f}"
                 if 'over_reference' in r else f"{'':>9} {'':>13}")
        print(f"{name:<14} {r['median']:9.1f} {r['min']:7.1f} {r['max']:7.1f} {ratio}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(a.out, json.dumps(res, indent=1))
    print(f'written: {a.out}')
    return res

if __name__ == '__main__': main()
