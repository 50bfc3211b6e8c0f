"""The library's own gradient attacks (FGSM, the TRADES/MART noisy-start PGD, FAT's early-stopped PGD) and the parser of
attack lists, tested in-process through the package (so that `make mutate` sees them) on hand-made linear models, where
each step can be written down: its size and direction in each norm, the pixel bounds it respects, when an example stops.
The notebook `02_attacks` shows and tests the same attacks on its own definitions; these tests reach the exported ones.
"""
import functools
import pytest, torch
from torch import nn
from sensible_adv.attacks import (FGSM, NoisyStartPGD, EarlyStoppedPGD, FunctionAttack, TransferAttack, attack_list,
                                  ascent_step, random_start, project)

torch.set_num_threads(1)

class Linear(nn.Module):
    "Logits `(0, w . x + b)` of the flattened pixels."
    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.tensor(w)), nn.Parameter(torch.tensor(b))
    def forward(self, x):
        f = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(f), f], 1)

W = [1., -2., .5, 1.]
M = Linear(W, -.45)                       # at x = 0.5: class 0; the loss of class 0 grows along +w
X, Y = torch.full((1, 1, 2, 2), .5), torch.tensor([0])
UNIT = torch.tensor(W) / torch.tensor(W).norm()

def _delta(xa): return (xa - X).flatten()

# ---------------------------------------------------------------- FGSM
def test_fgsm_steps_along_the_gradient_in_each_norm():
    assert torch.allclose(_delta(FGSM(.1)(M, X, Y)), .1 * torch.tensor(W).sign())          # Linf: the sign
    assert torch.allclose(_delta(FGSM(.5, norm='L2')(M, X, Y)), .5 * UNIT, atol=1e-6)     # L2: the unit gradient

def test_fgsm_loss_cw_follows_the_margin_not_the_cross_entropy():
    # three classes; class 1 reads pixel 0, class 2 pixel 1 and is the likelier rival: the margin pushes only pixel 1
    three = nn.Linear(2, 3, bias=True)
    with torch.no_grad(): three.weight.copy_(torch.tensor([[0., 0.], [1., 0.], [0., 1.]])); three.bias.copy_(torch.tensor([2., 0., .5]))
    m, x = nn.Sequential(nn.Flatten(), three), torch.full((1, 1, 1, 2), .5)
    ce, cw = FGSM(.1)(m, x, Y).flatten() - .5, FGSM(.1, loss='cw')(m, x, Y).flatten() - .5
    assert torch.allclose(ce, torch.tensor([.1, .1])) and torch.allclose(cw, torch.tensor([0., .1]))

def test_fgsm_with_a_random_start_is_that_start_plus_one_step():
    a = FGSM(.1, step=.05, random_start=True, norm='L2', bounds=(0., 2.))
    torch.manual_seed(3); xa = a(M, X, Y)
    torch.manual_seed(3); d = random_start(X, .1, 'L2', (0., 2.))
    xd = (X + d).requires_grad_(True)
    g, = torch.autograd.grad(nn.functional.cross_entropy(M(xd), Y), xd)
    want = X + project(d + ascent_step(g, .05, 'L2'), X, .1, 'L2', (0., 2.))
    assert torch.allclose(xa, want, atol=1e-6) and a.kind == 'other' and a.label == 'FGSM (random start, step 0.05)'

def test_attacks_respect_the_pixel_bounds_given():
    hi = torch.full((1, 1, 2, 2), 1.7)                                      # in pixels of [0, 2]
    m = Linear(W, -4.)                                                      # class 0 there too
    for a in (FGSM(.2, bounds=(0., 2.)), NoisyStartPGD(.2, steps=3, loss='ce', bounds=(0., 2.)),
              EarlyStoppedPGD(.2, steps=3, random_start=False, bounds=(0., 2.))):
        d = (a(m, hi, Y) - hi).flatten()
        assert torch.allclose(d[[0, 2, 3]], torch.full((3,), .2), atol=1e-5), (type(a).__name__, d)   # up to 1.9, above 1
        assert torch.allclose(d[1], torch.tensor(-.2), atol=1e-5)

# ---------------------------------------------------------------- the TRADES/MART PGD
def test_noisy_start_pgd_defaults_and_checks():
    a = NoisyStartPGD()
    assert (a.steps, a.loss, a.eps) == (10, 'kl', pytest.approx(8 / 255))
    assert NoisyStartPGD(.1, steps=0).steps == 0                              # the noisy start alone is allowed
    with pytest.raises(ValueError, match=r'^`steps` must be in \[0, inf\)'): NoisyStartPGD(steps=-1)
    with pytest.raises(ValueError, match=r"^unknown `loss` 'cw'; allowed: 'kl', 'ce'$"): NoisyStartPGD(loss='cw')

def test_noisy_start_pgd_in_l2_stays_in_the_l2_ball_along_the_gradient():
    torch.manual_seed(0)
    xa = NoisyStartPGD(.5, step=.2, steps=4, loss='ce', norm='L2')(M, X, Y)
    d = _delta(xa)
    assert d.norm() <= .5 + 1e-6 and d.norm() > .45 and torch.dot(d / d.norm(), UNIT) > .99
    torch.manual_seed(0)
    zero = NoisyStartPGD(.5, steps=0, loss='ce', norm='L2')(M, X, Y)          # no step: the 0.001-noise start only
    assert 0 < _delta(zero).norm() < .01

# ---------------------------------------------------------------- FAT's early-stopped PGD
def test_early_stopped_pgd_stops_each_example_tau_steps_after_it_is_fooled():
    one = Linear([10.], -5.)                                                # class 1 iff x > 0.5
    x, y = torch.tensor([.45, .1]).reshape(2, 1, 1, 1), torch.tensor([0, 0])
    out = lambda tau: EarlyStoppedPGD(.3, step=.1, steps=3, tau=tau, random_start=False)(one, x, y).flatten().tolist()
    assert out(0) == pytest.approx([.55, .4])                              # fooled at step 1: stays; the other walks on
    assert out(1) == pytest.approx([.65, .4])                              # one more step after being fooled
    assert out(3) == pytest.approx([.75, .4])                              # tau >= steps: plain PGD

def test_early_stopped_pgd_defaults_checks_and_l2():
    a = EarlyStoppedPGD()
    assert (a.steps, a.tau, a.random_start) == (10, 0, True)
    assert EarlyStoppedPGD(.1, steps=0).steps == 0
    with pytest.raises(ValueError, match=r'^`steps` must be in \[0, inf\)'): EarlyStoppedPGD(steps=-1)
    with pytest.raises(ValueError, match=r'^`tau` must be in \[0, inf\)'): EarlyStoppedPGD(tau=-1)
    d = _delta(EarlyStoppedPGD(.5, step=.2, steps=4, random_start=False, norm='L2')(M, X, Y))
    assert d.norm() <= .5 + 1e-6 and torch.dot(d / d.norm(), UNIT) > .99
    torch.manual_seed(1)
    assert not torch.equal(EarlyStoppedPGD(.1, steps=0)(M, X, Y), X)        # the default random start moved it

# ---------------------------------------------------------------- names, labels, lists
def test_repr_lists_the_public_settings():
    assert repr(FGSM(.1)) == ("FGSM(norm='Linf', bounds=(0.0, 1.0), eps=0.1, eval_mode=True, validate=True, "
                              "step=0.1, random_start=False, loss='ce')")
    f = FunctionAttack(lambda m, x, y: x, .1, name='mine')
    assert '_name' not in repr(f) and repr(f).startswith("FunctionAttack(norm='Linf', bounds=(0.0, 1.0), eps=0.1")

def test_function_attack_labels():
    def mine(m, x, y): return x
    assert FunctionAttack(mine, .1).label == 'mine' and FunctionAttack(mine, .1, name='given').label == 'given'
    assert FunctionAttack(functools.partial(mine), .1).label == 'partial'   # a callable without a __name__

def test_attack_list_reads_tuples_names_and_counts():
    assert attack_list(('fgsm', 'pgd20')) == [('fgsm', None), ('pgd20', None)]      # two names, not a (name, n) pair
    assert attack_list(('pgd20', True)) == [('pgd20', None), (True, None)]          # a bool is no image count
    assert attack_list(('aa', 200)) == [('aa', 200)] and attack_list('fgsm, aa@200') == [('fgsm', None), ('aa', 200)]
    with pytest.raises(ValueError, match="in 'pgd@1@2', '@' must be followed by a number of images"): attack_list('pgd@1@2')
    with pytest.raises(ValueError, match=r"^`the number of images of attack 'fgsm'` must be in \[1, inf\)"): attack_list('fgsm@0')
    with pytest.raises(ValueError, match=r"^`attacks` must name at least one attack, e\.g\. 'fgsm,pgd20,aa'$"): attack_list(' , ')

def test_transfer_seeds_and_bounds():
    src = Linear(W, 0.)
    assert TransferAttack(src, seeds=0).seeds == [0]
    assert TransferAttack(src, eps=.2, bounds=(0., 2.)).attack.bounds == (0., 2.)
    with pytest.raises(ValueError, match=r'^`seeds` must hold at least one seed$'): TransferAttack(src, seeds=())
    with pytest.raises(ValueError, match=r'^`seeds` must be in \[0, inf\)'): TransferAttack(src, seeds=[-1])
