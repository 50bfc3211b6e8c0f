"""The attacks the library runs through other packages (torchattacks, foolbox), and the transfer and pixel-space
wrappers, tested in-process through the package (so that `make mutate` sees them), fast, and from what each promises:
its settings reach the underlying attack, a minimum-norm point is kept only inside the ball, a transfer attack keeps
each example's first fooling point, an optional package that is missing is named with its install command.

`test_crosscheck.py` compares the attacks' *numbers* with ART, foolbox and torchattacks on a trained model; here the
models are hand-made (a linear boundary whose nearest point is known) so that each test can say exactly what is right.
"""
import sys
import pytest, torch
from torch import nn
from sensible_adv.attacks import (FGSM, PGD, AutoAttack, FAB, SPSA, Square, DeepFool, TransferAttack, FunctionAttack,
                                  TorchattacksAttack, OptionalDependencyError, keep_within, attack_normalized, make_attack,
                                  require, has_package, has_torchattacks)
from sensible_adv.core import Normalized

torchattacks = pytest.importorskip('torchattacks')
pytest.importorskip('foolbox')
torch.set_num_threads(1)

class Linear(nn.Module):
    "Logits `(0, w . x + b)` of the flattened pixels: class 1 beyond the hyperplane, whose nearest point is known."
    def __init__(self, w, b, params:bool=True):
        super().__init__()
        w, b = torch.tensor(w), torch.tensor(b)
        if params: self.w, self.b = nn.Parameter(w), nn.Parameter(b)
        else: self.register_buffer('w', w); self.register_buffer('b', b)
    def forward(self, x):
        f = x.flatten(1) @ self.w + self.b
        return torch.stack([torch.zeros_like(f), f], 1)

W, B = [1., -2., .5, 1.], -.45          # at x = 0.5 everywhere: f = -0.2 (class 0); ||w||_1 = 4.5, ||w||_2 = 2.5
X, Y = torch.full((1, 1, 2, 2), .5), torch.tensor([0])
D_LINF, D_L2 = .2 / 4.5, .2 / 2.5       # the distances to the boundary

def _dist(a, b, norm): d = (a - b).flatten(1); return (d.abs().amax(1) if norm == 'Linf' else d.norm(dim=1)).item()

# ---------------------------------------------------------------- minimum-norm attacks: kept only inside the ball
def test_keep_within_keeps_points_up_to_eps_only():
    x = torch.zeros(3, 1, 2, 2)
    xa = torch.stack([torch.full((1, 2, 2), .25), torch.full((1, 2, 2), .25 + 1e-3), torch.full((1, 2, 2), .125)])
    assert keep_within(xa, x, .25).flatten(1)[:, 0].tolist() == [.25, 0., .125]    # the point at eps exactly is kept
    assert keep_within(xa, x, .3, 'L2').flatten(1)[:, 0].tolist() == [0., 0., .125]  # L2 distances 0.5, 0.502, 0.25
    half = keep_within(xa.half(), x.half(), .25)
    assert half.dtype == torch.float16 and half.flatten(1)[:, 0].tolist() == [.25, 0., .125]
    assert keep_within(xa, x.half(), .25).dtype == torch.float16                       # in the clean images' dtype

@pytest.mark.parametrize('norm,d', [('Linf', D_LINF), ('L2', D_L2)])
def test_deepfool_finds_the_nearest_boundary_point_and_keeps_it_only_inside_eps(norm, d):
    m = Linear(W, B)
    inside = DeepFool(eps=1.1 * d, norm=norm, steps=3)
    xa = inside(m, X, Y)
    assert m(xa).argmax(1).item() == 1                                      # it crossed the boundary
    assert d <= _dist(xa, X, norm) <= 1.03 * d + 1e-6                      # at the nearest point (times 1 + overshoot)
    assert torch.equal(DeepFool(eps=.9 * d, norm=norm, steps=3)(m, X, Y), X)   # beyond eps: the clean image back
    assert 1.4 * d < _dist(DeepFool(eps=2 * d, norm=norm, overshoot=.5)(m, X, Y), X, norm) < 1.6 * d   # the overshoot is used

class Curved(nn.Module):
    "Logits (0, f(t)), t = the sum of (x - 0.5), f = -0.2 + t - t^2/2: one linearised DeepFool step falls short of the boundary."
    def forward(self, x):
        t = (x - .5).flatten(1).sum(1); f = -.2 + t - t ** 2 / 2
        return torch.stack([torch.zeros_like(f), f], 1)

class Three(nn.Module):
    "Three classes: class 1 is the more likely rival, but class 2's boundary is five times nearer (Linf 0.025 vs 0.125)."
    def forward(self, x):
        t = (x - .5).flatten(1).sum(1)
        return torch.stack([torch.zeros_like(t), -.5 + t, -1. + 10 * t], 1)

def test_deepfool_uses_its_steps_and_candidates():
    m = Curved()
    assert m(DeepFool(eps=.2, steps=1)(m, X, Y)).argmax(1).item() == 0    # one step: still short of the boundary
    assert m(DeepFool(eps=.2, steps=5)(m, X, Y)).argmax(1).item() == 1
    three = Three()
    assert three(DeepFool(eps=.05, candidates=3)(three, X, Y)).argmax(1).item() == 2   # all classes: the near boundary
    assert torch.equal(DeepFool(eps=.05, candidates=2)(three, X, Y), X)   # the top-2 only: the far one, beyond eps

def test_deepfool_settings_checked():
    a = DeepFool(eps=.1, steps=7, candidates=3, overshoot=.05, norm='L2')
    assert (a.steps, a.candidates, a.overshoot, a.eps, a.norm, a.kind, a.label) == (7, 3, .05, .1, 'L2', 'minnorm', 'DeepFool-L2')
    assert DeepFool().label == 'DeepFool-Linf' and DeepFool().eps == pytest.approx(8 / 255)
    assert (DeepFool().steps, DeepFool().candidates, DeepFool().overshoot) == (100, 10, .02)
    for kw, arg in ((dict(steps=0), 'steps'), (dict(candidates=1), 'candidates'), (dict(overshoot=-.1), 'overshoot')):
        with pytest.raises(ValueError, match=f'^`{arg}` must be in'): DeepFool(**kw)

def test_fab_runs_with_its_settings_and_the_models_classes():
    a = FAB(eps=.1, steps=7, restarts=2, seed=3, norm='L2')
    assert (a.steps, a.restarts, a.seed, a.norm, a.kind, a.label, a.budget) == (7, 2, 3, 'L2', 'minnorm', 'FAB-L2', 14)
    t = a.build(Linear(W, B), 2)
    assert isinstance(t, torchattacks.FAB)
    assert (t.norm, t.eps, t.steps, t.n_restarts, t.multi_targeted, t.seed, t.n_target_classes) == ('L2', .1, 7, 2, False, 3, 1)
    m = Linear(W, B)
    xa = FAB(eps=1.1 * D_LINF, steps=10)(m, X, Y)                           # the linear model: FAB finds the boundary
    assert m(xa).argmax(1).item() == 1 and _dist(xa, X, 'Linf') <= 1.1 * D_LINF + 1e-6
    assert torch.equal(FAB(eps=.5 * D_LINF, steps=10)(m, X, Y), X)
    assert (FAB().steps, FAB().restarts, FAB().seed) == (100, 1, 0) and (FAB(steps=1).steps, FAB(restarts=1).restarts) == (1, 1)
    for kw, arg in ((dict(steps=0), 'steps'), (dict(restarts=0), 'restarts')):
        with pytest.raises(ValueError, match=f'^`{arg}` must be in'): FAB(**kw)

# ---------------------------------------------------------------- score-based and gradient-free attacks
def test_spsa_settings_reach_torchattacks():
    a = SPSA(eps=.1, steps=5, delta=.02, lr=.03, samples=8, max_batch=4)
    assert (a.steps, a.delta, a.lr, a.samples, a.max_batch, a.kind, a.label) == (5, .02, .03, 8, 4, 'blackbox', 'SPSA-5')
    t = a.build(Linear(W, B), 2)
    assert isinstance(t, torchattacks.SPSA)
    assert (t.eps, t.delta, t.lr, t.nb_iter, t.nb_sample, t.max_batch_size) == (.1, .02, .03, 5, 8, 4)
    d = SPSA()
    assert (d.steps, d.delta, d.lr, d.samples, d.max_batch) == (100, .01, .01, 128, 64) and d.eps == pytest.approx(8 / 255)
    with pytest.raises(ValueError, match='SPSA is an Linf attack'): SPSA(norm='L2')
    for kw, arg in ((dict(steps=0), 'steps'), (dict(samples=0), 'samples'), (dict(max_batch=0), 'max_batch'),
                    (dict(delta=0.), 'delta'), (dict(lr=0.), 'lr')):
        with pytest.raises(ValueError, match=f'^`{arg}` must be in'): SPSA(**kw)
    one = SPSA(steps=1, samples=1, max_batch=1)                             # one of each is allowed
    assert (one.steps, one.samples, one.max_batch) == (1, 1, 1)

def test_spsa_moves_a_parameter_free_model_quietly(capsys):
    m = Linear(W, B, params=False)          # torchattacks prints a notice for a model without parameters
    xa = SPSA(eps=.1, steps=3, samples=8, max_batch=8)(m, X, Y)
    assert capsys.readouterr().out == ''
    assert 0 < _dist(xa, X, 'Linf') <= .1 + 1e-6 and m(xa)[0, 1] > m(X)[0, 1]   # it climbed the loss, inside the ball

def test_square_settings_reach_torchattacks():
    a = Square(eps=.1, queries=50, p_init=.5, seed=2, norm='L2')
    assert (a.queries, a.p_init, a.seed, a.kind, a.label) == (50, .5, 2, 'blackbox', 'Square-50')
    t = a.build(Linear(W, B), 2)
    assert isinstance(t, torchattacks.Square)
    assert (t.norm, t.eps, t.n_queries, t.n_restarts, t.p_init, t.loss, t.rescale_schedule, t.seed) == \
           ('L2', .1, 50, 1, .5, 'margin', True, 2)
    assert (Square().queries, Square().p_init, Square().seed) == (5000, .8, 0)
    for kw, arg in ((dict(queries=0), 'queries'), (dict(p_init=0.), 'p_init'), (dict(p_init=1.5), 'p_init')):
        with pytest.raises(ValueError, match=f'^`{arg}` must be in'): Square(**kw)
    with pytest.raises(ValueError, match=r'^Square \(torchattacks\) needs pixel `bounds`=\(0, 1\); got \(-1\.0, 1\.0\)$'): Square(bounds=(-1., 1.))
    assert Square(queries=1).queries == 1
    xa = Square(eps=.1, queries=20)(Linear(W, B), X, Y)
    assert xa.dtype == X.dtype and _dist(xa, X, 'Linf') <= .1 + 1e-6

def test_square_and_cw_by_name():
    s = make_attack('square50', eps=.2, norm='L2', seed=4)
    assert isinstance(s, Square) and (s.queries, s.eps, s.norm, s.seed) == (50, .2, 'L2', 4)
    assert make_attack('square').queries == 5000 and make_attack('square', eps=.3).eps == .3
    cw = make_attack('cw30', eps=.2)
    assert isinstance(cw, PGD) and (cw.eps, cw.steps, cw.loss, cw.label) == (.2, 30, 'cw', 'CW-inf-30')

# ---------------------------------------------------------------- AutoAttack's recipe
def test_autoattack_is_the_standard_version():
    aa = AutoAttack(eps=.1, seed=5)
    assert (aa.kind, aa.label, aa.n_classes, aa.seed) == ('autoattack', 'AutoAttack', None, 5)
    apgd, apgdt, fab, sq = aa.components(Linear(W, B), 100)
    assert [type(c).__name__ for c in (apgd, apgdt, fab, sq)] == ['APGD', 'APGDT', 'FAB', 'Square']
    assert all((c.eps, c.norm, c.seed, c.n_restarts) == (.1, 'Linf', 5, 1) for c in (apgd, apgdt, fab, sq))
    assert (apgd.loss, apgd.steps, apgdt.steps, fab.steps, fab.multi_targeted) == ('ce', 100, 100, 100, True)
    assert (apgdt.n_target_classes, fab.n_target_classes) == (9, 9)        # 9 target classes at most
    assert (sq.n_queries, sq.p_init) == (5000, .8)
    assert [c.n_target_classes for c in aa.components(Linear(W, B), 4)[1:3]] == [3, 3]
    assert AutoAttack().seed == 0 and AutoAttack().eps == pytest.approx(8 / 255)
    assert all(c.norm == 'L2' for c in AutoAttack(eps=.5, norm='L2').components(Linear(W, B), 4))
    multi = AutoAttack(eps=.1, n_classes=5).build(Linear(W, B), 3)
    assert isinstance(multi, torchattacks.MultiAttack) and multi.attacks[1].n_target_classes == 4   # n_classes given wins
    assert AutoAttack(eps=.1).build(Linear(W, B), 6).attacks[1].n_target_classes == 5                # else the model's
    with pytest.raises(ValueError, match='at least 4 classes'): AutoAttack(eps=.1).build(Linear(W, B), 3)

class Linear4(Linear):
    "`Linear` with two more classes far below (AutoAttack's targeted DLR loss needs four logits)."
    def forward(self, x): z = super().forward(x); return torch.cat([z, torch.full_like(z, -5.)], 1)

def test_autoattack_finds_the_boundary_and_nothing_beyond_eps():
    with pytest.raises(ValueError, match=r'AutoAttack needs a model with at least 4 classes .* this one has 2'): AutoAttack(.1)(Linear(W, B), X, Y)
    m = Linear4(W, B)
    xa = AutoAttack(eps=1.1 * D_LINF)(m, X, Y)
    assert m(xa).argmax(1).item() == 1 and _dist(xa, X, 'Linf') <= 1.1 * D_LINF + 1e-6
    assert m(AutoAttack(eps=.5 * D_LINF)(m, X, Y)).argmax(1).item() == 0

def test_torchattacks_based_attack_uses_the_models_class_count():
    m = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    xa = FAB(eps=.2, steps=3)(m, X.expand(2, -1, -1, -1), torch.tensor([0, 1]))   # build(model, 3): else a TypeError
    assert xa.shape == (2, 1, 2, 2)

# ---------------------------------------------------------------- a torchattacks object as an attack
def test_torchattacks_object_checked_and_run_on_the_model_attacked():
    m = Linear(W, B)
    with pytest.raises(ValueError, match=r"^torchattacks\.DeepFool has no `eps`, so it cannot be scored in a threat ball; "
                                         r"for a minimum-norm attack use 'deepfool' or 'fab'$"): TorchattacksAttack(torchattacks.DeepFool(m))
    assert TorchattacksAttack(torchattacks.PGDL2(m, eps=.5)).norm == 'L2'
    assert TorchattacksAttack(torchattacks.FAB(m, norm='L2', eps=.5)).norm == 'L2'
    pgd = torchattacks.PGD(m, eps=.1, alpha=.05, steps=3, random_start=False)
    a = TorchattacksAttack(pgd)
    assert (a.eps, a.norm, a.bounds, a.label) == (.1, 'Linf', (0., 1.), 'torchattacks PGD')
    xa = a(m, X, Y)
    assert _dist(xa, X, 'Linf') == pytest.approx(.1) and m(xa)[0, 1] > m(X)[0, 1]
    nm = Normalized(m, torch.tensor([0.]), torch.tensor([1.]))
    assert torch.allclose(a(nm, X, Y), xa) and pgd.model is m                # the normalising wrapper of the bound model
    with pytest.raises(ValueError, match=r"^torchattacks PGD is bound to another model \(Linear\) than the one attacked; "
                                         r"for a transfer attack use `transfer_from=` \(reports\) or `TransferAttack`$"):
        a(nn.Sequential(Linear(W, B)), X, Y)
    dp = Normalized(nn.DataParallel(m), torch.tensor([0.]), torch.tensor([1.]))   # the bound model inside DataParallel
    assert torch.allclose(a(dp, X, Y), xa)
    with pytest.raises((IndexError, RuntimeError)): TorchattacksAttack(pgd, validate=False)(nm, X, torch.tensor([5]))   # no class 5
    assert pgd.model is m                                                   # put back after a failure too
    normed = torchattacks.PGD(m, eps=.1); normed.set_normalization_used(mean=[.5], std=[.5])
    with pytest.raises(ValueError, match=r"^torchattacks\.PGD has `set_normalization_used\(\.\.\.\)`: attacks here run in pixel space "
                                         r"\(a normalising model is wrapped in `Normalized`\), so build the attack without it$"):
        TorchattacksAttack(normed)
    wide = TorchattacksAttack(pgd, bounds=(0., 2.), validate=False)
    assert (wide.bounds, wide.validate) == ((0., 2.), False)
    class Duck:                                   # an attack object without torchattacks' `normalization_used`
        eps, model = .1, m
    assert TorchattacksAttack(Duck()).eps == .1
    assert isinstance(make_attack(pgd), TorchattacksAttack)

# ---------------------------------------------------------------- transfer attacks
class Shift(nn.Module):
    "A 'source model' for the transfer tests: only its per-example `shift` matters (the test's attack moves the pixels by it)."
    def __init__(self, name, shift): super().__init__(); self.name, self.shift = name, torch.as_tensor(shift); self.p = nn.Parameter(torch.zeros(1))
    def forward(self, x): return torch.zeros(len(x), 2) + self.p

def _transfer(sources, seeds):
    noise = {}
    def moved(src, x, y):
        r = torch.rand(1).item(); noise.setdefault((src.name, torch.initial_seed()), r)
        return (x + src.shift.reshape(-1, 1, 1, 1) + .01 * r).clamp(0, 1)
    return TransferAttack(sources, eps=.5, attack=FunctionAttack(moved, .5, name='moved'), seeds=seeds), noise

def test_transfer_keeps_each_examples_first_fooling_point():
    target = Linear([10.], -5.)                  # class 1 iff x > 0.5
    x, y = torch.tensor([.2, .4, 0., .45]).reshape(4, 1, 1, 1), torch.tensor([0, 0, 0, 0])
    a, noise = _transfer([Shift('A', .2), Shift('B', [.35, .35, .35, -.3])], seeds=(1, 2))
    state = torch.get_rng_state()
    out = a(target, x, y).flatten().tolist()
    assert torch.equal(torch.get_rng_state(), state)                       # the seeds do not touch the caller's generator
    r = {s: (torch.manual_seed(s), torch.rand(1).item())[1] for s in (1, 2)}
    assert sorted(noise) == [('A', 1), ('A', 2), ('B', 1), ('B', 2)] and all(noise[k] == r[k[1]] for k in noise)
    # example 0 is first fooled by source B, seed 1; examples 1 and 3 by source A, seed 1 (B's later points, larger
    # for example 1 and not fooling for example 3, replace nothing); example 2 never: the last point crafted (B, seed 2)
    assert out == pytest.approx([.2 + .35 + .01 * r[1], .4 + .2 + .01 * r[1], .35 + .01 * r[2], .45 + .2 + .01 * r[1]])
    assert (target(torch.tensor(out).reshape(4, 1, 1, 1)).argmax(1) == y).tolist() == [False, False, True, False]

def test_transfer_settings_checked_and_named():
    s = Shift('s', 0.)
    a = TransferAttack([s, Shift('t', 0.)], eps=.2, attack='pgd7', seeds=range(1, 4), norm='L2')
    assert (a.attack.eps, a.attack.steps, a.attack.norm, a.seeds, a.kind) == (.2, 7, 'L2', [1, 2, 3], 'transfer')
    assert a.label == 'transfer PGD-7 (2 sources x 3 seeds)' and a.budget == 7 * 2 * 3
    one = TransferAttack(s, eps=.2, seeds=3)
    assert one.sources == [s] and one.seeds == [3] and one.label == 'transfer PGD-40 (1 source x 1 seed)' and one.budget == 40
    for bad in ('model', [], [s, 'x']):
        with pytest.raises(TypeError, match='^`sources` must be an nn.Module taking pixels, or a non-empty list of them$'): TransferAttack(bad)
    with pytest.raises(ValueError, match='at least one seed'): TransferAttack(s, seeds=[])
    with pytest.raises(ValueError, match='seeds'): TransferAttack(s, seeds=[-1])

# ---------------------------------------------------------------- attacking a normalised batch in pixel space
def test_attack_normalized_attacks_the_pixels():
    m, mean, std = Linear(W, B), torch.tensor([.5]), torch.tensor([.3])
    x = torch.tensor([0., 1., .5, .25]).reshape(1, 1, 2, 2)                # 0 and 1: their round trip may leave [0, 1]
    xn = (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    out = attack_normalized(FGSM(.1), m, xn, Y, mean, std)
    nm = Normalized(m, mean, std)
    want = FGSM(.1)(nm, x, Y)
    pix = out * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)
    assert torch.allclose(pix, want, atol=1e-6) and not torch.allclose(pix, x)
    assert pix.min() >= -1e-6 and pix.max() <= 1 + 1e-6 and _dist(pix, x, 'Linf') <= .1 + 1e-6

# ---------------------------------------------------------------- optional packages
def test_missing_optional_package_named_with_its_install_command(monkeypatch):
    assert has_package('json') and has_torchattacks()
    monkeypatch.setitem(sys.modules, 'torchattacks', None)                  # as if not installed
    assert not has_torchattacks() and not has_package('torchattacks')
    with pytest.raises(OptionalDependencyError, match=r'FAB needs the optional `torchattacks` package: pip install --no-deps torchattacks==3\.5\.1'):
        require('torchattacks', 'FAB')
    with pytest.raises(OptionalDependencyError, match='^FAB needs the optional `torchattacks` package'): FAB(.1)
    monkeypatch.setitem(sys.modules, 'foolbox', None)
    with pytest.raises(OptionalDependencyError, match=r'^DeepFool needs the optional `foolbox` package: pip install foolbox==3\.3\.4$'): DeepFool(.1)
    with pytest.raises(OptionalDependencyError, match='optional `torchattacks`'): make_attack('aa', .1)

def test_installed_but_broken_package_is_told_apart(tmp_path, monkeypatch):
    (tmp_path/'sa_broken_pkg').mkdir()
    (tmp_path/'sa_broken_pkg'/'__init__.py').write_text('import sa_missing_dependency_xyz\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not has_package('sa_broken_pkg')
    with pytest.raises(OptionalDependencyError, match=r'X needs `sa_broken_pkg`, which is installed but does not import \(.*sa_missing_dependency_xyz'):
        require('sa_broken_pkg', 'X')

# ---------------------------------------------------------------- functions as attacks
def test_a_function_needing_two_arguments_is_refused():
    with pytest.raises(TypeError, match='needs 2 arguments'): make_attack(lambda model, x, y=None: x)
    def factory(eps, *, scale=1.): return FGSM(eps * scale)
    assert isinstance(make_attack(factory, .2), FGSM) and make_attack(factory, .2).eps == .2
    f = make_attack(lambda model, x, y, extra=0: x, .2)
    assert isinstance(f, FunctionAttack) and f.eps == .2
