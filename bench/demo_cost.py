"""What `make demo` costs: the wall time of its command, `sensible_adv demo`, run `--repeats` times in new processes.

The README once gave one figure (5.6 minutes), taken once beside other work; the same demo later took 11 and 14
minutes on a loaded machine. Here the command `make demo` runs is timed as a user runs it (a new process: imports,
data, four trainings, evaluation, report), each repeat into a folder of its own, with the CPU time that the rest of the
machine used meanwhile recorded beside its time, so a reader sees whether the machine was quiet. Nothing else should run meanwhile.

    python bench/demo_cost.py [--repeats 3] [--dataset auto]

Writes bench/results/demo_cost.json: the seconds of each repeat (the whole process, and the demo's own
`wall_seconds` from its results.json, which leaves out start-up), their median, minimum and maximum, the load
averages before each run, the CPU seconds that other processes used during each (how quiet the machine was), the
data used and the machine. `--smoke`: the same code path on the bundled digits at a tiny budget (what
the test suite runs).
"""
import argparse, json, os, platform, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from sensible_adv.core import atomic_write

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ('--dataset', 'digits', '--epochs', '1', '--n-train', '128', '--n-valid', '40')

def demo_command(out:Path, dataset:str='auto', smoke:bool=False) -> list:
    "The command `make demo` runs (the `sensible_adv` script beside this Python), writing its report into `out`."
    script = Path(sys.executable).parent/'sensible_adv'
    return [str(script), 'demo', '--out', str(out), '--quiet'] + (list(SMOKE) if smoke else ['--dataset', dataset])

def busy_cpu_seconds() -> float|None:
    "CPU seconds the whole machine has spent busy since boot (Linux's /proc/stat: all but idle and iowait); None elsewhere."
    try: fields = [int(v) for v in Path('/proc/stat').read_text().split('\n')[0].split()[1:]]
    except (OSError, ValueError): return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf('SC_CLK_TCK')   # user..steal, less idle and iowait

def children_cpu_seconds() -> float:
    "CPU seconds of this process's finished children (user + system)."
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def time_demo(out:Path, dataset:str='auto', smoke:bool=False) -> dict:
    """One demo in a new process: its wall and CPU seconds, the demo's own `wall_seconds`, its data, the load average
    before it, and `other_cpu_seconds`: what the rest of the machine used meanwhile (near 0 on a quiet machine)."""
    load, busy, own = os.getloadavg()[0], busy_cpu_seconds(), children_cpu_seconds()
    t = time.perf_counter()
    r = subprocess.run(demo_command(out, dataset, smoke), cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t
    cpu, busy_after = children_cpu_seconds() - own, busy_cpu_seconds()
    if r.returncode != 0: raise SystemExit(f"the demo failed (exit status {r.returncode}):\n{r.stderr[-3000:]}")
    res = json.loads((out/'results.json').read_text())
    return dict(seconds=secs, cpu_seconds=cpu, demo_wall_seconds=res['wall_seconds'], dataset=res['dataset'], load_before=load,
                other_cpu_seconds=None if busy is None else max(busy_after - busy - cpu, 0.))

def summary(values:list) -> dict:
    "Median, minimum and maximum of `values`."
    return dict(median=statistics.median(values), min=min(values), max=max(values))

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--dataset', default='auto', help="the demo's --dataset (default: auto, as `make demo`)")
    p.add_argument('--smoke', action='store_true', help='digits at a tiny budget (the CPU twin of the tests)')
    p.add_argument('--out', default=str(ROOT/'bench/results/demo_cost.json'))
    a = p.parse_args(argv)
    if a.repeats < 1: p.error(f'--repeats must be >= 1; got {a.repeats}')
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.repeats):
            runs.append(time_demo(Path(tmp)/f'demo_{k}', a.dataset, a.smoke))
            r = runs[-1]
            other = '' if r['other_cpu_seconds'] is None else f", other processes {r['other_cpu_seconds']:.0f} CPU s meanwhile"
            print(f"repeat {k + 1}/{a.repeats}: {r['seconds']:6.0f} s ({r['seconds'] / 60:.1f} min; the demo's own "
                  f"{r['demo_wall_seconds']:.0f} s; {r['cpu_seconds']:.0f} CPU s) on {r['dataset']}, load before {r['load_before']:.2f}{other}", flush=True)
    datasets = sorted({r['dataset'] for r in runs})
    res = dict(command=' '.join(['sensible_adv'] + demo_command(Path('OUT'), a.dataset, a.smoke)[1:]), smoke=a.smoke,
               dataset=datasets[0] if len(datasets) == 1 else datasets, repeats=a.repeats, runs=runs,
               seconds=summary([r['seconds'] for r in runs]), load_before=summary([r['load_before'] for r in runs]),
               other_cpu_seconds=None if None in (o := [r['other_cpu_seconds'] for r in runs]) else summary(o),
               machine=dict(cpus=os.cpu_count(), machine=platform.machine(), python=platform.python_version()))
    s = res['seconds']
    print(f"median {s['median']:.0f} s ({s['median'] / 60:.1f} min), range {s['min']:.0f}-{s['max']:.0f} s over {a.repeats}; "
          f"load before {res['load_before']['min']:.2f}-{res['load_before']['max']:.2f} on {os.cpu_count()} CPUs"
          + ('' if o is None else f"; other processes used at most {max(o):.0f} CPU s during a run"))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(a.out, json.dumps(res, indent=1))
    print(f'written: {a.out}')
    return res

if __name__ == '__main__': main()
