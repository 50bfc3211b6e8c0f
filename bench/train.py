"""Training throughput: sensible adversarial training through fastai vs a minimal hand-written PyTorch loop, and
natural / PGD-AT / TRADES / sensible images per second through fastai.

Data and model: scikit-learn's 1,797 digits upsampled to 28x28 (bilinear, pixels in [0, 1]), TRADES' SmallCNN
(312k parameters), batch size 128, eps 0.1, step 0.025, K = 10, c = 0.5 (adaptive). The model is first trained
naturally for 2 epochs so that the sensible search has confidently-classified examples to work on (an untrained
model has p(y|x) < c everywhere: every example would freeze at the start and the benchmark would time nothing).
Both loops start from the same weights and see the same batches (same order); each timing is the median of
`--repeats` runs of `--batches` training batches. The fastai figure is the time from `before_train` to
`after_train` (no validation), with the progress bar and logging off, and the callback's statistics on (as users run it).

    python bench/train.py [--batches 12] [--repeats 3] [--threads 2]
Writes bench/results/train.json.
"""
import argparse, copy, json, os, platform, statistics, sys, time, warnings
warnings.filterwarnings('ignore')
import torch
from sensible_adv.core import seed_everything
from sensible_adv.models import SmallCNN
from sensible_adv.sensible import SensibleAdversary
from sensible_adv.callback import SensibleAdversarialTraining, AdversarialTraining, TRADES
from loops import digits, pretrain, batches, hand_loop, fastai_loop     # bench/loops.py: shared with bench/gpu.py

EPS, STEP, K, C, BS = 0.1, 0.025, 10, 0.5, 128

def pretrained(x, y):
    seed_everything(0)
    return pretrain(SmallCNN(), x, y, epochs=2, bs=BS)

def hand_sensible(model, bs):
    "The same training step, written by hand: sensible examples (eval mode, frozen params), then a train-mode update."
    return hand_loop(model, bs, torch.optim.Adam(model.parameters(), 1e-3), SensibleAdversary(EPS, STEP, K, C, validate=False))

def _adam(params, lr): from fastai.optimizer import Adam; return Adam(params, lr)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batches', type=int, default=12); p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2); p.add_argument('--out', default='bench/results/train.json')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, y = digits(28); base = pretrained(x, y); bs = batches(x, y, BS, a.batches)
    n_img = a.batches * BS
    methods = {'natural': lambda: None,
               'pgd_at': lambda: AdversarialTraining(EPS, STEP, K),
               'trades': lambda: TRADES(6., EPS, STEP, K),
               'sensible': lambda: SensibleAdversarialTraining(EPS, STEP, K, C, warmup=0)}
    times = {'hand_sensible': [], **{m: [] for m in methods}}
    fastai_loop(copy.deepcopy(base), bs[:2], [], _adam); hand_sensible(copy.deepcopy(base), bs[:2])   # warm-up
    for r in range(a.repeats):
        seed_everything(r); times['hand_sensible'].append(hand_sensible(copy.deepcopy(base), bs))
        for m, mk in methods.items():
            seed_everything(r); times[m].append(fastai_loop(copy.deepcopy(base), bs, [mk()], _adam))
    med = {k: statistics.median(v) for k, v in times.items()}
    ips = {k: n_img / v for k, v in med.items()}
    ratio = ips['sensible'] / ips['hand_sensible']
    rows = [('sensible, hand-written PyTorch loop', 'hand_sensible')] + [(f'{m}, fastai Learner', m) for m in methods]
    print(f"{a.batches} batches of {BS} (digits 28x28, SmallCNN, eps {EPS}, K {K}), {a.threads} threads, median of {a.repeats}")
    print(f"{'loop':40s} {'s':>8s} {'img/s':>9s}")
    for name, k in rows: print(f"{name:40s} {med[k]:8.3f} {ips[k]:9.1f}")
    print(f"fastai / hand-written throughput (sensible): {ratio:.3f} (target >= 0.95)")
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(dict(setup=dict(data='sklearn digits upsampled to 28x28', model='SmallCNN', batch_size=BS, batches=a.batches,
                              eps=EPS, step=STEP, steps=K, c=C, threads=a.threads, repeats=a.repeats,
                              torch=torch.__version__, machine=platform.processor() or platform.machine()),
                   seconds=times, median_seconds=med, images_per_second=ips, fastai_over_hand_sensible=ratio),
              open(a.out, 'w'), indent=1)

if __name__ == '__main__': main()
