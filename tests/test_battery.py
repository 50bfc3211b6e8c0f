"""The second battery of bad inputs, misuse and faults (issue 22): each case asserts the exact class of outcome,
a clear error (its type and the words that name the argument) or correct handling. In-process and fast; the
cases that need a real process (the lock after SIGKILL, Ctrl-C during the imports) are marked `slow`."""
import json, os, signal, subprocess, sys, time, warnings
from pathlib import Path
import numpy as np, pytest, torch
from torch import nn
from sensible_adv.core import *
from sensible_adv.attacks import *
from sensible_adv.callback import *
from sensible_adv.data import *
from sensible_adv.models import *
from sensible_adv.evaluate import *
from sensible_adv.learner import *
from sensible_adv.runs import train, evaluate_run, load_run, read_config, demo
from sensible_adv.cli import main, command_parser, command

torch.manual_seed(0)
M = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
X, Y = torch.rand(16, 1, 8, 8), torch.arange(16) % 10
Q = dict(eps=0.1, attacks='fgsm', sanity=False, verbose=False)

class _Out(nn.Module):
    "A model whose output is `f(logits)`."
    def __init__(self, f): super().__init__(); self.m, self.f = nn.Linear(64, 10), f
    def forward(self, x): return self.f(self.m(x.flatten(1)))

NAN, ONE = _Out(lambda z: z * float('nan')), _Out(lambda z: z[:, :1])
TUPLE, COL, INF = _Out(lambda z: (z,)), _Out(lambda z: z[..., None]), _Out(lambda z: z + float('inf'))

def outcome(f):
    "Run `f`: `('ok', result)` or `('error', exception)`."
    try: return 'ok', f()
    except Exception as e: return 'error', e

def check(f, exc, words):
    "A clear error: exactly `exc` (or a subclass), every word of `words` in its message; `exc=None`: no error."
    kind, r = outcome(f)
    if exc is None:
        assert kind == 'ok', f"expected correct handling, got {type(r).__name__}: {r}"
        return r
    assert kind == 'error', f"expected {exc.__name__}, got a silent answer: {r!r}"[:300]
    assert isinstance(r, exc), f"expected {exc.__name__}, got {type(r).__name__}: {r}"
    for w in words: assert w in str(r), f"{w!r} not in message: {r}"
    return r

# ---------------------------------------------------------------- 1. argument checks (core)
CORE = [
    ('range_nan', lambda: check_range(float('nan'), 'lr', 0), ValueError, ['`lr`']),
    ('range_below', lambda: check_range(-1, 'lr', 0), ValueError, ['`lr` must be in [0, inf)']),
    ('range_open', lambda: check_range(0, 'c', 0, 1, lo_open=True), ValueError, ['`c` must be in (0, 1]']),
    ('range_str', lambda: check_range('0.1', 'eps'), TypeError, ['`eps`', 'str']),
    ('range_bool', lambda: check_range(True, 'eps'), TypeError, ['`eps`', 'bool']),
    ('range_none', lambda: check_range(None, 'eps'), TypeError, ['`eps`', 'NoneType']),
    ('range_tensor_ok', lambda: check_range(torch.tensor(0.5), 'c', 0, 1), None, []),
    ('int_float', lambda: check_int(2.5, 'steps', lo=1), TypeError, ['`steps`', 'integer']),
    ('int_low', lambda: check_int(0, 'steps', lo=1), ValueError, ['`steps`', '[1, inf)']),
    ('int_np_ok', lambda: check_int(np.int64(3), 'steps', lo=1), None, []),
    ('choice', lambda: check_choice('L1', 'norm', NORMS), ValueError, ["unknown `norm` 'L1'", "'Linf', 'L2'"]),
    ('bounds_one', lambda: check_bounds((0,)), TypeError, ['`bounds` must be a pair']),
    ('bounds_order', lambda: check_bounds((1, 0)), ValueError, ['lo < hi']),
    ('bounds_inf', lambda: check_bounds((0, float('inf'))), ValueError, ['finite']),
    ('eps_255', lambda: check_eps(8), ValueError, ['8/255']),
    ('eps_neg', lambda: check_eps(-0.1), ValueError, ['`eps`']),
    ('eps_nan', lambda: check_eps(float('nan')), ValueError, ['`eps`']),
    ('eps_l2_big_ok', lambda: check_eps(3., norm='L2'), None, []),
    ('images_list', lambda: check_images([1, 2]), TypeError, ['torch.Tensor']),
    ('images_1d', lambda: check_images(torch.rand(4)), ValueError, ['ndim >= 2']),
    ('images_empty', lambda: check_images(torch.rand(0, 1, 2, 2)), ValueError, ['empty']),
    ('images_uint8', lambda: check_images(torch.zeros(2, 1, 2, 2, dtype=torch.uint8)), TypeError, ['float']),
    ('images_nan', lambda: check_images(torch.full((2, 1, 2, 2), float('nan'))), ValueError, ['finite']),
    ('images_255', lambda: check_images(torch.rand(2, 1, 2, 2) * 255), ValueError, ['bounds=[0.0, 1.0]', 'normalised']),
    ('labels_float', lambda: check_labels(Y.float(), X), TypeError, ['integer']),
    ('labels_2d', lambda: check_labels(Y[:, None], X), ValueError, ['1-D']),
    ('labels_count', lambda: check_labels(Y[:3], X), ValueError, ['3 labels but the batch has 16']),
    ('labels_neg', lambda: check_labels(Y - 1, X), ValueError, ['ignore_index']),
    ('labels_range', lambda: check_labels(Y + 5, X, 10), ValueError, ['[0, 9]']),
    ('labels_bool', lambda: check_labels(Y > 3, X), TypeError, ['integer']),
    ('logits_tuple', lambda: check_logits((X,)), TypeError, ['tuple']),
    ('logits_1class', lambda: check_logits(torch.zeros(4, 1)), ValueError, ['C >= 2']),
    ('logits_3d', lambda: check_logits(torch.zeros(4, 3, 1)), ValueError, ['got shape (4, 3, 1)']),
    ('logits_nan', lambda: check_logits(torch.full((4, 3), float('nan'))), ValueError, ['NaN/inf scores']),
    ('logits_shape_only_ok', lambda: check_logits(torch.full((4, 3), float('nan')), finite=False), None, []),
    ('device_bogus', lambda: get_device('gpu0'), ValueError, ['`device`']),
    ('seed_neg', lambda: seed_everything(-1), ValueError, ['`seed`']),
    ('name_slash', lambda: check_name('a/b'), ValueError, ['plain file name']),
    ('name_dot', lambda: check_name('.x'), ValueError, ['plain file name']),
    ('normalized_std0', lambda: Normalized(M, torch.tensor([0.]), torch.tensor([0.])), ValueError, ['`std`']),
]

# ---------------------------------------------------------------- 2. attacks: configuration and the model they attack
ATTACK_CFG = [
    ('pgd_eps255', lambda: PGD(8), ValueError, ['8/255']),
    ('pgd_steps', lambda: PGD(0.1, steps=-1), ValueError, ['`steps`']),
    ('pgd_restarts', lambda: PGD(0.1, restarts=0), ValueError, ['`restarts`']),
    ('pgd_step_inf', lambda: PGD(0.1, step=float('inf')), ValueError, ['`step`']),
    ('pgd_step0', lambda: PGD(0.1, step=0), ValueError, ['`step`']),
    ('pgd_loss', lambda: PGD(0.1, loss='hinge'), ValueError, ["unknown `loss` 'hinge'"]),
    ('pgd_norm', lambda: PGD(0.1, norm='L1'), ValueError, ["unknown `norm`"]),
    ('pgd_bounds', lambda: PGD(0.1, bounds=(1, 0)), ValueError, ['lo < hi']),
    ('fgsm_loss', lambda: FGSM(0.1, loss='kl'), ValueError, ['`loss`']),
    ('noisy_loss', lambda: NoisyStartPGD(0.1, loss='cw'), ValueError, ['`loss`']),
    ('esp_tau', lambda: EarlyStoppedPGD(0.1, tau=-1), ValueError, ['`tau`']),
    ('make_unknown', lambda: make_attack('pgq', 0.1), ValueError, ["unknown attack 'pgq'"]),
    ('make_fgsm20', lambda: make_attack('fgsm20', 0.1), ValueError, ["unknown attack 'fgsm20'"]),
    ('make_aax2', lambda: make_attack('aax2', 0.1), ValueError, ['unknown attack']),
    ('make_pgd0', lambda: make_attack('pgd0', 0.1), ValueError, ['`steps`']),
    ('make_object', lambda: make_attack(object(), 0.1), TypeError, ['an attack must be a name']),
    ('make_fn2', lambda: make_attack(lambda a, b: a, 0.1), TypeError, ['(model, x, y)']),
    ('make_factory_bad', lambda: make_attack(lambda e: 3, 0.1), TypeError, ['must return an `Attack`']),
    ('list_empty', lambda: attack_list(''), ValueError, ['at least one attack']),
    ('list_at', lambda: attack_list('aa@x'), ValueError, ["'@' must be followed by a number"]),
    ('list_at0', lambda: attack_list('aa@0'), ValueError, ["the number of images of attack 'aa'"]),
    ('transfer_none', lambda: TransferAttack([], 0.1), TypeError, ['`sources`']),
    ('transfer_seeds', lambda: TransferAttack(M, 0.1, seeds=[]), ValueError, ['`seeds`']),
    ('function_kind', lambda: FunctionAttack(lambda m, x, y: x, 0.1, kind='weird'), ValueError, ["unknown `kind`"]),
]

def _names_once():
    e = outcome(lambda: make_attack('pgq', 0.1))[1]
    names = str(e).split('allowed: ')[1].split(', pgdN')[0].split(', ')
    assert len(names) == len(set(names)), names
ATTACK_CFG.append(('unknown_lists_once', _names_once, None, []))

ATTACK_NAMES = ['fgsm', 'pgd5', 'cw5', 'noisy', 'early']
def _atk(name):
    return dict(fgsm=FGSM(0.1), pgd5=PGD(0.1, steps=5), cw5=make_attack('cw5', 0.1),
                noisy=NoisyStartPGD(0.1, steps=3), early=EarlyStoppedPGD(0.1, steps=3))[name]
MODELS = [('nan', NAN, ValueError, ['NaN/inf scores']), ('inf', INF, ValueError, ['NaN/inf scores']),
          ('one_output', ONE, ValueError, ['C >= 2']), ('tuple', TUPLE, TypeError, ['tuple']),
          ('logits_nc1', COL, ValueError, ['got shape (16, 10, 1)'])]

@pytest.mark.parametrize('name,model,exc,words', MODELS, ids=[m[0] for m in MODELS])
@pytest.mark.parametrize('atk', ATTACK_NAMES)
def test_attack_on_a_broken_model(atk, name, model, exc, words):
    "An attack refuses a model whose output it cannot attack, naming the model's output (25 cases)."
    check(lambda: _atk(atk)(model, X, Y), exc, words + ['the model'])

ATTACK_DATA = [
    ('pixels_255', lambda: PGD(0.1)(M, X * 255, Y), ValueError, ['bounds']),
    ('labels_neg', lambda: PGD(0.1)(M, X, Y - 1), ValueError, ['ignore_index']),
    ('labels_count', lambda: PGD(0.1)(M, X, Y[:3]), ValueError, ['3 labels']),
    ('labels_int32_ok', lambda: PGD(0.1, steps=2)(M, X, Y.int()), None, []),
    ('labels_above_classes', lambda: PGD(0.1, steps=2)(M, X, Y + 5), ValueError, ['must lie in [0, 9] for the model']),
    ('foolbox_object', lambda: make_attack(type('LinfDeepFoolAttack', (), {'__module__': 'foolbox.attacks.deepfool'})(), 0.1), TypeError, ['a foolbox attack object']),
    ('float64_ok', lambda: PGD(0.1, steps=2)(M, X.double(), Y), None, []),
    ('fn_outside', lambda: FunctionAttack(lambda m, x, y: (x + .5).clamp(0, 1), 0.1)(M, X, Y), ValueError, ['outside its threat ball']),
    ('fn_shape', lambda: FunctionAttack(lambda m, x, y: x[:2], 0.1)(M, X, Y), TypeError, ['shaped like its input']),
    ('fn_nan', lambda: FunctionAttack(lambda m, x, y: x * float('nan'), 0.1)(M, X, Y), ValueError, ['NaN/inf pixels']),
    ('no_hook_left', lambda: (outcome(lambda: FGSM(0.1)(NAN, X, Y)), len(NAN._forward_hooks))[1] == 0 or 1/0, None, []),
]

# ---------------------------------------------------------------- 3. callbacks
def _fit(cbs, n_train=128, extra=()):
    from fastai.learner import Learner
    from fastai.metrics import accuracy
    dls = digits_dls(bs=64, n_train=n_train, n_valid=32, device='cpu')
    learn = Learner(dls, DigitsCNN(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy, cbs=list(cbs) + list(extra))
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    return learn

from fastai.callback.core import Callback
class _Shift(Callback):
    order = AdversarialCallback.order - 1
    def before_batch(self):
        if self.training and self.iter == 1: self.learn.xb = (self.xb[0] + 100.,)
class _NaNLoss(Callback):
    def after_loss(self):
        if self.iter == 1: self.learn.loss = self.learn.loss * float('nan')

CALLBACKS = [
    ('sense_eps', lambda: SensibleAdversarialTraining(eps=8), ValueError, ['8/255']),
    ('sense_c0', lambda: SensibleAdversarialTraining(c=0), ValueError, ['`c`']),
    ('sense_c2', lambda: SensibleAdversarialTraining(c=2), ValueError, ['`c`']),
    ('sense_warmup', lambda: SensibleAdversarialTraining(warmup=-1), ValueError, ['`warmup`']),
    ('sense_kl_nat0', lambda: SensibleAdversarialTraining(loss='kl', nat_weight=0), ValueError, ['`nat_weight`']),
    ('trades_beta', lambda: TRADES(beta=-1), ValueError, ['`beta`']),
    ('mart_beta_nan', lambda: MART(beta=float('nan')), ValueError, ['`beta`']),
    ('fat_tau', lambda: FAT(tau=1.5), TypeError, ['`tau`']),
    ('adv_attack_class', lambda: AdversarialCallback(PGD), TypeError, ['`attack`']),
    ('method_unknown', lambda: adversarial_callback('madry'), ValueError, ["unknown `method` 'madry'"]),
    ('robacc_n0', lambda: RobustAccuracy(n=0), ValueError, ['`n`']),
    ('robacc_conflict', lambda: RobustAccuracy(PGD(eps=0.1), eps=0.3), ValueError, ['`eps`=0.3 contradicts', 'eps=0.1']),
    ('robacc_same_ok', lambda: RobustAccuracy(PGD(eps=0.1), eps=0.1), None, []),
    ('robacc_name', lambda: RobustAccuracy('pgq'), ValueError, ['unknown attack']),
    ('two_adversaries', lambda: _fit([SensibleAdversarialTraining(0.1), AdversarialTraining(0.1)]), ValueError, ['2 adversarial callbacks']),
    ('later_batch_out_of_range', lambda: _fit([AdversarialTraining(0.1, steps=1)], 192, [_Shift()]), ValueError, ['training batch 1 of epoch 0', 'outside bounds']),
    ('nan_loss', lambda: _fit([StopOnNonFinite()], 192, [_NaNLoss()]), NonFiniteLossError, ['epoch 0, batch 1']),
    ('sensible_adv_patch_replaces', lambda: len([c for c in _fit([AdversarialTraining(0.1, steps=1)]).sensible_adv(eps=0.1).cbs
                                                 if isinstance(c, AdversarialCallback)]) == 1 or 1/0, None, []),
]

# ---------------------------------------------------------------- 4. learners and methods
LEARNERS = [
    ('dataset', lambda: build_learner('svhn'), ValueError, ["unknown `dataset` 'svhn'", 'mnist_5k']),
    ('dataset_case', lambda: build_learner('Digits'), ValueError, ["unknown `dataset` 'Digits'"]),
    ('method', lambda: build_learner('digits', 'madry'), ValueError, ["unknown `method` 'madry'"]),
    ('arch', lambda: build_learner('digits', arch='vgg'), ValueError, ["unknown `arch` 'vgg'"]),
    ('arch_size', lambda: build_learner('digits', arch='small_cnn', device='cpu'), ValueError, ["`arch` 'small_cnn' cannot take the 8x8 images"]),
    ('width_fixed', lambda: build_learner('digits', arch='tiny_cnn', width=2, device='cpu'), ValueError, ['`width`']),
    ('opt', lambda: build_learner('digits', opt='lamb'), ValueError, ["unknown `opt` 'lamb'"]),
    ('wd_inf', lambda: build_learner('digits', wd=float('inf')), ValueError, ['`wd`']),
    ('wd_neg', lambda: build_learner('digits', wd=-1), ValueError, ['`wd`']),
    ('eps_255', lambda: build_learner('digits', eps=8), ValueError, ['8/255']),
    ('bs0', lambda: build_learner('digits', bs=0, device='cpu'), ValueError, ['`bs`']),
    ('n_train_big', lambda: build_learner('digits', n_train=10**6, device='cpu'), ValueError, ['`n_train`']),
    ('n_valid0', lambda: build_learner('digits', n_valid=0, device='cpu'), ValueError, ['`n_valid`']),
    ('mnist_no_root', lambda: build_learner('mnist', device='cpu'), ValueError, ['`root` is required']),
    ('cifar_no_root', lambda: build_learner('cifar10', device='cpu'), ValueError, ['`root` is required']),
    ('beta_pgd', lambda: method_callbacks('pgd', 0.1, beta=3.), ValueError, ["`beta` does not apply to method 'pgd'"]),
    ('c_pgd', lambda: method_callbacks('pgd', 0.1, c=0.7), ValueError, ["`c` does not apply to method 'pgd'"]),
    ('c_trades', lambda: method_callbacks('trades', 0.1, c=0.7), ValueError, ["`c` does not apply", 'sense']),
    ('tau_sense', lambda: method_callbacks('sense', 0.1, tau=1), ValueError, ["`tau` does not apply", 'fat']),
    ('warmup_natural', lambda: method_callbacks('natural', 0.1, warmup=2), ValueError, ["`warmup` does not apply to method 'natural'"]),
    ('loss_mart', lambda: method_callbacks('mart', 0.1, loss='kl'), ValueError, ["`loss` does not apply"]),
    ('beta_trades_ok', lambda: method_callbacks('trades', 0.1, beta=3.)[0].beta == 3. or 1/0, None, []),
    ('steps0', lambda: method_callbacks('pgd', 0.1, steps=0), ValueError, ['`steps`']),
    ('unknown_option', lambda: method_settings('pgd', gamma=1), TypeError, ['unknown method option `gamma`']),
]

# ---------------------------------------------------------------- 5. reports
def _src(): return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
REPORTS = [
    ('eps_empty', lambda: robustness_report(M, (X, Y), **{**Q, 'eps': []}), ValueError, ['at least one radius']),
    ('eps_255', lambda: robustness_report(M, (X, Y), **{**Q, 'eps': 8}), ValueError, ['8/255']),
    ('bounds_255', lambda: robustness_report(M, (X, Y), **{**Q, 'eps': 8}, bounds=(0, 255)), ValueError, ['`bounds`=(0, 255) but the images span only']),
    ('transfer_self', lambda: robustness_report(M, (X, Y), transfer_from=M, **Q), ValueError, ['`transfer_from` holds the evaluated model itself']),
    ('transfer_self_list', lambda: robustness_report(M, (X, Y), transfer_from=[_src(), M], **Q), ValueError, ['`transfer_from`']),
    ('transfer_other_ok', lambda: robustness_report(M, (X, Y), transfer_from=_src(), **Q), None, []),
    ('no_dl', lambda: robustness_report(M), ValueError, ['`dl` is required']),
    ('model_str', lambda: robustness_report('m', (X, Y)), TypeError, ['nn.Module or a fastai Learner']),
    ('norm', lambda: robustness_report(M, (X, Y), norm='L1', **Q), ValueError, ['`norm`']),
    ('n0', lambda: robustness_report(M, (X, Y), n=0, **Q), ValueError, ['`n`']),
    ('bs0', lambda: robustness_report(M, (X, Y), bs=0, **Q), ValueError, ['`bs`']),
    ('numpy_pair', lambda: robustness_report(M, (X.numpy(), Y.numpy()), **Q), TypeError, ['`dl` as a pair', 'torch tensors']),
    ('labels_range', lambda: robustness_report(M, (X, Y + 10), **Q), ValueError, ['`labels` must lie in [0, 9]']),
    ('labels_ignore', lambda: robustness_report(M, (X, Y - 1), **Q), ValueError, ['ignore_index']),
    ('labels_int32_ok', lambda: robustness_report(M, (X, Y.int()), **Q), None, []),
    ('labels_float', lambda: robustness_report(M, (X, Y.float()), **Q), TypeError, ['integer']),
    ('images_normalised', lambda: robustness_report(M, (X * 2 - 1, Y), **Q), ValueError, ['`dl` yields a batch']),
    ('model_nan', lambda: robustness_report(NAN, (X, Y), **Q), ValueError, ['NaN/inf scores']),
    ('model_one', lambda: robustness_report(ONE, (X, Y), **Q), ValueError, ['C >= 2']),
    ('model_tuple', lambda: robustness_report(TUPLE, (X, Y), **Q), TypeError, ['tuple']),
    ('model_nc1', lambda: robustness_report(COL, (X, Y), **Q), ValueError, ['got shape (16, 10, 1)']),
    ('attack_eps_conflict', lambda: robustness_report(M, (X, Y), **{**Q, 'attacks': [PGD(0.2)]}), ValueError, ['eps=0.2, not one of']),
    ('attack_l2_in_linf', lambda: robustness_report(M, (X, Y), **{**Q, 'attacks': [PGD(0.1, norm='L2')]}), ValueError, ['is an L2 attack']),
    ('attack_unknown', lambda: robustness_report(M, (X, Y), **{**Q, 'attacks': 'pgd20,deepfoo'}), ValueError, ["unknown attack 'deepfoo'"]),
    ('dls_not_dl', lambda: robustness_report(M, digits_dls(device='cpu'), **Q), TypeError, ['pass one of them']),
    ('empty_dl', lambda: robustness_report(M, (X[:0], Y[:0]), **Q), ValueError, ['no examples']),
    ('string_attacks_ok', lambda: robustness_report(M, (X, Y), **{**Q, 'attacks': 'pgd3'}).attack.tolist() == ['natural', 'PGD-3'] or 1/0, None, []),
    ('markdown_ok', lambda: report_markdown(robustness_report(M, (X, Y), **Q)).count('|') > 10 or 1/0, None, []),
    ('robustbench_no_aa', lambda: robustbench_info(robustness_report(M, (X, Y), **Q)), ValueError, ['exactly one AutoAttack row']),
]

def _saved(tmp, **kw):
    df = robustness_report(M, (X, Y), **Q)
    return save_report(df, tmp, **kw)
SAVES = [
    ('twice', lambda t: (_saved(t), _saved(t)), FileExistsError, ["a report named 'robustness' already exists", 'force']),
    ('twice_force_ok', lambda t: (_saved(t), _saved(t, force=True)), None, []),
    ('into_a_file', lambda t: ((t/'f').write_text('x'), _saved(t/'f')), ValueError, ['`path`: cannot write to folder']),
    ('name_slash', lambda t: _saved(t, name='a/b'), ValueError, ['plain file name']),
    ('missing_subfolders_ok', lambda t: _saved(t/'a'/'b'/'c'), None, []),
    ('stale_robustbench', lambda t: ((t/'robustness.robustbench.json').write_text('{}'), _saved(t, force=True),
                                     (t/'robustness.robustbench.json').exists() and 1/0), None, []),
]
if os.geteuid() != 0:
    SAVES.append(('read_only', lambda t: (t.chmod(0o500), _saved(t)), ValueError, ['cannot write to folder']))

@pytest.mark.parametrize('name,f,exc,words', SAVES, ids=[s[0] for s in SAVES])
def test_save_report(tmp_path, name, f, exc, words):
    "`save_report` behaves as the command line does: never a silent replacement, a clear error naming the folder."
    try: check(lambda: f(tmp_path), exc, words)
    finally: tmp_path.chmod(0o700)

FILES = [
    ('atomic_no_folder', lambda t: atomic_write(t/'no'/'x.txt', 'x'), OSError, ['cannot write', 'x.txt']),
    ('atomic_disk_full', lambda t: atomic_write(t/'m.pth', save=lambda p: (_ for _ in ()).throw(RuntimeError('[enforce fail at inline_container.cc:626] . unexpected pos'))),
     OSError, ['m.pth', 'disk full']),
    ('atomic_no_tmp_left', lambda t: (outcome(lambda: atomic_write(t/'a', save=lambda p: 1/0)), list(t.iterdir()) and 1/0), None, []),
    ('lock_twice', lambda t: _lock_twice(t), FolderLockedError, ['is in use by process']),
    ('lock_released', lambda t: [_enter(folder_lock(t)) for _ in range(2)], None, []),
    ('corrupt_cifar', lambda t: _corrupt_cifar(t), ValueError, ['data_batch_1', 'not a readable CIFAR-10 batch']),
    ('cifar_missing', lambda t: get_dls('cifar10', root=t), FileNotFoundError, ['CIFAR-10 not found']),
    ('mnist_missing', lambda t: get_dls('mnist', root=t), FileNotFoundError, ['no folder holds the four files']),
    ('idx_garbage', lambda t: ((t/'x').write_bytes(b'garbage!'), read_idx(t/'x')), ValueError, ['is not an IDX file']),
]
def _enter(cm):
    with cm: pass
def _lock_twice(t):
    with folder_lock(t, 'run folder'): _enter(folder_lock(t, 'run folder'))
def _corrupt_cifar(t):
    d = t/'cifar-10-batches-py'; d.mkdir()
    for f in CIFAR10_FILES: (d/f).write_bytes(b'garbage')
    get_dls('cifar10', root=t)

@pytest.mark.parametrize('name,f,exc,words', FILES, ids=[s[0] for s in FILES])
def test_files(tmp_path, name, f, exc, words): check(lambda: f(tmp_path), exc, words)

# ---------------------------------------------------------------- 6. runs: nothing destroyed before everything is checked
KW = dict(dataset='digits', method='natural', n_train=64, n_valid=32, bs=32, epochs=1, quiet=True, device='cpu')

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp('battery') / 'run'
    train(out=str(d), **KW)
    return d

def _snapshot(d): return {p: p.read_bytes() for p in Path(d).rglob('*') if p.is_file() and p.name != '.lock'}

FORCE_TYPOS = [
    ('dataset', dict(dataset='Digits'), ValueError, ["unknown `dataset` 'Digits'"]),
    ('method', dict(method='madry'), ValueError, ["unknown `method`"]),
    ('arch', dict(arch='vgg'), ValueError, ["unknown `arch`"]),
    ('arch_size', dict(arch='small_cnn'), ValueError, ['cannot take the 8x8 images']),
    ('beta_pgd', dict(method='pgd', beta=3.), ValueError, ["`beta` does not apply"]),
    ('c_pgd', dict(method='pgd', c=0.7), ValueError, ["`c` does not apply"]),
    ('lr_inf', dict(lr=float('inf')), ValueError, ['`lr`']),
    ('lr_neg', dict(lr=-1.), ValueError, ['`lr`']),
    ('wd_inf', dict(wd=float('inf')), ValueError, ['`wd`']),
    ('eps_255', dict(eps=8.), ValueError, ['8/255']),
    ('epochs0', dict(epochs=0), ValueError, ['`epochs`']),
    ('bs0', dict(bs=0), ValueError, ['`bs`']),
    ('n_valid_big', dict(n_valid=10**6), ValueError, ['`n_valid`']),
    ('opt', dict(opt='lamb'), ValueError, ['`opt`']),
    ('device', dict(device='gpu'), ValueError, ['`device`']),
    ('root_for_mnist', dict(dataset='mnist'), ValueError, ['`root` is required']),
    ('seed_neg', dict(seed=-1), ValueError, ['`seed`']),
    ('steps0', dict(method='pgd', steps=0), ValueError, ['`steps`']),
    ('width_fixed', dict(arch='tiny_cnn', width=2), ValueError, ['`width`']),
    ('resume_and_force', dict(resume=True), ValueError, ['exclude each other']),
]

@pytest.mark.parametrize('name,bad,exc,words', FORCE_TYPOS, ids=[c[0] for c in FORCE_TYPOS])
def test_force_checks_everything_first(run, name, bad, exc, words):
    "A typo next to `force` costs nothing: the run's files are untouched (20 cases)."
    before = _snapshot(run)
    check(lambda: train(out=str(run), **{**KW, **bad, 'force': True}), exc, words)
    assert _snapshot(run) == before

RUNS = [
    ('not_empty', lambda r, t: train(out=str(r), **KW), FileExistsError, ['is not empty', '--resume', '--force']),
    ('out_is_file', lambda r, t: ((t/'f').write_text('x'), train(out=str(t/'f'), **KW)), ValueError, ['`out`', 'is a file']),
    ('resume_other_root', lambda r, t: train(out=str(r), **KW, resume=True, root='/elsewhere'), ValueError, ["root was None, now '/elsewhere'"]),
    ('resume_old_config_root_ok', lambda r, t: _old_config_resume(r, t), None, []),
    ('resume_other_method', lambda r, t: train(out=str(r), **{**KW, 'method': 'pgd'}, resume=True), ValueError, ["method was 'natural', now 'pgd'"]),
    ('resume_missing', lambda r, t: train(out=str(t/'none'), **KW, resume=True), FileNotFoundError, ['no config.json']),
    ('locked', lambda r, t: _locked(r, lambda: train(out=str(r), **KW, force=True)), FolderLockedError, ['is in use by process']),
    ('eval_locked', lambda r, t: _locked(r, lambda: evaluate_run(str(r), attacks='fgsm', n=16, name='l', quiet=True)), FolderLockedError, ['in use']),
    ('diverges', lambda r, t: train(out=str(t/'nan'), **{**KW, 'lr': 1e30}), NonFiniteLossError, ['the loss was NaN/inf at epoch 0, batch']),
    ('diverged_no_model', lambda r, t: (outcome(lambda: train(out=str(t/'nan'), **{**KW, 'lr': 1e30})), (t/'nan'/'model.pth').exists() and 1/0), None, []),
    ('options_recorded_only_if_used', lambda r, t: read_config(r)['args']['beta'] is None or 1/0, None, []),
    ('eval_n_too_big', lambda r, t: evaluate_run(str(r), attacks='fgsm', n=5000, name='big', quiet=True), ValueError, ['`n` (--n-valid', 'must be in [1, 360]']),
    ('eval_twice', lambda r, t: [evaluate_run(str(r), attacks='fgsm', n=16, name='twice', quiet=True) for _ in range(2)], FileExistsError, ["a report named 'twice' already exists"]),
    ('eval_default_n_ok', lambda r, t: evaluate_run(str(r), attacks='fgsm', name='dflt', quiet=True).n.iloc[0] == 360 or 1/0, None, []),
    ('eval_name', lambda r, t: evaluate_run(str(r), name='../x'), ValueError, ['plain file name']),
    ('eval_missing', lambda r, t: evaluate_run(str(t/'none')), FileNotFoundError, ['does not exist']),
    ('eval_unknown_attack', lambda r, t: evaluate_run(str(r), attacks='pgd20,deepfoo', name='u'), ValueError, ["unknown attack 'deepfoo'"]),
    ('config_no_arch', lambda r, t: _damaged(r, t, lambda c: c.pop('arch_used')), ValueError, ['config.json is corrupt', 'arch_used']),
    ('config_no_width', lambda r, t: _damaged(r, t, lambda c: c['args'].pop('width')), ValueError, ['args.width']),
    ('config_not_json', lambda r, t: _damaged(r, t, None), ValueError, ['config.json is corrupt']),
    ('weights_other_arch', lambda r, t: _other_weights(r, t), ValueError, ["not those of the run's architecture 'digits_cnn'", 'size mismatch']),
    ('resume_checkpoint_other_arch', lambda r, t: _other_checkpoint(r, t), ValueError, ['the checkpoint of epoch 0 holds weights of another architecture']),
    ('demo_dataset', lambda r, t: demo(out=str(t/'d'), dataset='cifar10'), ValueError, ["unknown `dataset` 'cifar10'"]),
    ('demo_epochs', lambda r, t: demo(out=str(t/'d'), dataset='digits', epochs=0), ValueError, ['`epochs`']),
]
def _locked(r, f):
    with folder_lock(r, 'run folder'): f()
def _copy(r, t):
    import shutil; d = t/'copy'; shutil.copytree(r, d); return d
def _damaged(r, t, edit):
    d = _copy(r, t); cfg = json.loads((d/'config.json').read_text())
    if edit is None: (d/'config.json').write_text('{not json')
    else: edit(cfg); (d/'config.json').write_text(json.dumps(cfg))
    load_run(d)
def _other_weights(r, t):
    d = _copy(r, t); torch.save(dataset_model('digits', 'digits_cnn', 2).state_dict(), d/'model.pth'); load_run(d)

def _old_config_resume(r, t):
    "A config written before `root` joined the recorded arguments (root beside them) resumes with that root."
    d = _copy(r, t); cfg = json.loads((d/'config.json').read_text()); cfg['args'].pop('root'); cfg['root'] = 'some/root'
    (d/'config.json').write_text(json.dumps(cfg))
    train(out=str(d), **KW, root='some/root', resume=True)

def _other_checkpoint(r, t):
    from sensible_adv.runs import read_checkpoint
    d = _copy(r, t); p = d/'checkpoints'/'epoch_0.pth'; ck = read_checkpoint(p)
    ck['model'] = dataset_model('digits', 'digits_cnn', 2).state_dict(); torch.save(ck, p)
    (d/'model.pth').unlink(); train(out=str(d), **KW, resume=True)

@pytest.mark.parametrize('name,f,exc,words', RUNS, ids=[c[0] for c in RUNS])
def test_runs(run, tmp_path, name, f, exc, words): check(lambda: f(run, tmp_path), exc, words)

# ---------------------------------------------------------------- 7. the command line, in process
CLI = [
    ('unknown_command', ['nope'], 2, ["unknown command 'nope'"]),
    ('no_command', [], 2, ['usage: sensible_adv']),
    ('train_dataset', ['train', '--dataset', 'Digits'], 2, ["unknown `dataset` 'Digits'"]),
    ('train_method', ['train', '--method', 'madry'], 2, ["unknown `method` 'madry'"]),
    ('train_eps', ['train', '--eps', '-0.1'], 2, ['`eps` must be in [0, 1.0]']),
    ('train_epochs_text', ['train', '--epochs', 'two'], 2, ["invalid int value: 'two'"]),
    ('train_lr_inf', ['train', '--lr', 'inf'], 2, ['`lr`']),
    ('train_wd_inf', ['train', '--wd', 'inf'], 2, ['`wd`']),
    ('train_beta_pgd', ['train', '--method', 'pgd', '--beta', '3'], 2, ["`beta` does not apply to method 'pgd'"]),
    ('train_c_pgd', ['train', '--method', 'pgd', '--c', '7'], 2, ["`c` does not apply to method 'pgd'"]),
    ('train_c_range', ['train', '--c', '7'], 2, ['`c`']),
    ('train_arch', ['train', '--arch', 'small_cnn'], 2, ["`arch` 'small_cnn' cannot take the 8x8 images"]),
    ('train_opt', ['train', '--opt', 'lamb'], 2, ["unknown `opt` 'lamb'"]),
    ('train_bs0', ['train', '--bs', '0'], 2, ['`bs`']),
    ('train_n_train', ['train', '--n-train', '999999'], 2, ['`n_train`']),
    ('train_device', ['train', '--device', 'tpu'], 2, ['`device`']),
    ('train_resume_force', ['train', '--resume', '--force'], 2, ['exclude each other']),
    ('train_unknown_option', ['train', '--gamma', '1'], 2, ['unrecognized arguments: --gamma']),
    ('eval_no_ckpt', ['eval'], 2, ['the following arguments are required: --ckpt']),
    ('eval_missing', ['eval', '--ckpt', '/nonexistent/run'], 2, ['does not exist']),
    ('eval_n0', ['eval', '--ckpt', '/nonexistent/run', '--n-valid', '0'], 2, ['`n` must be in [1, inf)']),
    ('eval_old_n', ['eval', '--ckpt', '/nonexistent/run', '--n', '0'], 2, ['`n`']),
    ('eval_name', ['eval', '--ckpt', '/nonexistent/run', '--name', 'a/b'], 2, ['plain file name']),
    ('eval_attack', ['eval', '--ckpt', '/nonexistent/run', '--attacks', ''], 2, ['at least one attack']),
    ('demo_dataset', ['demo', '--dataset', 'svhn'], 2, ["unknown `dataset` 'svhn'"]),
    ('demo_old_n_eval', ['demo', '--dataset', 'digits', '--n-eval', '0'], 2, ['`n_eval`']),
    ('demo_epochs', ['demo', '--dataset', 'digits', '--epochs', '0'], 2, ['`epochs`']),
]

@pytest.mark.parametrize('name,argv,rc,words', CLI, ids=[c[0] for c in CLI])
def test_cli_errors(tmp_path, capsys, name, argv, rc, words):
    "Every refusal of the command line: its exit status and one line that names the argument, never a traceback."
    argv = argv + (['--out', str(tmp_path/'o')] if argv[:1] in (['train'], ['demo']) else [])
    try: got = main(argv)
    except SystemExit as e: got = e.code          # argparse's own refusals
    err = capsys.readouterr().err
    assert got == rc and 'Traceback' not in err, err
    for w in words: assert w in err, err
    assert not list((tmp_path/'o').glob('*')) if (tmp_path/'o').exists() else True   # nothing written

def _help(cmd):
    p = command_parser(command(cmd), f'sensible_adv {cmd}')
    return p.format_help()
HELP = [
    ('train_lists_mnist_5k', lambda: 'mnist_5k' in _help('train')),
    ('train_lists_archs', lambda: all(a in _help('train') for a in ARCHS)),
    ('train_lists_methods', lambda: all(m in _help('train') for m in METHODS)),
    ('no_backticks', lambda: all('`' not in _help(c) for c in ('train', 'eval', 'demo'))),
    ('no_internal_names', lambda: all(k not in _help(c) for c in ('train', 'eval', 'demo') for k in ('ARCHS', 'DATASETS', 'METHODS', 'make_attack', 'default_step'))),
    ('defaults_once', lambda: all(o.count('default') <= 1 for c in ('train', 'eval', 'demo') for o in _help(c).split('\n  -')[1:])
                              and all('(default: None)' not in _help(c) for c in ('train', 'eval', 'demo'))),
    ('ckpt_required_not_said_optional', lambda: '--ckpt CKPT' in _help('eval') and '[--ckpt' not in _help('eval')),
    ('one_name_for_test_images', lambda: all('--n-valid' in _help(c) for c in ('train', 'eval', 'demo'))
                                         and '--n N' not in _help('eval') and '--n-eval' not in _help('demo')),
    ('demo_quiet', lambda: '--quiet' in _help('demo')),
    ('version', lambda: '--version' in _help('train')),
]

@pytest.mark.parametrize('name,f', HELP, ids=[h[0] for h in HELP])
def test_help(name, f): assert f()

def test_version_and_usage(capsys):
    import sensible_adv
    assert main(['--version']) == 0 and capsys.readouterr().out.strip() == f'sensible_adv {sensible_adv.__version__}'
    assert main(['--help']) == 0 and '--version' in capsys.readouterr().out

def test_train_quiet_prints_one_line(tmp_path, capsys):
    assert main(['train', '--dataset', 'digits', '--method', 'natural', '--epochs', '1', '--n-train', '64', '--n-valid', '32',
                 '--device', 'cpu', '--quiet', '--out', str(tmp_path/'q')]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and str(tmp_path/'q') in out[0] and 'epoch 0' in out[0] and 'accuracy' in out[0], out

def test_eval_into_a_closed_pipe(run, tmp_path):
    "`eval ... | head`: the report is written; a reader that has gone is not an error (exit 0, no 'Broken pipe')."
    code = ("import sys; from sensible_adv.cli import main; "
            f"sys.exit(main(['eval', '--ckpt', {str(run)!r}, '--attacks', 'fgsm', '--n-valid', '16', '--name', 'pipe', '--quiet', '--device', 'cpu']))")
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': str(Path(__file__).parents[1])}
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdout.close()                                   # the reader goes away at once
    err = p.stderr.read().decode(); rc = p.wait(120)
    assert rc == 0 and 'Broken pipe' not in err and (run/'pipe.md').exists(), (rc, err)

# ---------------------------------------------------------------- 8. real processes (slow)
@pytest.mark.slow
def test_lock_survives_sigkill(tmp_path):
    "A writer killed with SIGKILL leaves no stale lock: the next writer gets the folder."
    code = ("import time; from sensible_adv.core import folder_lock\n"
            f"with folder_lock({str(tmp_path/'r')!r}): print('held', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, env={**os.environ, 'PYTHONPATH': str(Path(__file__).parents[1])})
    assert p.stdout.readline().strip() == b'held'
    with pytest.raises(FolderLockedError, match=f'process {p.pid}'): _enter(folder_lock(tmp_path/'r'))
    p.kill(); p.wait()
    _enter(folder_lock(tmp_path/'r'))

CTRL_C_RUNS = {   # how main is called: the console script (it owns the process) and a call from Python
    'script': "import sys; sys.argv = ['sensible_adv', 'train', '--dataset', 'digits', '--device', 'cpu']; "
              "from sensible_adv.cli import main; sys.exit(main())",
    'python': "import sys; from sensible_adv.cli import main; sys.exit(main(['train', '--dataset', 'digits', '--device', 'cpu']))"}

@pytest.mark.slow
@pytest.mark.parametrize('how,delay', [('script', 0.8), ('script', 1.2), ('python', 0.8)])
def test_ctrl_c_during_imports(how, delay, tmp_path):
    """Ctrl-C while torch and fastai import prints one line, no traceback, exit 130; it never interrupts an import
    (a third-party import swallowed it and failed later: a RecursionError in numpy, a ValueError; CI, stop 30)."""
    p = subprocess.Popen([sys.executable, '-c', CTRL_C_RUNS[how]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                         env={**os.environ, 'PYTHONPATH': str(Path(__file__).parents[1])},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as a terminal would start it
    time.sleep(delay); p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130 and err.decode().strip() == 'sensible_adv train: interrupted', err.decode()
    assert not list(tmp_path.iterdir())                # nothing written: the command had not started

# ---------------------------------------------------------------- the tables
TABLES = [('core', CORE), ('attack_cfg', ATTACK_CFG), ('attack_data', ATTACK_DATA), ('callbacks', CALLBACKS),
          ('learners', LEARNERS), ('reports', REPORTS)]
CASES = [(f'{t}:{c[0]}', *c[1:]) for t, cases in TABLES for c in cases]

@pytest.mark.parametrize('name,f,exc,words', CASES, ids=[c[0] for c in CASES])
def test_case(name, f, exc, words):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        check(f, exc, words)
