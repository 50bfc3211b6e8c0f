"""Tests that catch the bugs that matter (issue #14): each is written from the definition the library implements,
on a model whose outputs are known (logits built by hand, or a fixed linear/small random model), so that a plausible
bug in the core gives a different, checkable answer. They import the package `sensible_adv`, so that a mutation run
(`make mutate`) tests its mutants; all of them together run in a few seconds on one core.

One test per class of bug that survived the notebooks' tests (the planted bug each one kills is named in its docstring).
"""
import math, warnings
import pandas as pd, pytest, torch, torch.nn.functional as F
from torch import nn
from sensible_adv.attacks import PGD, NoisyStartPGD, FunctionAttack, kl_div, ce_loss
from sensible_adv.sensible import SensibleAdversary
from sensible_adv.callback import (SensibleAdversarialTraining, AdversarialTraining, TRADES, MART, FAT, RobustAccuracy)
from sensible_adv.evaluate import robustness_report, sanity_checks, GradientMaskingWarning

torch.set_num_threads(1)

class Affine(nn.Module):
    "A fixed affine classifier of the flattened pixels: `logits = x.flatten(1) @ w + b` (its probabilities are known exactly)."
    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.tensor(w)), nn.Parameter(torch.tensor(b))
    def forward(self, x): return x.flatten(1) @ self.w + self.b

def one_pixel(*values) -> torch.Tensor:
    "A batch of 1x1 single-channel images with the given pixel values."
    return torch.tensor(values).reshape(-1, 1, 1, 1)

# ---------------------------------------------------------------- 1. the sensible freeze rule at p(y|x') = c
# The search freezes an example when its loss exceeds -log c, i.e. only when p(y|x') < c (strictly below): a point
# with p(y|x') = c exactly is still sensible. The model: logits (0, 4x - 3); at x = 0.5 p(0|x) = 1/(1+e^-1) > 1/2,
# one signed step of 0.25 lands at x = 0.75, where the logits tie and p(0|x') = 1/2 exactly (powers of two: exact).
TIE = Affine([[0., 4.]], [0., -3.])

def _sensible(c, compact, x0, steps=2):
    atk = SensibleAdversary(eps=0.25, step=0.25, steps=steps, c=c, random_start=False, compact=compact)
    return atk.run(TIE, one_pixel(x0), torch.tensor([0]))

def test_freeze_in_search_only_below_c():
    "Kills: the in-search freeze test at the boundary (`>=` for `>`: freezing at p(y|x') = c, not only below it)."
    with torch.no_grad(): z = TIE(one_pixel(0.75))
    assert torch.equal(z[:, 0], z[:, 1]) and ce_loss(z, torch.tensor([0])).item() == pytest.approx(math.log(2), abs=1e-7)
    for compact in (True, False):
        at = _sensible(0.5, compact, 0.5)                  # p = c exactly after the first step: not frozen
        assert at.status.tolist() == [2] and at.freeze_step.tolist() == [-1] and at.steps == 2
        assert at.x_adv.flatten().tolist() == [0.75]
        below = _sensible(0.5 + 1e-3, compact, 0.5)        # p = 1/2 < c: frozen at step 1, reverted to the point before
        assert below.status.tolist() == [1] and below.freeze_step.tolist() == [1]
        assert below.x_adv.flatten().tolist() == [0.5]

def test_freeze_at_start_only_below_c():
    "The same boundary for the test at the start: at p(y|x) = c the example is searched; just below c it is frozen at start."
    for compact in (True, False):
        at = _sensible(0.5, compact, 0.75, steps=1)        # the tie (argmax is y = 0, the first maximum), p = c
        assert at.status.tolist() == [1] and at.freeze_step.tolist() == [1]   # searched, then frozen: x = 1 has p < 1/2
        assert at.x_adv.flatten().tolist() == [0.75]
        below = _sensible(0.5 + 1e-3, compact, 0.75, steps=1)
        assert below.status.tolist() == [0] and below.freeze_step.tolist() == [0]

def test_sensible_arguments_checked_and_kept():
    "The documented defaults and ranges: steps K >= 0, c in (0, 1], loss 'ce' or 'kl'; each error names its argument."
    from sensible_adv.attacks import default_step
    a = SensibleAdversary()
    assert (a.eps, a.steps, a.c, a.step, a.loss) == (8/255, 10, 0.5, default_step(8/255, 10), 'ce')
    assert a.adaptive and a.random_start and a.keep_random_start and a.freeze_test and a.compact and a.eval_mode
    b = SensibleAdversary(0.1, step=0.03, steps=0, c=1., loss='kl')
    assert (b.eps, b.step, b.steps, b.c, b.loss) == (0.1, 0.03, 0, 1., 'kl')
    for kw, name in ((dict(steps=-1), 'steps'), (dict(c=0.), 'c'), (dict(c=1.5), 'c'), (dict(loss='cw'), 'loss')):
        with pytest.raises(ValueError, match=f'`{name}`'): SensibleAdversary(**kw)

def test_sensible_nothing_to_search_returns_x():
    "c = 1, K = 0 or eps = 0: the natural examples, every one frozen at the start (the paper returns X)."
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(5, 1, 2, 2, generator=g) * 0.5 + 0.25, torch.tensor([0, 1, 0, 1, 0])
    model = Affine(torch.randn(4, 2, generator=g).tolist(), [0., 0.])
    for kw in (dict(c=1.), dict(steps=0), dict(eps=0.)):
        r = SensibleAdversary(**{'eps': 0.1, **kw}).run(model, x, y)
        assert torch.equal(r.x_adv, x) and r.status.tolist() == [0] * 5 and r.freeze_step.tolist() == [0] * 5
        assert r.steps == kw.get('steps', 10)

def test_sensible_start_frozen_rows():
    "Rows frozen at the start (misclassified, or p(y|x) < c) stay at the random start, or at x with keep_random_start=False."
    x = torch.full((6, 1, 2, 2), -0.95)
    y = torch.tensor([0, 1, 0, 1, 0, 1])                   # the model says 0 everywhere: the odd rows are misclassified
    model, kw = Affine([[0., 0.]] * 4, [1., -1.]), dict(eps=0.1, steps=3, c=0.5, bounds=(-1., 1.))
    torch.manual_seed(0)
    start = x + __import__('sensible_adv').attacks.random_start(x, 0.1, 'Linf', (-1., 1.))
    torch.manual_seed(0)
    r = SensibleAdversary(**kw).run(model, x, y)
    assert r.status.tolist() == [2, 0] * 3 and r.freeze_step.tolist() == [-1, 0] * 3
    assert torch.equal(r.x_adv[1::2], start[1::2]) and (start[1::2] < -0.95).any() and (start >= -1).all()
    torch.manual_seed(0)
    r = SensibleAdversary(**kw, keep_random_start=False).run(model, x, y)
    assert torch.equal(r.x_adv[1::2], x[1::2]) and r.status.tolist() == [2, 0] * 3

def test_sensible_without_freezing_is_pgd():
    "freeze_test=False is plain CE PGD: K signed (Linf) or normalised (L2) steps, projected into the ball and the bounds."
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(6, 1, 3, 3, generator=g) * 2 - 1, torch.arange(6) % 3
    model = Affine(torch.randn(9, 3, generator=g).tolist(), [0., 0., 0.])
    for norm, eps, step in (('Linf', 0.3, 0.1), ('L2', 0.6, 0.25)):
        atk = SensibleAdversary(eps, step, 4, freeze_test=False, random_start=False, norm=norm, bounds=(-1., 1.))
        r = atk.run(model, x, y)
        xa = x.clone()
        for _ in range(4):
            xa.requires_grad_(True)
            gr, = torch.autograd.grad(F.cross_entropy(model(xa), y, reduction='sum'), xa)
            if norm == 'Linf': xa = torch.min(torch.max(xa.detach() + step * gr.sign(), x - eps), x + eps)
            else:
                d = xa.detach() + step * gr / gr.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1) - x
                xa = x + d * (eps / d.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1).reshape(-1, 1, 1, 1)
            xa = xa.clamp(-1, 1)
        assert torch.allclose(r.x_adv, xa, atol=1e-5), norm
        assert r.status.tolist() == [2] * 6 and (r.x_adv != x).any()
        assert torch.equal(atk(model, x, y), r.x_adv)          # calling the attack: the same examples

def test_sensible_compact_is_exact_and_warmup_never_freezes_in_search():
    "Compaction (dropping frozen rows) gives the same result as the full batch, in eval mode; in warm-up (adaptive=False) nothing freezes during the search."
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(32, 1, 3, 3, generator=g), torch.arange(32) % 3
    model = Affine((3 * torch.randn(9, 3, generator=g)).tolist(), [0., 0., 0.])
    runs = {}
    for compact in (True, False):
        for adaptive in (True, False):
            torch.manual_seed(0)
            runs[compact, adaptive] = SensibleAdversary(0.2, 0.05, 6, c=0.4, compact=compact, adaptive=adaptive).run(model, x, y)
    for adaptive in (True, False):
        a, b = runs[True, adaptive], runs[False, adaptive]
        assert torch.allclose(a.x_adv, b.x_adv, atol=1e-6) and torch.equal(a.status, b.status) and torch.equal(a.freeze_step, b.freeze_step)
    st = runs[True, True].status.tolist()
    assert {0, 1, 2} <= set(st)                                # all three kinds of rows in the batch
    assert 1 not in runs[True, False].status.tolist()
    f = runs[True, True].freeze_step
    assert ((f > 0) == (runs[True, True].status == 1)).all() and ((f == 0) == (runs[True, True].status == 0)).all()
    from sensible_adv.sensible import sensible_adversary
    torch.manual_seed(0)
    assert torch.equal(sensible_adversary(model, x, y, eps=0.2, step=0.05, steps=6, c=0.4).x_adv, runs[True, True].x_adv)

def test_sensible_kl_search_caps_the_kl():
    "loss='kl' (the authors' TRADES variant): the start is tested on the CE, the search on KL(p(x) || p(x')) <= -log c."
    model = Affine([[0., 24.]], [0., -15.])                   # x = 0.5: logits (0, -3); one step of 0.25: (0, 3)
    x, y = one_pixel(0.5), torch.tensor([0])
    with torch.no_grad(): kl, ce = kl_div(model(x), model(one_pixel(0.75))).item(), ce_loss(model(one_pixel(0.75)), y).item()
    assert kl < 2.9 < ce and ce_loss(model(x), y).item() < 2.9
    for compact in (True, False):
        kw = dict(eps=0.25, step=0.25, steps=1, c=math.exp(-2.9), random_start=False, compact=compact)
        r = SensibleAdversary(**kw, loss='kl').run(model, x, y)     # KL below the cap: searched
        assert r.status.tolist() == [2] and r.x_adv.flatten().tolist() == [0.75]
        r = SensibleAdversary(**kw, loss='ce').run(model, x, y)     # CE above it: frozen in the search
        assert r.status.tolist() == [1] and r.x_adv.flatten().tolist() == [0.5]

def test_sensible_takes_exactly_k_steps():
    "K steps of size alpha, no more: on a linear model without freezing, the pixel moves by K * alpha."
    model = Affine([[0., 1.]], [0., 0.])
    for k in (1, 3):
        r = SensibleAdversary(eps=0.5, step=0.125, steps=k, freeze_test=False, random_start=False).run(model, one_pixel(0.25), torch.tensor([0]))
        assert r.x_adv.flatten().tolist() == [0.25 + 0.125 * k]

# ---------------------------------------------------------------- 2. PGD restarts keep each example's worst point
# With steps=0 a PGD restart is its random start, so R single runs drawn one after another under one seed are the R
# restarts of one `restarts=R` run (no forward draws random numbers). The model fools an example iff its pixel > 0.5.
STEP_MODEL = Affine([[0., 40.]], [0., -20.])

def test_pgd_restarts_keep_each_examples_worst():
    "Kills: PGD with restarts keeping the last restart (or any one restart) instead of each example's worst."
    n, R = 200, 3
    x, y = one_pixel(*[0.45] * n), torch.zeros(n, dtype=torch.long)
    fooled = lambda xa: STEP_MODEL(xa).argmax(1) != y
    torch.manual_seed(0)
    singles = [PGD(0.1, steps=0)(STEP_MODEL, x, y) for _ in range(R)]
    torch.manual_seed(0)
    multi = PGD(0.1, steps=0, restarts=R)(STEP_MODEL, x, y)
    with torch.no_grad():
        each = torch.stack([fooled(s) for s in singles])           # [R, n]
        assert 0 < each[0].sum() < n and (each.any(0) & ~each[-1]).any()   # restarts disagree, also with the last one
        assert torch.equal(fooled(multi), each.any(0))              # fooled iff some restart fools it
        safe = ~each.any(0)                                         # never fooled: the point of highest loss is kept
        losses = torch.stack([ce_loss(STEP_MODEL(s), y) for s in singles])
        assert torch.allclose(ce_loss(STEP_MODEL(multi), y)[safe], losses.amax(0)[safe])
    torch.manual_seed(0)
    one = PGD(0.1, steps=0, restarts=1)(STEP_MODEL, x, y)
    assert torch.equal(one, singles[0])                             # restarts=1 is the first restart alone

# ---------------------------------------------------------------- 3. TRADES and MART: losses and inner maximisation
# Far-from-uniform logits, where KL(p||q) and KL(q||p) differ; the papers' losses written out plainly.
def _logits():
    g = torch.Generator().manual_seed(0)
    clean, adv = 4 * torch.randn(6, 5, generator=g), 4 * torch.randn(6, 5, generator=g)
    return clean, adv, torch.tensor([0, 1, 2, 3, 4, 0])

def test_kl_div_is_kl_ref_to_p():
    "`kl_div(ref, z)` = KL(softmax(ref) || softmax(z)) per example (torch's `F.kl_div(log q, p)` is KL(p || q))."
    clean, adv, _ = _logits()
    want = F.kl_div(F.log_softmax(adv, 1), F.softmax(clean, 1), reduction='none').sum(1)
    assert torch.allclose(kl_div(clean, adv), want, atol=1e-5)
    assert not torch.allclose(kl_div(adv, clean), want, atol=1e-2)   # the logits are far enough apart to tell the order

def test_trades_loss_is_the_papers():
    "Kills: TRADES' loss with the KL's arguments swapped. Zhang et al. 2019: CE(f(x), y) + beta * KL(f(x) || f(x'))."
    clean, adv, y = _logits()
    cb = TRADES(beta=6.); cb._old_lf = F.cross_entropy
    p_nat = F.softmax(clean, 1)
    want = F.cross_entropy(clean, y) + 6. * (p_nat * (F.log_softmax(clean, 1) - F.log_softmax(adv, 1))).sum(1).mean()
    assert torch.allclose(cb.loss(adv, y, clean), want, atol=1e-5)

@pytest.mark.parametrize('classes', [5, 3])
def test_mart_loss_is_the_papers(classes):
    "MART (Wang et al. 2020), as its reference code writes it: BCE(adv) + beta * mean(KL(p_nat || p_adv) * (1 - p_nat(y)))."
    clean, adv, y = _logits()
    clean, adv, y = clean[:, :classes], adv[:, :classes], y % classes
    cb = MART(beta=6.)
    adv_probs = F.softmax(adv, 1)
    top2 = torch.argsort(adv_probs, 1)[:, -2:]
    new_y = torch.where(top2[:, -1] == y, top2[:, -2], top2[:, -1])
    loss_adv = F.cross_entropy(adv, y) + F.nll_loss(torch.log(1.0001 - adv_probs + 1e-12), new_y)
    nat_probs = F.softmax(clean, 1)
    true_probs = nat_probs.gather(1, y[:, None]).squeeze(1)
    kl = (nat_probs * (torch.log(nat_probs) - torch.log(adv_probs + 1e-12))).sum(1)
    want = loss_adv + 6. * (kl * (1.0000001 - true_probs)).mean()
    assert torch.allclose(cb.loss(adv, y, clean), want, atol=1e-4)

def _mlp():
    "A small fixed random MLP with far-from-uniform outputs (its last layer scaled up), parameters frozen."
    torch.manual_seed(1)
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 5)).eval()
    with torch.no_grad(): m[1].weight.mul_(4); m[3].weight.mul_(8)
    for p in m.parameters(): p.requires_grad_(False)
    return m

def test_trades_inner_maximisation_is_the_papers():
    "Kills: TRADES' attack ascending the swapped KL. The reference code: x' = x + 0.001 N(0, I), then signed steps on KL(p(x) || p(x'))."
    model, eps, step, K = _mlp(), 0.3, 0.1, 5
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(2)) * 0.4 + 0.3
    torch.manual_seed(3)
    got = NoisyStartPGD(eps, step, K, 'kl')(model, x, torch.zeros(8, dtype=torch.long))
    torch.manual_seed(3)
    xa, p_nat = x + 0.001 * torch.randn(x.shape), F.softmax(model(x), 1)
    for _ in range(K):
        xa.requires_grad_(True)
        g, = torch.autograd.grad(F.kl_div(F.log_softmax(model(xa), 1), p_nat, reduction='sum'), xa)
        xa = torch.min(torch.max(xa.detach() + step * g.sign(), x - eps), x + eps).clamp(0, 1)
    assert torch.allclose(got, xa, atol=1e-5)
    assert kl_div(model(x), model(got)).mean() > 0.1            # the attack moved the prediction: not a vacuous match

def test_mart_inner_maximisation_is_ce():
    "MART's attack: the same noisy start, signed steps on the CE of the true label (its reference code)."
    model, eps, step, K = _mlp(), 0.3, 0.1, 5
    x = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(2)) * 0.4 + 0.3
    y = torch.arange(8) % 5
    torch.manual_seed(3)
    got = NoisyStartPGD(eps, step, K, 'ce')(model, x, y)
    torch.manual_seed(3)
    xa = x + 0.001 * torch.randn(x.shape)
    for _ in range(K):
        xa.requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(model(xa), y), xa)
        xa = torch.min(torch.max(xa.detach() + step * g.sign(), x - eps), x + eps).clamp(0, 1)
    assert torch.allclose(got, xa, atol=1e-5)

# ---------------------------------------------------------------- 4. the training attack runs in eval mode
def _bn_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))

CALLBACKS = {'sense': lambda: SensibleAdversarialTraining(0.1, 0.05, 3, 0.5, show_stats=False),
             'pgd': lambda: AdversarialTraining(0.1, 0.05, 3, show_stats=False),
             'trades': lambda: TRADES(6., 0.1, 0.05, 3, show_stats=False),
             'mart': lambda: MART(6., 0.1, 0.05, 3, show_stats=False),
             'fat': lambda: FAT(0.1, 0.05, 3, show_stats=False)}

@pytest.mark.parametrize('method', CALLBACKS)
def test_callback_attacks_in_eval_mode(method):
    "Kills: the sensible callback attacking with the model in train mode (BatchNorm's running statistics would move)."
    from fastai.callback.core import Callback, CancelFitException
    from fastai.learner import Learner
    from sensible_adv.data import digits_dls
    cb = CALLBACKS[method]()
    seen = {}
    bn = lambda m: [t.clone() for t in (m[1].running_mean, m[1].running_var, m[1].num_batches_tracked)]
    class Before(Callback):
        order = cb.order - 1
        def before_batch(self): seen['before'], seen['mode'], seen['xb'] = bn(self.model), self.model.training, self.xb[0].clone()
    class After(Callback):
        order = cb.order + 1
        def before_batch(self):
            seen['after'], seen['mode_after'] = bn(self.model), self.model.training
            seen['xb_after'] = self.xb[0].clone()
            raise CancelFitException
    dls = digits_dls(bs=16, n_train=32, n_valid=16, device='cpu')
    learn = Learner(dls, _bn_model(), loss_func=F.cross_entropy, cbs=[Before(), cb, After()])
    learn.fit(1)
    assert seen['mode'] and seen['mode_after']                  # the model was in train mode, and is handed back so
    assert not torch.equal(seen['xb'], seen['xb_after'])        # the attack ran
    for a, b in zip(seen['before'], seen['after']): assert torch.equal(a, b)

def test_callbacks_build_their_attacks_as_documented():
    "Each callback's attack gets the callback's arguments (and the documented defaults); the attacks skip per-call checks."
    from sensible_adv.attacks import EarlyStoppedPGD, default_step
    from sensible_adv.callback import DEFAULT_C, adversarial_callback, METHODS
    d = SensibleAdversarialTraining()
    assert (d.attack.eps, d.attack.steps, d.attack.c, d.attack.compact, d.attack.loss, d.warmup, d.nat_weight) == (8/255, 10, DEFAULT_C, True, 'ce', 0, 0.)
    assert d.show_stats and not d.needs_clean and not d.uses_clean
    s = SensibleAdversarialTraining(0.2, 0.05, 4, 0.3, warmup=2, norm='L2', bounds=(-1., 1.), compact=False, show_stats=False, loss='kl')
    a = s.attack
    assert (a.eps, a.step, a.steps, a.c, a.norm, a.bounds, a.compact, a.loss, a.validate) == (0.2, 0.05, 4, 0.3, 'L2', (-1., 1.), False, 'kl', False)
    assert (s.warmup, s.nat_weight, s.needs_clean, s.show_stats) == (2, 1., True, False)
    assert SensibleAdversarialTraining(loss='kl', nat_weight=0.5).nat_weight == 0.5
    with pytest.raises(ValueError, match="^`nat_weight` must be > 0 with loss='kl': the KL term alone carries no label$"):
        SensibleAdversarialTraining(loss='kl', nat_weight=0.)
    with pytest.raises(ValueError, match='`warmup`'): SensibleAdversarialTraining(warmup=-1)
    f = FAT(0.2, 0.05, 4, tau=2, norm='L2', bounds=(-1., 1.))
    assert isinstance(f.attack, EarlyStoppedPGD) and f.tau == 2 and f.nat_weight == 0. and f.show_stats and not FAT(show_stats=False).show_stats
    assert (f.attack.eps, f.attack.step, f.attack.steps, f.attack.norm, f.attack.bounds, f.attack.validate) == (0.2, 0.05, 4, 'L2', (-1., 1.), False)
    assert FAT().attack.steps == 10 and FAT().attack.step == default_step(8/255, 10)
    assert adversarial_callback('natural') is None
    for m, cls in METHODS.items():
        if cls is not None: assert type(adversarial_callback(m, eps=0.2)) is cls and adversarial_callback(m, eps=0.2).attack.eps == 0.2
    with pytest.raises(ValueError, match='`method`'): adversarial_callback('madry')
    assert repr(AdversarialTraining(nat_weight=0.5)).startswith('AdversarialTraining(PGD(') and 'nat_weight=0.5' in repr(AdversarialTraining(nat_weight=0.5))

@pytest.mark.parametrize('cls, kind', [(AdversarialTraining, PGD), (TRADES, NoisyStartPGD), (MART, NoisyStartPGD)])
def test_baseline_callbacks_arguments(cls, kind):
    "PGD-AT, TRADES and MART build their attack from their arguments (defaults: 8/255, 10 steps); beta and nat_weight >= 0."
    from sensible_adv.attacks import default_step
    kw = {} if cls is AdversarialTraining else dict(beta=0.5)
    cb = cls(eps=0.2, step=0.05, steps=4, norm='L2', bounds=(-1., 1.), show_stats=False, **kw)
    a = cb.attack
    assert type(a) is kind and (a.eps, a.step, a.steps, a.norm, a.bounds, a.validate) == (0.2, 0.05, 4, 'L2', (-1., 1.), False)
    assert cb.show_stats is False and cb.nat_weight == 0. and getattr(cb, 'beta', 0.5) == 0.5
    d = cls()
    assert (d.attack.eps, d.attack.steps, d.attack.step, d.show_stats) == (8/255, 10, default_step(8/255, 10), True)
    if cls is not AdversarialTraining:
        assert d.beta == 6. and a.loss == ('kl' if cls is TRADES else 'ce') and cls(beta=0.).beta == 0.
        with pytest.raises(ValueError, match='`beta`'): cls(beta=-1.)
    else:
        assert cls(nat_weight=0.5).nat_weight == 0.5
        with pytest.raises(ValueError, match='`nat_weight`'): cls(nat_weight=-1.)
    with pytest.raises(TypeError, match='`attack` must be an `Attack`; got type'): type(cb).__mro__[1](PGD, 0.)
    base = type(cb).__mro__[1](PGD())
    assert base.nat_weight == 0. and base.show_stats and not base.uses_clean

def test_callback_statistics():
    "The per-epoch statistics: sums of batch values divided by the number of examples; `None` before any batch or for an unknown key."
    from types import SimpleNamespace
    cb = AdversarialTraining(show_stats=False)
    assert cb.stat('adv_loss') is None
    clean, adv, y = _logits()
    for _ in range(2):
        cb.learn = SimpleNamespace(pred=adv, yb=(y,))
        cb.after_loss()
    assert cb.stat('adv_loss') == pytest.approx(F.cross_entropy(adv, y).item())
    assert cb.stat('adv_acc') == pytest.approx((adv.argmax(1) == y).float().mean().item()) and cb.stat('nope') is None
    with pytest.raises(ValueError, match='^AdversarialTraining needs batches of one input and one target; got 2 and 1$'):
        cb.learn = SimpleNamespace(xb=(clean, clean), yb=(y,)); cb.before_batch()
    x = torch.rand(6, 1, 2, 2)
    with pytest.raises(ValueError, match=r'`targets yb\[0\]`'): cb._check(x, y[:5])           # one label per image
    with pytest.raises(ValueError, match=r'`inputs xb\[0\] \(in pixels\)`'): cb._check(x + 2, y)
    cb._old_lf, cb.learn = F.cross_entropy, SimpleNamespace(training=False)             # outside training: the learner's loss
    assert torch.allclose(cb._loss_func(adv, y), F.cross_entropy(adv, y))

def test_callback_in_a_fit():
    "In a fit: the method's loss replaces the learner's in training only, the statistics columns come and go, the first batch is checked."
    from fastai.callback.core import Callback
    from fastai.learner import Learner
    from sensible_adv.data import digits_dls
    from sensible_adv.callback import TrainingStat
    seen = []
    class Watch(Callback):
        order = 99
        def after_loss(self):
            cb = self.learn.trades
            want = cb.loss(self.pred, self.yb[0], cb.clean_pred) if self.training else F.cross_entropy(self.pred, self.yb[0])
            seen.append((self.training, torch.allclose(self.loss, want)))
    for normalize in (True, False):
        seen.clear()
        dls = digits_dls(bs=16, n_train=32, n_valid=16, device='cpu', normalize=normalize)
        torch.manual_seed(0)
        from fastai.metrics import accuracy
        learn = Learner(dls, nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), loss_func=F.cross_entropy, metrics=[accuracy],
                        cbs=[TRADES(1., 0.1, 0.05, 2), Watch()])
        learn.fit(1)
        assert list(learn.metrics.attrgot('name')) == ['accuracy']                     # the user's metrics are handed back
        assert [t for t, _ in seen] == [True, True, False] and all(ok for _, ok in seen)
        assert learn.loss_func is F.cross_entropy and not any(isinstance(m, TrainingStat) for m in learn.metrics)
        names = list(learn.recorder.metric_names)
        assert 'adv_loss' in names and 'adv_acc' in names
        acc = learn.recorder.log[names.index('adv_acc')]
        assert 0 <= acc <= 1 and acc == pytest.approx(learn.trades.stat('adv_acc'))
    quiet = Learner(dls, nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), loss_func=F.cross_entropy, cbs=[TRADES(1., 0.1, 0.05, 2, show_stats=False)])
    quiet.fit(1); quiet.fit(1)                                                        # two fits without the statistics columns
    assert 'adv_loss' not in quiet.recorder.metric_names
    bad = digits_dls(bs=16, n_train=32, n_valid=16, device='cpu', normalize=False)
    learn = Learner(bad, nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), loss_func=F.cross_entropy,
                    cbs=[TRADES(1., 0.1, 0.05, 2, bounds=(0.5, 1.))])     # pixels below the attack's bounds
    with pytest.raises(ValueError, match=r'inputs xb\[0\]'): learn.fit(1)

def test_callback_losses():
    "Each method's training loss from the adversarial and clean logits: CE(adv) (+ nat_weight CE(clean)); the KL variant KL(clean || adv) + nat_weight CE(clean)."
    clean, adv, y = _logits()
    ce = F.cross_entropy
    kl = (F.softmax(clean, 1) * (F.log_softmax(clean, 1) - F.log_softmax(adv, 1))).sum(1).mean()
    cases = [(AdversarialTraining(nat_weight=0.5), ce(adv, y) + 0.5 * ce(clean, y)), (AdversarialTraining(), ce(adv, y)),
             (SensibleAdversarialTraining(nat_weight=0.25), ce(adv, y) + 0.25 * ce(clean, y)),
             (SensibleAdversarialTraining(loss='kl', nat_weight=2.), kl + 2. * ce(clean, y))]
    for cb, want in cases:
        cb._old_lf = ce
        assert torch.allclose(cb.loss(adv, y, clean), want, atol=1e-5), cb

def test_sensible_callback_warmup_and_status_counts():
    "Non-adaptive during the `warmup` epochs (epoch < warmup), adaptive from then on; the statistics count each `STATUS`."
    from types import SimpleNamespace
    from sensible_adv.sensible import STATUS
    x, y = one_pixel(0.5, 0.5, 0.75, 0.5), torch.tensor([0, 0, 1, 0])      # TIE: rows 0, 1, 3 freeze in the search; row 2 at the start
    for epoch, adaptive, counts in ((0, False, [1, 0, 3]), (1, True, [1, 3, 0]), (2, True, [1, 3, 0])):
        cb = SensibleAdversarialTraining(0.25, 0.25, 2, c=0.5 + 1e-3, warmup=1, show_stats=False)
        cb.learn = SimpleNamespace(epoch=epoch)
        cb.attack.random_start = False
        xa = cb.perturb(TIE, x, y)
        assert cb.attack.adaptive is adaptive and xa.shape == x.shape
        assert [cb._sums[k].item() for k in STATUS] == counts

# ---------------------------------------------------------------- 5. robust accuracy: correct clean AND attacked
# An oracle "attack" sends every example to a point the model classifies correctly: robust accuracy must then equal
# natural accuracy (an example wrong when clean is not robust, whatever its attacked point).
# The model predicts class 1 iff pixel 0 > 0.5; clean pixels 0.45 or 0.55, eps = 0.1: either class is in reach.
ORACLE_MODEL = Affine([[-20., 20.], [0., 0.]], [10., -10.])

def _oracle(model, x, y): return torch.cat([(0.45 + 0.1 * y.float()).reshape(-1, 1, 1, 1), x[..., 1:]], -1)

def _fool(model, x, y): return torch.cat([(0.55 - 0.1 * y.float()).reshape(-1, 1, 1, 1), x[..., 1:]], -1)

def _oracle_data():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (40,), generator=g)
    px = torch.where(torch.rand(40, generator=g) < 0.7, 0.45 + 0.1 * y, 0.55 - 0.1 * y)   # about 70% correct
    return torch.stack([px, torch.full((40,), 0.5)], 1).reshape(40, 1, 1, 2).float(), y

def test_robust_accuracy_never_exceeds_natural_in_report():
    "Kills: `robustness_report` counting examples that were wrong when clean (robust accuracy above natural)."
    x, y = _oracle_data()
    nat = (ORACLE_MODEL(x).argmax(1) == y).float().mean().item()
    assert 0.5 < nat < 0.9
    atk = [FunctionAttack(_oracle, 0.1, name='oracle'), FunctionAttack(_fool, 0.1, name='fool')]
    df = robustness_report(ORACLE_MODEL, (x, y), eps=0.1, attacks=atk, sanity=False, verbose=False, bs=16)
    acc = dict(zip(df.attack, df.accuracy))
    assert acc['natural'] == pytest.approx(nat) and acc['oracle'] == pytest.approx(nat) and acc['fool'] == 0.
    assert list(df.n) == [40, 40, 40]

def test_robust_accuracy_metric_never_exceeds_natural():
    "Kills: the `RobustAccuracy` metric counting examples that were wrong when clean; it also counts only its first `n`."
    from types import SimpleNamespace
    x, y = _oracle_data()
    ok = ORACLE_MODEL(x).argmax(1) == y
    for n, want in ((40, ok.float().mean().item()), (25, ok[:25].float().mean().item()), (17, ok[:17].float().mean().item())):
        m = RobustAccuracy(FunctionAttack(_oracle, 0.1), n=n)
        for i in range(0, 40, 16):                                  # batches of 16, as a validation loop feeds it
            m.accumulate(SimpleNamespace(model=ORACLE_MODEL, xb=(x[i:i + 16],), yb=(y[i:i + 16],), dls=None))
        assert m.count == n and m.value == pytest.approx(want)
    m = RobustAccuracy(FunctionAttack(_fool, 0.1))
    m.accumulate(SimpleNamespace(model=ORACLE_MODEL, xb=(x,), yb=(y,), dls=None))
    assert m.value == 0.
    m.reset(); assert m.value is None

def test_robust_accuracy_metric_defaults_and_normalize():
    "The metric's defaults (PGD-10 at eps 8/255 on 256 images, named robust_acc); a named attack gets `eps`; batches behind fastai's Normalize are attacked in pixels."
    from types import SimpleNamespace
    from fastai.data.transforms import Normalize
    from sensible_adv.data import digits_dls
    m = RobustAccuracy()
    assert isinstance(m.attack, PGD) and (m.attack.steps, m.attack.eps, m.n, m.name) == (10, 8/255, 256, 'robust_acc')
    assert RobustAccuracy('fgsm', eps=0.1, n=1, name='r').attack.eps == 0.1 and RobustAccuracy(n=1).n == 1
    with pytest.raises(ValueError, match='`n`'): RobustAccuracy(n=0)
    dls = digits_dls(bs=32, n_train=32, n_valid=32, device='cpu')
    xn, y = dls.valid.one_batch()
    assert xn.min() < -0.5                                     # normalised, not pixels
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    m = RobustAccuracy(FunctionAttack(lambda model, x, y: x, 0.1))  # no attack: robust accuracy = natural accuracy
    m.accumulate(SimpleNamespace(model=net, xb=(xn,), yb=(y,), dls=dls))
    with torch.no_grad(): assert m.value == pytest.approx((net(xn).argmax(1) == y).float().mean().item())

# ---------------------------------------------------------------- 6. the sanity checks of a report
# A hand-made report that passes every check, then one variant per check that breaks exactly that one.
def _report(**acc):
    "Rows of a report at eps = 8/255 on 1,000 images (tolerance 0.01), accuracies overridden by `acc`."
    a = dict(natural=0.9, fgsm=0.6, pgd20=0.5, pgd100x5=0.45, cw30=0.48, cw100=0.47, aa=0.44, transfer=0.7, unbounded=0.0) | acc
    rows = [('natural', 'natural', 0., 0), ('fgsm', 'fgsm', 8/255, 1), ('pgd20', 'pgd', 8/255, 20),
            ('pgd100x5', 'pgd', 8/255, 500), ('cw30', 'cw', 8/255, 30), ('cw100', 'cw', 8/255, 100), ('aa', 'autoattack', 8/255, 1),
            ('transfer', 'transfer', 8/255, 40), ('unbounded', 'unbounded', 1., 100)]
    return pd.DataFrame([dict(attack=k, kind=kind, eps=e, accuracy=a[k], n=1000, seconds=0., budget=b) for k, kind, e, b in rows])

ALL_CHECKS = ['more_iterations', 'more_iterations', 'autoattack_le_pgd', 'pgd_le_fgsm', 'white_le_black',
              'pgd_not_far_above', 'pgd_not_far_above', 'pgd_not_far_above', 'pgd_not_far_above', 'unbounded_eps']

@pytest.mark.parametrize('broken, acc', [(None, {}), ('more_iterations', dict(pgd100x5=0.55)),
                                         ('autoattack_le_pgd', dict(aa=0.6)), ('pgd_le_fgsm', dict(fgsm=0.3)),
                                         ('white_le_black', dict(transfer=0.4)), ('pgd_not_far_above', dict(cw100=0.3)),
                                         ('unbounded_eps', dict(unbounded=0.1))])
def test_sanity_checks_each_break_one(broken, acc):
    "Kills: the `autoattack_le_pgd` check always passing; `more_iterations` never recorded (exact names and count)."
    checks = sanity_checks(_report(**acc), warn=False)
    assert sorted(c['check'] for c in checks) == sorted(ALL_CHECKS)
    assert [c['check'] for c in checks if not c['passed']] == ([] if broken is None else [broken])
    assert {c['n'] for c in checks} == {1000} and {c['eps'] for c in checks} == {8/255, 1.}

BOUNDARIES = [('more_iterations', 'pgd100x5', 0.505, 0.515), ('autoattack_le_pgd', 'aa', 0.455, 0.465),
              ('pgd_le_fgsm', 'fgsm', 0.495, 0.485), ('white_le_black', 'transfer', 0.435, 0.425),
              ('pgd_not_far_above', 'cw100', 0.355, 0.345), ('unbounded_eps', 'unbounded', 0.02, 0.021)]

@pytest.mark.parametrize('check, key, within, beyond', BOUNDARIES)
def test_sanity_check_tolerances(check, key, within, beyond):
    "Each check passes within its tolerance (0.01 on 1,000 images; 0.02 for the unbounded attack; gap 0.10) and fails just beyond it, with one warning."
    assert all(c['passed'] for c in sanity_checks(_report(**{key: within}), warn=False))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        failed = [c['check'] for c in sanity_checks(_report(**{key: beyond})) if not c['passed']]
    assert failed == [check]
    assert [x.category for x in w] == [GradientMaskingWarning] and check in str(w[0].message)

def test_sanity_checks_boundaries_details_and_order():
    "At exactly the tolerance a check passes (<=, >=); each record has its detail; groups in order of eps, then most images first; equal budgets are not compared."
    a = dict(natural=0.875, fgsm=0.5, pgd20=0.5, pgd100x5=0.515625, cw30=0.5, cw100=0.515625, aa=0.515625, transfer=0.484375, unbounded=0.0625)
    df = _report(**a).assign(n=128)                            # tolerance 2/128 = 0.015625; all the numbers exact in binary
    df.loc[df.attack == 'cw100', 'accuracy'] = 0.375           # exactly gap = 0.125 below the best PGD (0.5)
    checks = sanity_checks(df, tol=0.01, tol_zero=0.0625, gap=0.125, warn=False)
    assert [c['check'] for c in checks if not c['passed']] == [] and len(checks) == len(ALL_CHECKS)
    det = {c['check']: c['detail'] for c in checks}
    assert det['more_iterations'] == 'cw100 0.375 vs cw30 0.500 (tol 0.016)' and det['unbounded_eps'] == 'unbounded 0.062 at eps=1 (should be <= 0.0625)'
    assert det['autoattack_le_pgd'] == 'aa 0.516 vs pgd20 0.500 (tol 0.016)' and det['pgd_le_fgsm'] == 'pgd100x5 0.516 vs fgsm 0.500 (tol 0.016)'
    assert det['white_le_black'] == 'best white-box cw100 0.375 vs black-box transfer 0.484 (tol 0.016)'
    assert [c['detail'] for c in checks if c['check'] == 'pgd_not_far_above'][0] == 'cw30 0.500 is 0.000 below pgd20 0.500 (allowed 0.12)'
    two = pd.concat([_report().assign(n=200), _report(), _report(pgd20=0.5).assign(eps=lambda d: d.eps.where(d.eps == 0, 4/255))], ignore_index=True)
    order = [(c['eps'], c['n']) for c in sanity_checks(two, warn=False) if c['check'] != 'unbounded_eps']
    assert order == sorted(order, key=lambda k: (k[0], -k[1])) and order[0] == (4/255, 1000) and (8/255, 200) in order
    same = pd.concat([_report(), _report().iloc[[2]].assign(attack='pgd20b', accuracy=0.9)], ignore_index=True)   # a second PGD-20 row: same budget
    assert [c['check'] for c in sanity_checks(same, warn=False)].count('more_iterations') == 2

def test_sanity_check_warning_text():
    "A failed check warns once with GradientMaskingWarning, naming the check, the radius and Carlini et al."
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        sanity_checks(_report(aa=0.9))
    assert len(w) == 1 and w[0].category is GradientMaskingWarning
    assert str(w[0].message).startswith("sanity check 'autoattack_le_pgd' failed at eps=0.03137 (n=1000): aa 0.900 vs pgd100x5 0.450")
    assert str(w[0].message).endswith('overstate robustness (gradient masking or a too-weak attack; Carlini et al. 2019)')

def test_sanity_check_tolerance_is_at_least_two_images():
    "On 100 images the accuracy tolerance is 2/100, not `tol` = 0.01."
    small = _report(pgd100x5=0.515).assign(n=100)
    assert all(c['passed'] for c in sanity_checks(small, warn=False))
    assert not all(c['passed'] for c in sanity_checks(_report(pgd100x5=0.525).assign(n=100), warn=False))

# ---------------------------------------------------------------- 7. the report's rows, files and helpers
def test_pixel_batches():
    "Batches in pixels: a pair of tensors cut into `bs`, stopped after `n` examples; a Normalize loader de-normalised."
    from sensible_adv.evaluate import pixel_batches
    from sensible_adv.data import digits_dls
    x, y = torch.rand(10, 1, 2, 2), torch.arange(10)
    got = list(pixel_batches((x, y), bs=4))
    assert [len(b[1]) for b in got] == [4, 4, 2] and torch.equal(torch.cat([b[0] for b in got]), x)
    got = list(pixel_batches((x, y), n=5, bs=4))
    assert [b[1].tolist() for b in got] == [[0, 1, 2, 3], [4]]
    assert [len(b[1]) for b in pixel_batches((x, y), n=8, bs=4)] == [4, 4]
    dls = digits_dls(bs=16, n_train=16, n_valid=40, device='cpu')
    got = list(pixel_batches(dls.valid, n=20))
    assert [len(b[1]) for b in got] == [16, 4]
    xb = torch.cat([b[0] for b in got])
    assert xb.min() >= 0 and xb.max() <= 1 and xb.max() > 0.9 and (xb * 16 - (xb * 16).round()).abs().max() < 1e-4   # digits: k/16
    with pytest.raises(TypeError, match='^`dl` is a fastai DataLoaders'): list(pixel_batches(dls))
    big = torch.rand(300, 1, 2, 2), torch.zeros(300, dtype=torch.long)
    assert [len(b[1]) for b in pixel_batches(big)] == [256, 44]                         # default batch size 256
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]                                          # any iterable of (x, y) batches
    assert [b[1].tolist() for b in pixel_batches(batches)] == [[0, 1, 2], [3, 4, 5, 6, 7, 8, 9]]

def _report_model_data():
    "The oracle model and data, and a second model that is fooled by nothing (constant logits favouring class y=0 or 1)."
    return ORACLE_MODEL, *_oracle_data()

def test_report_rows_subsets_and_config():
    "A report's rows: natural, each attack on its images (first n with `@n`), the same attacks on the smaller subsets, the unbounded sanity attack; its config."
    model, x, y = _report_model_data()
    ok = model(x).argmax(1) == y
    atk = [FunctionAttack(_fool, 0.1, name='fool'), (FunctionAttack(_oracle, 0.1, name='oracle'), 10)]
    df = robustness_report(model, (x, y), eps=0.1, attacks=atk, n=30, verbose=False, bs=8, seed=3)
    got = [(r.attack, r.kind, r.n) for r in df.itertuples()]
    assert got == [('natural', 'natural', 30), ('fool', 'other', 30), ('oracle', 'other', 10),
                   ('PGD-100 unbounded, no random start', 'unbounded', 30), ('natural @10', 'natural', 10), ('fool @10', 'other', 10)]
    acc = dict(zip(df.attack, df.accuracy))
    assert acc['natural'] == pytest.approx(ok[:30].float().mean().item()) and acc['natural @10'] == pytest.approx(ok[:10].float().mean().item())
    assert acc['oracle'] == acc['natural @10'] and acc['fool'] == acc['fool @10'] == 0. and acc['PGD-100 unbounded, no random start'] == 0.
    assert list(df.eps) == [0., 0.1, 0.1, 1., 0., 0.1] and (df.seconds.iloc[1:4] >= 0).all() and df.seconds.iloc[4:].isna().all()
    unb = df.attrs['checks']
    assert [c['check'] for c in unb] == ['unbounded_eps'] and unb[0]['passed']
    cfg = df.attrs['config']
    assert (cfg['norm'], cfg['bounds'], cfg['n'], cfg['n_requested'], cfg['seed'], cfg['eval_mode']) == ('Linf', [0., 1.], 30, 30, 3, True)
    assert cfg['attacks'][1].endswith('@10') and cfg['skipped'] == {} and cfg['autoattack'] is None and cfg['libraries'] == {}
    two = robustness_report(model, (x, y), eps=[0.05, 0.1], attacks='fgsm', sanity=False, verbose=False)
    assert list(two.eps) == [0., 0.05, 0.1] and list(two.kind) == ['natural', 'fgsm', 'fgsm'] and two.attrs['checks'] == []
    assert two.accuracy.iloc[1] >= two.accuracy.iloc[2]      # FGSM at 0.05 reaches the boundary less often than at 0.1

def test_report_refuses_what_it_cannot_score():
    "Errors that say what is wrong: no loader, an attack's radius or norm not the report's, labels beyond the model's classes."
    model, x, y = _report_model_data()
    with pytest.raises(ValueError, match='`dl`'): robustness_report(model, verbose=False)
    with pytest.raises(ValueError, match='eps=0.2'): robustness_report(model, (x, y), eps=0.1, attacks=[PGD(0.2)], verbose=False)
    with pytest.raises(ValueError, match='L2'): robustness_report(model, (x, y), eps=0.1, attacks=[PGD(0.1, norm='L2')], verbose=False)
    with pytest.raises(ValueError, match='labels'): robustness_report(model, (x, y + 2), eps=0.1, attacks='fgsm', verbose=False)
    with pytest.raises(TypeError, match='nn.Module'): robustness_report(lambda x: x, (x, y), verbose=False)
    with pytest.raises(ValueError, match='no examples'): robustness_report(model, (x[:0], y[:0]), attacks='fgsm', verbose=False)
    df = robustness_report(model, (x, y), eps=[0.05, 0.1], attacks=[PGD(0.1, steps=2)], sanity=False, verbose=False)
    assert list(df.attack) == ['natural', 'PGD-2'] and list(df.eps) == [0., 0.1]      # an attack object joins its own radius

def test_unbounded_attack_covers_the_box():
    "The sanity attack: PGD-100 from x (no random start), radius the whole pixel range (Linf) or its diagonal (L2), step radius/20."
    from sensible_adv.evaluate import _unbounded
    x = torch.zeros(2, 3, 4, 4)
    for norm, big in (('Linf', 2.), ('L2', 2. * math.sqrt(48))):
        j = _unbounded(x, norm, (-1., 1.))
        a = j['attack']
        assert (a.eps, a.step, a.steps, a.random_start, a.norm, a.bounds) == (pytest.approx(big), pytest.approx(big / 20), 100, False, norm, (-1., 1.))
        assert (j['kind'], j['eps'], j['budget'], j['n']) == ('unbounded', pytest.approx(big), 100, None)
        assert _unbounded(x[:1], norm, (-1., 1.))['eps'] == pytest.approx(big)        # a batch of one image

def _aa_report():
    "A hand-made report with one AutoAttack row at 8/255 on 200 of 1,000 images."
    rows = [dict(attack='natural', kind='natural', eps=0., accuracy=0.9, n=1000, seconds=0., budget=0),
            dict(attack='PGD-20', kind='pgd', eps=8/255, accuracy=0.5, n=1000, seconds=1.5, budget=20),
            dict(attack='AutoAttack', kind='autoattack', eps=8/255, accuracy=0.4, n=200, seconds=9., budget=1),
            dict(attack='natural @200', kind='natural', eps=0., accuracy=0.85, n=200, seconds=float('nan'), budget=0),
            dict(attack='PGD-20 @200', kind='pgd', eps=8/255, accuracy=0.45, n=200, seconds=float('nan'), budget=20)]
    df = pd.DataFrame(rows)
    df.attrs['checks'] = sanity_checks(df, warn=False)
    df.attrs['config'] = dict(norm='Linf', libraries={'torchattacks': '3.5.1'}, skipped={'fab': 'needs torchattacks'})
    return df

def test_robustbench_info_and_files(tmp_path):
    "RobustBench's entry: clean and AutoAttack accuracy on the same images, eps as RobustBench writes it; save_report's three files."
    import json
    from sensible_adv.evaluate import robustbench_info, save_report, report_markdown, _eps_text
    df = _aa_report()
    info = robustbench_info(df, architecture='WRN', dataset='cifar10', number_forward_passes=2)
    assert (info['clean_acc'], info['autoattack_acc'], info['eps'], info['architecture'], info['dataset']) == ('85.00', '40.00', '8/255', 'WRN', 'cifar10')
    assert info['number_forward_passes'] == 2 and not info['additional_data'] and not info['unreliable'] and 'first 200' in info['footnote'] and '3.5.1' in info['footnote']
    assert (_eps_text(8/255, 'Linf'), _eps_text(0.5, 'L2'), _eps_text(0.1, 'Linf'), _eps_text(0.5 / 255, 'Linf')) == ('8/255', '0.5', '0.1', '0.00196078')
    assert (_eps_text(1/255, 'Linf'), _eps_text(2/255, 'Linf'), _eps_text(8/255, 'L2')) == ('1/255', '2/255', '0.0313725')
    import sensible_adv
    full = robustbench_info(df, architecture='WRN', dataset='cifar10', name='N', link='L', authors='A', venue='V',
                            additional_data=1, reported='50.00', footnote='F')
    assert full == dict(link='L', name='N', authors='A', additional_data=True, number_forward_passes=1, dataset='cifar10', venue='V',
                        architecture='WRN', eps='8/255', clean_acc='85.00', reported='50.00', autoattack_acc='40.00', footnote='F', unreliable=False)
    bare = pd.DataFrame(df.to_dict('records'))                # no attrs: no config (norm Linf, torchattacks unknown)
    assert robustbench_info(bare)['eps'] == '8/255' and robustbench_info(bare)['footnote'] == f"Standard AutoAttack (torchattacks ?) on the first 200 test images, measured with sensible_adv {sensible_adv.__version__}."
    l2 = _aa_report(); l2.attrs['config']['norm'] = 'L2'
    assert robustbench_info(l2)['eps'] == '0.0313725'
    with pytest.raises(ValueError, match='`number_forward_passes`'): robustbench_info(df, number_forward_passes=0)
    with pytest.raises(ValueError, match='exactly one AutoAttack'): robustbench_info(df[df.kind != 'autoattack'])
    pj, pm = save_report(df, tmp_path / 'r', name='rep', model_info=dict(dataset='cifar10'))
    assert (pj.name, pm.name) == ('rep.json', 'rep.md') and pm.read_text() == report_markdown(df)
    d = json.loads(pj.read_text())
    assert [r['attack'] for r in d['rows']] == list(df.attack) and d['rows'][3]['seconds'] is None and 'kind' not in d['rows'][0]
    assert d['checks'] == df.attrs['checks'] and d['config'] == df.attrs['config']
    assert json.loads((tmp_path / 'r' / 'rep.robustbench.json').read_text())['dataset'] == 'cifar10'
    save_report(df[df.kind != 'autoattack'], tmp_path / 's')
    assert sorted(p.name for p in (tmp_path / 's').iterdir()) == ['robustness.json', 'robustness.md']
    assert 'budget' not in d['rows'][0] and d['rows'][1]['accuracy'] == 0.5
    bare = pd.DataFrame(df.drop(columns=['budget']).to_dict('records'))                # no attrs, no budget column
    pj, _ = save_report(bare, tmp_path / 'a' / 'b')                                   # parent folders made
    save_report(bare, tmp_path / 'a' / 'b', force=True)                               # an existing folder is fine
    assert json.loads(pj.read_text())['checks'] == [] and json.loads(pj.read_text())['config'] == {}
    sub = pd.concat([df, pd.DataFrame([dict(attack='AutoAttack @100', kind='autoattack', eps=8/255, accuracy=0.3, n=100,
                                            seconds=float('nan'), budget=1)])], ignore_index=True)
    sub.attrs = df.attrs
    assert robustbench_info(sub)['autoattack_acc'] == '40.00'                     # the `@m` row is not an AutoAttack run
    save_report(sub, tmp_path / 'c')
    assert json.loads((tmp_path / 'c' / 'robustness.robustbench.json').read_text())['architecture'] is None

def test_report_markdown():
    "The markdown: one table row per report row, the `@m` note, the checks with failures in bold, the skipped attacks."
    from sensible_adv.evaluate import report_markdown
    df = _aa_report()
    df.attrs['checks'][0]['passed'] = False
    md = report_markdown(df).splitlines()
    assert md[:3] == ['| attack | eps | robust accuracy | n | seconds |', '|---|---|---|---|---|', '| natural | 0 | 0.9000 | 1000 | 0.0 |']
    assert md[3] == '| PGD-20 | 0.03137 | 0.5000 | 1000 | 1.5 |' and md[5] == '| natural @200 | 0 | 0.8500 | 200 |  |'
    assert md[7] == md[9] == md[14] == '' and md[11] == '|---|---|---|---|---|'
    assert md[8] == '`X @m`: attack X on the first m images, the images of the attacks run on m only.' and md[10].startswith('| sanity check |')
    assert md[12].startswith('| autoattack_le_pgd | 0.03137 | 200 | **NO** |') and '| yes |' in md[13]
    assert md[-1] == 'Skipped: fab (needs torchattacks)'
    df.attrs['checks'] = [dict(check='x', eps=0.1, passed=True, detail='d')]            # a check without `n`
    assert report_markdown(df).splitlines()[12] == '| x | 0.1 |  | yes | d |'
    plain = report_markdown(pd.DataFrame(_aa_report().iloc[:2].to_dict('records')))
    assert ' @' not in plain and 'sanity' not in plain and plain.endswith('| 1.5 |\n')

def test_quantize():
    "Quantize rounds to `levels` evenly spaced values in [0, 1]."
    from sensible_adv.evaluate import Quantize
    assert Quantize(3)(torch.tensor([0., 0.2, 0.3, 0.7, 1.])).tolist() == [0., 0., 0.5, 0.5, 1.]
    assert Quantize().levels == 4 and Quantize(2)(torch.tensor([0.4, 0.6])).tolist() == [0., 1.]
    with pytest.raises(ValueError, match='`levels`'): Quantize(1)

# ---------------------------------------------------------------- 8. the attacks' building blocks
from sensible_adv import attacks as A

def test_project_step_and_start():
    "project: into the Linf box or L2 ball of radius eps, then into the bounds; ascent_step: step*sign(g) or step*g/|g|; random_start: inside both."
    g = torch.Generator().manual_seed(0)
    x, d = torch.rand(4, 1, 3, 3, generator=g), torch.randn(4, 1, 3, 3, generator=g)
    p = A.project(d, x, 0.1, 'Linf')
    assert torch.allclose(p, (x + d.clamp(-0.1, 0.1)).clamp(0, 1) - x)
    p = A.project(d, x, 0.5, 'L2', bounds=(-1., 2.))
    n = d.flatten(1).norm(dim=1).reshape(-1, 1, 1, 1)
    assert torch.allclose(p, d * (0.5 / n).clamp(max=1), atol=1e-6)
    small = 0.01 * d
    assert torch.allclose(A.project(small, x, 10., 'L2', bounds=(-9., 9.)), small, atol=1e-6)     # inside: unchanged
    assert torch.equal(A.ascent_step(d, 0.2), 0.2 * d.sign())
    assert torch.allclose(A.ascent_step(d, 0.2, 'L2'), 0.2 * d / n)
    for norm, eps in (('Linf', 0.3), ('L2', 0.5)):
        r = A.random_start(x, eps, norm, bounds=(0., 1.))
        size = r.flatten(1).abs().amax(1) if norm == 'Linf' else r.flatten(1).norm(dim=1)
        assert (size <= eps + 1e-6).all() and ((x + r) >= -1e-7).all() and ((x + r) <= 1 + 1e-7).all() and (r != 0).all()
    r = A.random_start(torch.full((200, 1, 4, 4), 0.5), 0.3)
    assert r.abs().amax() > 0.25 and r.mean().abs() < 0.02       # uniform in the box: reaches its faces, centred

def test_clip_to_ball_and_keep_within():
    "clip_to_ball: exactly inside the ball and the bounds, in x's dtype, points inside left alone; keep_within: min-norm points beyond eps become x."
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 2, 2, generator=g)
    far = x + torch.randn(5, 1, 2, 2, generator=g)
    for norm, eps in (('Linf', 0.1), ('L2', 0.3)):
        c = A.clip_to_ball(far.double(), x, eps, norm)
        size = (c.double() - x.double()).flatten(1)
        size = size.abs().amax(1) if norm == 'Linf' else size.norm(dim=1)
        assert c.dtype == x.dtype and (size <= eps).all() and (c >= 0).all() and (c <= 1).all()
    inside = x + 0.01
    assert torch.equal(A.clip_to_ball(inside.clamp(0, 1), x, 0.1), inside.clamp(0, 1))
    xa = x.clone(); xa[0] += 0.05; xa[1] += 0.5
    kept = A.keep_within(xa, x, 0.1)
    assert torch.equal(kept[0], xa[0]) and torch.equal(kept[1], x[1]) and torch.equal(kept[2:], xa[2:])
    assert torch.equal(A.keep_within(xa, x, 0.1, 'L2')[0], x[0])          # L2 size of +0.05 on 4 pixels is 0.1 ... at the edge
    assert torch.equal(A.keep_within(xa, x, 0.11, 'L2')[0], xa[0])

def test_losses_and_input_grad():
    "ce_loss: per-example CE; margin_loss: max other logit - true logit; input_grad: the gradient of the summed loss at x + delta."
    clean, adv, y = _logits()
    assert torch.allclose(A.ce_loss(adv, y), F.cross_entropy(adv, y, reduction='none'))
    other = adv.clone(); other[torch.arange(6), y] = -float('inf')
    assert torch.allclose(A.margin_loss(adv, y), other.amax(1) - adv[torch.arange(6), y])
    model = _mlp()
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0)); d = 0.01 * torch.ones_like(x); yy = torch.tensor([0, 1, 2])
    g, losses = A.input_grad(model, x, d, yy, A.margin_loss)
    xd = (x + d).requires_grad_(True)
    want, = torch.autograd.grad(A.margin_loss(model(xd), yy).sum(), xd)
    assert torch.allclose(g, want) and torch.allclose(losses, A.margin_loss(model(x + d), yy)) and not losses.requires_grad
    assert A.LOSSES == {'ce': A.ce_loss, 'cw': A.margin_loss}

def test_attack_mode_restores_the_model():
    "attack_mode: eval mode and frozen parameters inside, each module's mode and requires_grad restored after (also after an error)."
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.BatchNorm1d(2)).train()
    m[0].bias.requires_grad_(False); m[1].eval()
    with pytest.raises(RuntimeError):
        with A.attack_mode(m):
            assert not any(x.training for x in m.modules()) and not any(p.requires_grad for p in m.parameters())
            raise RuntimeError
    assert [x.training for x in m.modules()] == [True, True, False, True]
    assert [p.requires_grad for p in m.parameters()] == [True, False, True, True]
    with A.attack_mode(m, eval_mode=False): assert m.training and m[2].training and not m[0].weight.requires_grad

def test_fgsm_pgd_and_fat_steps():
    "FGSM: one step of eps along sign(grad); PGD: `steps` steps of `step` (its labels and budgets); FAT's PGD-K-tau: stops tau steps after the first misclassification."
    model, y = STEP_MODEL, torch.tensor([0])                   # class 1 iff pixel > 0.5; the CE grows with the pixel
    assert A.FGSM(0.1)(model, one_pixel(0.45), y).item() == pytest.approx(0.55)
    assert A.FGSM(0.1, step=0.05)(model, one_pixel(0.45), y).item() == pytest.approx(0.5)
    assert (A.FGSM().kind, A.FGSM().label, A.FGSM(random_start=True).kind) == ('fgsm', 'FGSM', 'other')
    assert A.PGD(0.3, 0.02, 10, random_start=False)(model, one_pixel(0.45), y).item() == pytest.approx(0.65)
    assert A.PGD(0.1, 0.02, 10, random_start=False)(model, one_pixel(0.45), y).item() == pytest.approx(0.55)
    for tau, want in ((0, 0.51), (1, 0.53), (2, 0.55), (10, 0.65)):
        assert A.EarlyStoppedPGD(0.3, 0.02, 10, tau, random_start=False)(model, one_pixel(0.45), y).item() == pytest.approx(want), tau
    p = A.PGD(steps=20)
    assert (p.label, p.kind, p.budget, p.step) == ('PGD-20', 'pgd', 20, A.default_step(8/255, 20))
    c = A.PGD(steps=30, restarts=5, loss='cw')
    assert (c.label, c.kind, c.budget) == ('CW-inf-30x5', 'cw', 150)
    assert A.default_step(0.1, 10) == pytest.approx(0.025) and A.default_step(0.1, 2) == pytest.approx(0.125) and A.default_step(0.1, 0) == pytest.approx(0.25)
    assert A.check_step(None, 0.1, 10) == A.default_step(0.1, 10) and A.check_step(0.5, 0.1, 10) == 0.5
    for bad in (0., -1., float('inf')):
        with pytest.raises(ValueError, match='`step`'): A.check_step(bad, 0.1, 10)
    with pytest.raises(ValueError, match='`restarts`'): A.PGD(restarts=0)
    with pytest.raises(ValueError, match='`loss`'): A.PGD(loss='kl')

def test_make_attack_and_attack_list():
    "The one parser of attack names: NAME, NAMEn (steps), NAMEnxR (restarts), aliases; the list syntax 'a,b@n'."
    m = A.make_attack('pgd100x5', 0.1, 'L2', (-1., 1.))
    assert type(m) is A.PGD and (m.steps, m.restarts, m.eps, m.norm, m.bounds) == (100, 5, 0.1, 'L2', (-1., 1.))
    assert A.make_attack('pgd').steps == 20 and A.make_attack('cw').loss == 'cw' and A.make_attack('cw').steps == 30
    assert type(A.make_attack('fgsm')) is A.FGSM and A.make_attack('sensible7').steps == 7
    f = A.make_attack(lambda model, x, y: x, 0.2)
    assert type(f) is A.FunctionAttack and f.eps == 0.2 and f.label == '<lambda>'
    assert type(A.make_attack(lambda e: A.PGD(e, steps=3), 0.2)) is A.PGD and A.make_attack(lambda e: A.PGD(e), 0.2).eps == 0.2
    p = A.PGD(0.3); assert A.make_attack(p) is p
    for bad in ('pgdx', 'fgsm10', 'fgsm10x2', 'sensible10x2', 'nope'):
        with pytest.raises(ValueError, match='unknown attack'): A.make_attack(bad)
    with pytest.raises(TypeError, match='factory'): A.make_attack(lambda a, b: 0)
    with pytest.raises(TypeError, match='must return an `Attack`'): A.make_attack(lambda e: 0)
    with pytest.raises(TypeError, match='must be a name'): A.make_attack(3)
    assert A.attack_list('fgsm, pgd100 ,aa@200,') == [('fgsm', None), ('pgd100', None), ('aa', 200)]
    assert A.attack_list([('pgd', 5), 'cw@3', p]) == [('pgd', 5), ('cw', 3), (p, None)] and A.attack_list(('pgd', None)) == [('pgd', None)]
    with pytest.raises(ValueError, match="'@' must be followed"): A.attack_list('aa@x')
    with pytest.raises(ValueError, match='at least one attack'): A.attack_list(' , ')
    with pytest.raises(ValueError): A.attack_list('aa@0')

def test_attack_output_checks():
    "An attack's output must be a tensor shaped like x, finite and inside the ball; it is returned in x's dtype and clipped exactly."
    x, y = torch.rand(3, 1, 2, 2) * 0.8, torch.tensor([0, 1, 0])
    model = Affine([[1., 0.]] * 4, [0., 0.])
    for fn, err in ((lambda m, x, y: x[:2], TypeError), (lambda m, x, y: x + float('nan'), ValueError), (lambda m, x, y: x + 0.5, ValueError)):
        with pytest.raises(err): A.FunctionAttack(fn, 0.1)(model, x, y)
    out = A.FunctionAttack(lambda m, x, y: (x + 0.1).double(), 0.1)(model, x, y)
    assert out.dtype == torch.float32 and ((out - x).abs().amax() <= 0.1) and (out <= 1).all()
    assert A.FunctionAttack(lambda m, x, y: x, name='id', kind='pgd').kind == 'pgd'
    with pytest.raises(ValueError, match='`kind`'): A.FunctionAttack(lambda m, x, y: x, kind='nope')

def test_transfer_attack():
    "A transfer attack: crafted on each source with each seed; an example counts as robust only if the target survives all of them."
    x, y = one_pixel(0.45, 0.45), torch.tensor([0, 0])
    fooled_src, robust_src = STEP_MODEL, Affine([[0., -40.]], [0., 20.])      # the second pushes the pixel down
    t = A.TransferAttack([robust_src, fooled_src], 0.1, attack=A.PGD(0.1, 0.05, 2, random_start=False), seeds=(1, 2))
    assert t.label == 'transfer PGD-2 (2 sources x 2 seeds)' and t.budget == 2 * 2 * 2 and t.kind == 'transfer'
    out = t(STEP_MODEL, x, y)
    assert (STEP_MODEL(out).argmax(1) != y).all()               # the fooling point of the second source is kept
    assert A.TransferAttack(robust_src, 0.1, attack='fgsm')(STEP_MODEL, x, y).flatten().tolist() == pytest.approx([0.35, 0.35])
    with pytest.raises(TypeError, match='`sources`'): A.TransferAttack([], 0.1)
    with pytest.raises(ValueError, match='`seeds`'): A.TransferAttack(robust_src, 0.1, seeds=())

def test_report_arguments_reach_the_report():
    "The report's tolerances reach its checks; it reads a Learner's loader and Normalize, or a Normalize loader's, or given statistics; it times each attack; L2 and float64 work."
    import time
    from fastai.learner import Learner
    from sensible_adv.data import digits_dls
    model, x, y = _report_model_data()
    df = robustness_report(model, (x, y), eps=0.1, attacks=[FunctionAttack(_fool, 0.1, name='f', kind='pgd')], verbose=False)
    assert df.attrs['checks'] == sanity_checks(df, warn=False) and df.attrs['config']['seed'] == 0
    df = robustness_report(model, (x, y), eps=0.1, attacks=[FunctionAttack(_fool, 0.1, name='f', kind='pgd')], tol=0.05, tol_zero=0.5, gap=0.3, verbose=False)
    assert df.attrs['checks'] == sanity_checks(df, 0.05, 0.5, 0.3, warn=False)
    def slow(m, x, y): time.sleep(0.05); return x
    t0 = time.perf_counter()
    df = robustness_report(model, (x, y), eps=0.1, attacks=[FunctionAttack(slow, 0.1)], sanity=False, verbose=False, bs=16)
    assert 0.15 <= df.seconds.iloc[1] <= time.perf_counter() - t0 and df.seconds.iloc[0] == 0.    # 3 batches of 16
    l2 = robustness_report(model, (x, y), eps=0.1, norm='L2', attacks=[FunctionAttack(_oracle, 0.1, norm='L2')], verbose=False)
    assert l2.eps.iloc[-1] == pytest.approx(math.sqrt(2)) and l2.attack.iloc[-1].startswith('PGD-100 unbounded')
    d64 = robustness_report(Affine([[-20., 20.], [0., 0.]], [10., -10.]).double(), (x, y), eps=0.1, attacks=[FunctionAttack(_oracle, 0.1)], sanity=False, verbose=False)
    assert d64.accuracy.iloc[1] == d64.accuracy.iloc[0]
    dls = digits_dls(bs=32, n_train=32, n_valid=40, device='cpu')
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    xn, yn = dls.valid.one_batch()
    with torch.no_grad(): want = (net(torch.cat([b[0] for b in dls.valid])).argmax(1) == torch.cat([b[1] for b in dls.valid])).float().mean().item()
    ident = [FunctionAttack(lambda m, x, y: x, 0.1, name='id')]
    learn = Learner(dls, net, loss_func=F.cross_entropy)
    for args in ((learn,), (net, dls.valid)):
        r = robustness_report(*args, eps=0.1, attacks=ident, sanity=False, verbose=False)
        assert r.accuracy.iloc[0] == pytest.approx(want) and r.accuracy.iloc[1] == r.accuracy.iloc[0] and r.n.iloc[0] == 40
    from sensible_adv.core import find_normalize
    from sensible_adv.evaluate import pixel_batches
    px = torch.cat([b[0] for b in pixel_batches(dls.valid)]); py = torch.cat([b[1] for b in pixel_batches(dls.valid)])
    r = robustness_report(net, (px, py), eps=0.1, attacks=ident, norm_stats=find_normalize(dls), sanity=False, verbose=False)
    assert r.accuracy.iloc[0] == pytest.approx(want)
    with pytest.raises(ValueError, match='^`dl` is required unless `model` is a Learner'): robustness_report(net, verbose=False)
    with pytest.raises(ValueError, match='^`dl` yielded no examples$'): robustness_report(model, (x[:0], y[:0]), attacks='fgsm', verbose=False)
    with pytest.raises(ValueError, match='`norm`'): robustness_report(model, (x, y), norm='L3', verbose=False)
    with pytest.raises(ValueError, match='`n`'): robustness_report(model, (x, y), n=0, verbose=False)
    with pytest.raises(ValueError, match='`eps`'): robustness_report(model, (x, y), eps=-1., verbose=False)
    one = robustness_report(model, (x, y), eps=1.5, bounds=(0., 2.), n=1, attacks=[FunctionAttack(_oracle, 1.5, bounds=(0., 2.))], sanity=False, verbose=False)
    assert list(one.n) == [1, 1]
    with pytest.raises(ValueError, match='`images`'): robustness_report(model, (x + 2, y), attacks='fgsm', verbose=False)
    with pytest.raises(ValueError, match='`labels`'): robustness_report(model, (x, y[:-1]), attacks='fgsm', verbose=False)

def test_report_transfer_and_config():
    "transfer_from adds a PGD-40 transfer row (seeds seed+1..seed+k); the config names the attacks as given and the AutoAttack used."
    from sensible_adv.evaluate import _jobs
    model, x, y = _report_model_data()
    src = Affine([[20., -20.], [0., 0.]], [-10., 10.])
    aa = FunctionAttack(_oracle, 0.1, name='my-aa', kind='autoattack')
    df = robustness_report(model, (x, y), eps=0.1, attacks=[aa], transfer_from=src, transfer_seeds=2, sanity=False, verbose=False, seed=4)
    assert list(df.kind) == ['natural', 'autoattack', 'transfer'] and df.attack.iloc[2] == 'transfer PGD-40 (1 source x 2 seeds)'
    assert df.budget.iloc[2] == 80 and df.attrs['config']['autoattack'] == 'FunctionAttack my-aa'
    assert df.attrs['config']['attacks'] == [str(aa)]
    assert robustness_report(model, (x, y), eps=0.1, attacks='fgsm,pgd2@7', sanity=False, verbose=False).attrs['config']['attacks'] == ['fgsm', 'pgd2@7']
    jobs, skipped = _jobs(['fgsm'], [0.1], 'Linf', (0., 1.), 4, [src], 3)
    t = jobs[-1]
    assert (t['label'], t['kind'], t['eps'], t['budget'], t['n']) == (t['attack'].label, 'transfer', 0.1, 120, None)
    assert t['attack'].seeds == [5, 6, 7] and t['attack'].attack.steps == 40 and (t['attack'].norm, t['attack'].eps) == ('Linf', 0.1)
    assert set(jobs[0]) == {'attack', 'label', 'kind', 'eps', 'budget', 'n'} and jobs[0]['budget'] == 1 and skipped == {}
    with pytest.raises(ValueError, match='`transfer_seeds`'): _jobs(['fgsm'], [0.1], 'Linf', (0., 1.), 0, [src], 0)
    def needs(eps): raise A.OptionalDependencyError('needs a package')
    with pytest.warns(UserWarning, match='needs a package'):
        jobs, skipped = _jobs([needs, 'fgsm'], [0.1, 0.2], 'L2', (0., 1.), 0)
    assert skipped == {str(needs): 'needs a package'} and [(j['label'], j['eps']) for j in jobs] == [('FGSM', 0.1), ('FGSM', 0.2)]
    if A.has_torchattacks():
        assert _jobs(['square'], [0.1], 'Linf', (0., 1.), 9)[0][0]['attack'].seed == 9
