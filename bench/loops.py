"""Shared pieces of the training benchmarks (`bench/train.py` on CPU, `bench/gpu.py` on CUDA): the digits data, a short
natural pre-training, fixed batches, mixed precision for both loops, and the two loops being compared: a minimal
hand-written PyTorch training step and a fastai `Learner` with a callback, each timed over a fixed number of batches
after warm-up batches (the device synchronised at both ends of the timed span)."""
import time
from contextlib import nullcontext
import torch, torch.nn.functional as F
from fastai.basics import Learner, Callback, DataLoaders, CancelFitException, CrossEntropyLossFlat
from fastai.callback.fp16 import MixedPrecision
from fastai.data.load import DataLoader
from sensible_adv.data import load_digits_arrays

PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}

def digits(size:int=28, channels:int=1, device='cpu'):
    "scikit-learn's 1,797 digits as float images in [0, 1], upsampled (bilinear) to `size`, repeated to `channels`; and labels."
    x, y = load_digits_arrays()
    x = F.interpolate(torch.tensor(x, dtype=torch.float32) / 16, size=size, mode='bilinear', align_corners=False).clamp(0, 1)
    return x.repeat(1, channels, 1, 1).to(device), torch.tensor(y).to(device)

def sync(device):
    "Wait for the device's queued work (CUDA runs asynchronously: a clock read without this times the launches only)."
    if torch.device(device).type == 'cuda': torch.cuda.synchronize(device)

def autocast(device, precision:str='fp32'):
    "The autocast context of `precision` on `device`'s type ('fp32': none)."
    dtype = PRECISIONS[precision]
    return nullcontext() if dtype is None else torch.autocast(torch.device(device).type, dtype=dtype)

def grad_scaler(device, precision:str='fp32'):
    "A loss scaler, enabled for fp16 only (bf16 has fp32's range; disabled, `scale`/`step` pass through)."
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == 'fp16')

class CPUAutocast(Callback):
    "fastai's `MixedPrecision` for CPU, bf16 only (fastai's own enters CUDA autocast, which does nothing to CPU tensors)."
    order = MixedPrecision.order     # like it: before the adversarial callbacks (order 12), so the attack runs under autocast
    def before_batch(self): self.ac = torch.autocast('cpu', dtype=torch.bfloat16); self.ac.__enter__()
    def after_pred(self): self.learn.pred = self.pred.float()
    def after_loss(self): self.ac.__exit__(None, None, None)

def precision_callbacks(device, precision:str='fp32') -> list:
    "The fastai callbacks that train in `precision` on `device`: `MixedPrecision` on CUDA, `CPUAutocast` (bf16) on CPU."
    if precision == 'fp32': return []
    if torch.device(device).type == 'cuda': return [MixedPrecision(amp_mode=precision)]
    if precision == 'bf16': return [CPUAutocast()]
    raise ValueError(f"{precision} autocast is measured on CUDA only")

def pretrain(model, x, y, epochs:int=2, bs:int=128, lr:float=1e-3, precision:str='fp32'):
    "Natural training with Adam over `(x, y)` in order: makes the model confident, so the sensible search has work to do."
    opt = torch.optim.Adam(model.parameters(), lr)
    scaler = grad_scaler(x.device, precision)
    model.train()
    for _ in range(epochs):
        for i in range(0, len(y), bs):
            with autocast(x.device, precision): loss = F.cross_entropy(model(x[i:i+bs]).float(), y[i:i+bs])
            opt.zero_grad(); scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    return model

def batches(x, y, bs:int, n:int, seed:int=1) -> list:
    "`n` batches of `bs` examples, from successive seeded shuffles of `(x, y)` (each example once per shuffle)."
    g = torch.Generator().manual_seed(seed)
    need = -(-n * bs // len(y))
    idx = torch.cat([torch.randperm(len(y), generator=g) for _ in range(need)]).to(x.device)
    return [(x[idx[i*bs:(i+1)*bs]], y[idx[i*bs:(i+1)*bs]]) for i in range(n)]

def hand_loop(model, bs:list, opt, attack=None, precision:str='fp32', warmup:int=0) -> float:
    """The training step written by hand: examples from `attack(model, x, y)` (it puts the model in eval mode with frozen
    parameters and restores it), then a train-mode update on them. Seconds for the batches after the first `warmup`."""
    dev = bs[0][0].device
    scaler = grad_scaler(dev, precision)
    t = time.perf_counter()
    for i, (xb, yb) in enumerate(bs):
        if i == warmup: sync(dev); t = time.perf_counter()
        with autocast(dev, precision):           # as under `MixedPrecision`: the attack runs under autocast too
            x_in = xb if attack is None else attack(model, xb, yb)
            model.train()
            loss = F.cross_entropy(model(x_in).float(), yb)
        opt.zero_grad(); scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    sync(dev)
    return time.perf_counter() - t

class Timer(Callback):
    "Times the training batches after the first `warmup` (device synchronised at both ends); stops the fit before validation."
    order = -20                       # its `before_batch` runs before every other callback's (the attack's included)
    def __init__(self, warmup:int=0): self.warmup = warmup
    def before_train(self):
        self.n, self.elapsed = 0, None
        if self.warmup == 0: self._start()
    def before_batch(self):
        if self.iter == self.warmup and self.warmup > 0: self._start()
    def _start(self): sync(self.dls.device or 'cpu'); self.t = time.perf_counter()
    def after_batch(self): self.n += 1
    def after_train(self): sync(self.dls.device or 'cpu'); self.elapsed = time.perf_counter() - self.t
    def before_validate(self): raise CancelFitException()     # no validation: every callback's `after_train` has run

class SeedFirstBatch(Callback):
    """Seed torch (CPU and CUDA) just before the first batch. Creating the loader's iterator draws from torch's generator,
    so without this the attack's random starts in a `Learner` differ from the hand-written loop's (seeded at its start)."""
    order = Timer.order - 20
    def __init__(self, seed:int=0): self.seed = seed
    def before_batch(self):
        if self.iter == 0: torch.manual_seed(self.seed)

def fastai_loop(model, bs:list, cbs:list, opt_func, lr:float=1e-3, warmup:int=0) -> float:
    "Train `model` one pass over the pre-made batches `bs` (in order) with a fastai `Learner`, bar and logging off: timed seconds."
    dev = bs[0][0].device
    dl = DataLoader(bs, bs=None, shuffle=False, device=dev)
    timer = Timer(warmup)
    learn = Learner(DataLoaders(dl, dl, device=dev), model, loss_func=CrossEntropyLossFlat(), opt_func=opt_func,
                    cbs=[c for c in cbs if c is not None] + [timer])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, lr)
    assert timer.n == len(bs), (timer.n, len(bs))
    return timer.elapsed
