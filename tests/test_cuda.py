"""Mixed-precision training steps of every adversarial callback on CUDA (skipped without CUDA; on a GPU machine:
`pytest -m cuda`).

For each callback (SensibleAdversarialTraining, AdversarialTraining, TRADES, MART, FAT) and each of fastai's
`MixedPrecision` modes (fp16 with its loss scaler, bf16), three training batches of a tiny BatchNorm/Dropout model
on the digits, behind fastai's `Normalize`: the attack runs under autocast, the loss is finite, the examples lie in the
eps-ball and in [0, 1] (in pixels), the trainable parameters moved while a frozen one did not, and the attack handed
the model back as it found it (every module's mode, every parameter's `requires_grad`). The same checks run on CPU with
bf16 autocast (`test_cpu_bf16_twin`, not marked), so this file's logic runs on machines without a GPU too.
"""
import pytest, torch
from torch import nn
from fastai.basics import Learner, Callback, CrossEntropyLossFlat
from fastai.callback.fp16 import MixedPrecision
from sensible_adv.core import seed_everything, find_normalize
from sensible_adv.data import digits_dls
from sensible_adv.callback import (AdversarialCallback, SensibleAdversarialTraining, AdversarialTraining, TRADES, MART, FAT)

EPS, STEP, K = 0.1, 0.025, 5
CALLBACKS = {'sense': lambda: SensibleAdversarialTraining(EPS, STEP, K, 0.5, warmup=0),
             'pgd': lambda: AdversarialTraining(EPS, STEP, K),
             'trades': lambda: TRADES(6., EPS, STEP, K),
             'mart': lambda: MART(6., EPS, STEP, K),
             'fat': lambda: FAT(EPS, STEP, K, tau=1)}
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')

def tiny_model():
    "Conv-BN-ReLU-Dropout-Linear for 8x8 digits, its first conv's bias frozen (a user's choice the attack must keep)."
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Dropout(0.1), nn.Flatten(), nn.Linear(512, 10))
    m[0].bias.requires_grad_(False)
    return m

class CPUAutocast(Callback):
    "`MixedPrecision`'s place and events with CPU bf16 autocast (fastai's `MixedPrecision` autocasts CUDA only)."
    order = MixedPrecision.order
    def before_batch(self): self.ac = torch.autocast('cpu', dtype=torch.bfloat16); self.ac.__enter__()
    def after_pred(self): self.learn.pred = self.pred.float()
    def after_loss(self): self.ac.__exit__(None, None, None)

class Before(Callback):
    "Just before the attack (after autocast began): the clean batch, the modes, the `requires_grad` flags, autocast's state."
    order, run_valid = AdversarialCallback.order - 1, False
    def before_fit(self): self.seen = []
    def before_batch(self):
        self.seen.append(dict(x=self.xb[0].detach().clone(), modes=[m.training for m in self.model.modules()],
                              grads=[p.requires_grad for p in self.model.parameters()],
                              autocast=torch.is_autocast_enabled(self.xb[0].device.type)))

class After(Callback):
    "Just after the attack: its examples, the modes and flags it left; after the loss: whether it is finite."
    order, run_valid = AdversarialCallback.order + 1, False
    def __init__(self, before): self.before = before
    def before_batch(self):
        self.before.seen[-1].update(x_adv=self.xb[0].detach().clone(), modes_after=[m.training for m in self.model.modules()],
                                    grads_after=[p.requires_grad for p in self.model.parameters()])
    def after_loss(self):
        if self.training: self.before.seen[-1]['loss_finite'] = bool(torch.isfinite(self.loss).all())

def check_training(method:str, device:str, precision_cb:Callback):
    "Train a few batches with `method`'s callback under `precision_cb` on `device`, and check the step (see the module's docstring)."
    seed_everything(0)
    dls = digits_dls(bs=64, n_train=192, n_valid=64, device=device)           # Normalize on: the attack works in pixels
    model = tiny_model().to(device)
    p0 = [p.detach().clone() for p in model.parameters()]
    before = Before()
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), cbs=[precision_cb, CALLBACKS[method](), before, After(before)])
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    mean, std = find_normalize(dls)
    pix = lambda xn: xn.float() * std.to(xn.device) + mean.to(xn.device)
    assert len(before.seen) == 3                                               # three training batches
    for s in before.seen:
        assert s['autocast'], 'the attack must run under autocast'
        assert s['loss_finite']
        assert s['x_adv'].dtype == s['x'].dtype == torch.float32
        x, xa = pix(s['x']), pix(s['x_adv'])
        assert (xa - x).abs().max() <= EPS + 1e-5 and (xa - x).abs().max() > 0  # in the ball, and moved
        assert xa.min() >= -1e-5 and xa.max() <= 1 + 1e-5                        # in [0, 1]
        assert s['modes_after'] == s['modes'] and all(s['modes'])                # train mode everywhere, as before the attack
        assert s['grads_after'] == s['grads']                                    # requires_grad restored, frozen bias too
    assert [p.requires_grad for p in model.parameters()] == [p is not model[0].bias for p in model.parameters()]
    moved = [not torch.equal(a, b.detach()) for a, b in zip(p0, model.parameters())]
    assert not moved[1], 'the frozen bias must not move'
    assert any(moved), 'the trainable parameters must be updated'

@pytest.mark.cuda
@cuda
@pytest.mark.parametrize('method', list(CALLBACKS))
def test_fp16_training_step(method):
    check_training(method, 'cuda', MixedPrecision(amp_mode='fp16'))

@pytest.mark.cuda
@cuda
@pytest.mark.skipif(torch.cuda.is_available() and not torch.cuda.is_bf16_supported(), reason='this GPU has no bf16')
@pytest.mark.parametrize('method', list(CALLBACKS))
def test_bf16_training_step(method):
    check_training(method, 'cuda', MixedPrecision(amp_mode='bf16'))

@pytest.mark.parametrize('method', list(CALLBACKS))
def test_cpu_bf16_twin(method):
    check_training(method, 'cpu', CPUAutocast())
