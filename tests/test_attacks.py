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

# ---------------------------------------------------------------- make_attack: names, numbers, what it passes on
from sensible_adv.attacks import PGD, make_attack, clip_to_ball, _loss_scale, TorchattacksAttack
import sensible_adv.sensible    # registers 'sensible' among the attack names, as `sensible_adv.all` does

def _fn(m, x, y): return x

def test_make_attack_numbers_seeds_and_settings():
    p = make_attack('pgd1x1', .2)
    assert (p.steps, p.restarts, p.eps) == (1, 1, .2) and make_attack('cw10x3').restarts == 3
    with pytest.raises(ValueError, match=r'^`steps` must be in \[1, inf\)'): make_attack('pgd0')
    with pytest.raises(ValueError, match=r'^`restarts` must be in \[1, inf\)'): make_attack('pgd10x0')
    for bad in ('fgsm5', 'fab10x2', 'foo'):
        with pytest.raises(ValueError, match=f"^unknown attack '{bad}'; allowed: aa, autoattack, cw, deepfool, fab, fgsm, pgd, sensible, spsa, square, "
                           r"pgdN, pgdNxR, cwN, cwNxR, deepfoolN, fabN, spsaN, squareN, sensibleN \(N steps or queries, R restarts\)$"):
            make_attack(bad)
    f = make_attack(_fn, .2, norm='L2', bounds=(0., 2.))
    assert (f.eps, f.norm, f.bounds) == (.2, 'L2', (0., 2.))

def test_make_attack_gives_the_seed_to_the_seeded_attacks():
    pytest.importorskip('torchattacks')
    for name in ('fab', 'square', 'aa', 'autoattack'):
        assert make_attack(name).seed == 0 and make_attack(name, seed=3).seed == 3, name

def test_make_attack_refuses_what_is_no_attack():
    with pytest.raises(TypeError, match=r'^an attack factory must return an `Attack`; got int$'): make_attack(lambda eps: 3)
    with pytest.raises(TypeError, match=r'got int$'): make_attack(3)

def test_a_torchattacks_object_keeps_the_bounds_given():
    ta = pytest.importorskip('torchattacks')
    a = make_attack(ta.PGD(M, eps=.1), bounds=(0., 2.))
    assert isinstance(a, TorchattacksAttack) and a.bounds == (0., 2.)

# ---------------------------------------------------------------- PGD
def test_pgd_defaults_checks_norms_losses_and_bounds():
    assert PGD().steps == 10 and PGD(.1, steps=0).steps == 0
    with pytest.raises(ValueError, match=r'^`steps` must be in \[0, inf\)'): PGD(steps=-1)
    with pytest.raises(ValueError, match=r"^unknown `loss` 'x'; allowed: 'ce', 'cw'$"): FGSM(loss='x')
    d = _delta(PGD(.5, step=.2, steps=4, random_start=False, norm='L2')(M, X, Y))
    assert d.norm() <= .5 + 1e-6 and torch.dot(d / d.norm(), UNIT) > .99
    three = nn.Linear(2, 3)
    with torch.no_grad(): three.weight.copy_(torch.tensor([[0., 0.], [1., 0.], [0., 1.]])); three.bias.copy_(torch.tensor([2., 0., .5]))
    m, x = nn.Sequential(nn.Flatten(), three), torch.full((1, 1, 1, 2), .5)
    cw = PGD(.1, step=.05, steps=1, random_start=False, loss='cw')(m, x, Y).flatten() - .5
    assert torch.allclose(cw, torch.tensor([0., .05]))
    hi, m2 = torch.full((1, 1, 2, 2), 1.7), Linear(W, -4.)
    torch.manual_seed(0)
    d = (PGD(.2, step=.1, steps=4, bounds=(0., 2.))(m2, hi, Y) - hi).flatten()   # random start in [0, 2] too
    assert torch.allclose(d, .2 * torch.tensor(W).sign(), atol=1e-5)

def test_pgd_restarts_keep_each_examples_best_of_its_runs():
    one = Linear([10.], -5.)
    x, y = torch.tensor([.3, .42, .1]).reshape(3, 1, 1, 1), torch.tensor([0, 0, 0])
    torch.manual_seed(7); runs = [PGD(.1, step=.02, steps=1)(one, x, y) for _ in range(2)]
    torch.manual_seed(7); best = PGD(.1, step=.02, steps=1, restarts=2)(one, x, y)
    with torch.no_grad(): fool = [(one(r).argmax(1) != y) for r in runs]
    loss = [nn.functional.cross_entropy(one(r), y, reduction='none').detach() for r in runs]
    want = torch.where(((fool[1].float() * 1e6 + loss[1]) > (fool[0].float() * 1e6 + loss[0])).reshape(-1, 1, 1, 1), runs[1], runs[0])
    assert torch.equal(best, want) and not torch.equal(runs[0], runs[1])

# ---------------------------------------------------------------- what every attack's output must be
def _returning(out, eps=.1, **kw): return FunctionAttack(lambda m, x, y: out, eps, name='f', **kw)

def test_outputs_outside_the_ball_or_the_bounds_are_refused_by_name():
    x = torch.full((1, 1, 2, 2), .5)
    with pytest.raises(ValueError, match=r'^f returned NaN/inf pixels \(does the model return finite logits\? is `step` finite\?\)$'):
        _returning(torch.full_like(x, float('nan')))(M, x, Y)
    with pytest.raises(ValueError, match=r"^f returned points outside its threat ball: Linf distance 0\.2 > eps = 0\.1 \(an attack must return x' with \|x' - x\| <= eps\)$"):
        _returning(x + .2)(M, x, Y)
    low = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match=r'^f returned pixels outside bounds=\(0\.0, 1\.0\)$'): _returning(low - .05)(M, low, Y)
    with pytest.raises(ValueError, match='outside bounds'): _returning(torch.ones_like(low) + .05)(M, torch.ones_like(low), Y)
    with pytest.raises(TypeError, match=r'^f must return a tensor shaped like its input \(1, 1, 2, 2\); got \(1, 4\)$'): _returning(x.flatten(1))(M, x, Y)
    with pytest.raises(TypeError, match=r'^f must return a tensor shaped like its input \(1, 1, 2, 2\); got list$'): _returning([1])(M, x, Y)

def test_round_off_tolerance_of_the_ball_check():
    "Four float32 ulps (times the bounds' scale; times sqrt(n) in L2) are round-off; more is outside the ball."
    x, ulp = torch.full((1, 1, 2, 2), .5), torch.finfo(torch.float32).eps
    def at(excess, norm='Linf', bounds=(0., 1.)):       # a point `excess` beyond eps along the first pixel
        xa = x.clone().double(); xa[0, 0, 0, 0] += .1 + excess
        return _returning(xa.float(), norm=norm, bounds=bounds)(M, x, Y)
    at(3 * ulp)
    with pytest.raises(ValueError, match='outside its threat ball'): at(4.6 * ulp)
    at(7 * ulp, bounds=(0., 2.))                                            # the scale of [0, 2] doubles it
    at(7 * ulp, norm='L2')                                                  # sqrt(4) = 2 in L2
    with pytest.raises(ValueError, match='outside its threat ball'): at(9.5 * ulp, norm='L2')

def test_inputs_checked_by_name_and_made_usable():
    with pytest.raises(ValueError, match=r'^`x` must be a batch'): FGSM(.1)(M, torch.rand(4), Y)
    with pytest.raises(ValueError, match=r'^`y` has 2 labels but the batch has 1 images$'): FGSM(.1)(M, X, torch.tensor([0, 0]))
    x64 = X.double()
    out = FGSM(.1)(M, x64, Y)                                              # a float64 batch, a float32 model
    assert out.dtype == torch.float64 and torch.allclose(out.float(), FGSM(.1)(M, X, Y))
    with torch.inference_mode(): xi = X.clone()
    assert torch.equal(FGSM(.1)(M, xi, Y), FGSM(.1)(M, X, Y))              # an inference tensor is usable
    cl = torch.rand(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    conv = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(2)); conv(cl)
    assert FGSM(.1)(conv, cl, torch.tensor([0, 1])).is_contiguous(memory_format=torch.channels_last)
    assert FGSM(.1)(conv, cl.contiguous(), torch.tensor([0, 1])).is_contiguous()

def test_attack_mode_follows_eval_mode():
    seen = []
    m = nn.Sequential(nn.Flatten(), nn.Dropout(.5), nn.Linear(4, 2)).train()
    spy = lambda model, x, y: (seen.append(model.training), x)[1]
    FunctionAttack(spy, .1)(m, X, Y); FunctionAttack(spy, .1, eval_mode=False)(m, X, Y)
    assert seen == [False, True] and m.training                             # put back as it was

# ---------------------------------------------------------------- the geometry helpers' defaults
def test_random_start_fills_each_ball_uniformly():
    torch.manual_seed(0)
    x = torch.full((4000, 1, 2, 2), .5, dtype=torch.float64)
    d = random_start(x, .2, 'L2')
    r = d.flatten(1).norm(dim=1) / .2
    assert d.shape == x.shape and d.dtype == torch.float64 and r.max() <= 1 + 1e-9
    assert abs((r ** 4).mean().item() - .5) < .02                          # (r/eps)^n is uniform on [0, 1] in n = 4 dims
    assert r.std() > .1                                                     # each example its own radius
    li = random_start(x, .2)
    assert li.dtype == torch.float64 and li.abs().max() <= .2 and abs(li.mean().item()) < .01 and li.abs().mean() > .09

def test_clip_and_project_default_to_linf():
    x = torch.full((1, 1, 2, 2), .5)
    assert torch.allclose(clip_to_ball(x + torch.tensor([.3, -.3, .05, 0.]).reshape(1, 1, 2, 2), x, .1).flatten(),
                          torch.tensor([.6, .4, .55, .5]))
    assert torch.allclose(project(torch.tensor([.3, -.3, .05, 0.]).reshape(1, 1, 2, 2), x, .1).flatten(), torch.tensor([.1, -.1, .05, 0.]))

def test_loss_scale_only_under_fp16_autocast():
    x = torch.rand(2)
    assert _loss_scale(x) == 1.
    with torch.autocast('cpu', dtype=torch.bfloat16): assert _loss_scale(x) == 1.
    with torch.autocast('cpu', dtype=torch.float16): assert _loss_scale(x) == 1024.
