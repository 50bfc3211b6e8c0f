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
import argparse, copy, json, math, os, platform, statistics, sys, time, warnings
warnings.filterwarnings('ignore')
import torch, torch.nn.functional as F
from torch import nn
from fastai.basics import Learner, Callback, DataLoaders, CancelFitException, CrossEntropyLossFlat
from fastai.data.load import DataLoader
from sensible_adv.core import seed_everything
from sensible_adv.data import load_digits_arrays
from sensible_adv.models import SmallCNN
from sensible_adv.sensible import SensibleAdversary
from sensible_adv.callback import SensibleAdversarialTraining, AdversarialTraining, TRADES

EPS, STEP, K, C, BS = 0.1, 0.025, 10, 0.5, 128

def data():
    x, y = load_digits_arrays()
    x = F.interpolate(torch.tensor(x, dtype=torch.float32) / 16, size=28, mode='bilinear', align_corners=False).clamp(0, 1)
    return x, torch.tensor(y)

def pretrained(x, y):
    seed_everything(0)
    m = SmallCNN()
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    for _ in range(2):
        for i in range(0, len(y), BS):
            loss = F.cross_entropy(m(x[i:i+BS]), y[i:i+BS]); opt.zero_grad(); loss.backward(); opt.step()
    return m

def batches(x, y, n):
    g = torch.Generator().manual_seed(1)
    idx = torch.randperm(len(y), generator=g)
    return [(x[idx[i*BS:(i+1)*BS]], y[idx[i*BS:(i+1)*BS]]) for i in range(n)]

def hand_loop(model, bs):
    "The same training step, written by hand: sensible examples (eval mode, frozen params), then a train-mode update."
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    attack = SensibleAdversary(EPS, STEP, K, C, validate=False)
    t = time.perf_counter()
    for xb, yb in bs:
        x_adv = attack(model, xb, yb)
        model.train()
        loss = F.cross_entropy(model(x_adv), yb)
        opt.zero_grad(); loss.backward(); opt.step()
    return time.perf_counter() - t

class _Timer(Callback):
    order = 100
    def before_train(self): self.n, self.t = 0, time.perf_counter()
    def after_batch(self): self.n += 1
    def after_train(self):
        self.elapsed = time.perf_counter() - self.t
        raise CancelFitException()                        # no validation

def fastai_loop(model, bs, cb):
    dl = DataLoader(bs, bs=None, shuffle=False)            # the pre-made batches, in order
    timer = _Timer()
    learn = Learner(DataLoaders(dl, dl), model, loss_func=CrossEntropyLossFlat(), opt_func=_adam,
                    cbs=[c for c in (cb, timer) if c is not None])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert timer.n == len(bs), (timer.n, len(bs))
    return timer.elapsed

def _adam(params, lr): from fastai.optimizer import Adam; return Adam(params, lr)

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batches', type=int, default=12); p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2); p.add_argument('--out', default='bench/results/train.json')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, y = data(); base = pretrained(x, y); bs = batches(x, y, a.batches)
    n_img = a.batches * BS
    methods = {'natural': lambda: None,
               'pgd_at': lambda: AdversarialTraining(EPS, STEP, K),
               'trades': lambda: TRADES(6., EPS, STEP, K),
               'sensible': lambda: SensibleAdversarialTraining(EPS, STEP, K, C, warmup=0)}
    times = {'hand_sensible': [], **{m: [] for m in methods}}
    fastai_loop(copy.deepcopy(base), bs[:2], None); hand_loop(copy.deepcopy(base), bs[:2])   # warm-up
    for r in range(a.repeats):
        seed_everything(r); times['hand_sensible'].append(hand_loop(copy.deepcopy(base), bs))
        for m, mk in methods.items():
            seed_everything(r); times[m].append(fastai_loop(copy.deepcopy(base), bs, mk()))
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
