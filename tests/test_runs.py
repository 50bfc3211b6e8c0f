"""Run folders, resumes, checkpoints, `evaluate_run` and the demo, tested in-process through the package.

The notebook `09_runs` tests the same behaviour on its own definitions, and `test_cli.py`/`test_faults.py` through
the command line in a subprocess: neither reaches the exported module's code inside this process, which is what a
mutation run (`make mutate`) switches to its mutants. These tests do, on tiny runs of the bundled digits (one core,
a few seconds each). Each is written from what a run folder promises: nothing a finished epoch wrote is lost or
rewritten, a resume ends with the uninterrupted run's weights, and every refusal names the argument.
"""
import csv, io, json, os, re, shutil, signal, time, warnings
from contextlib import redirect_stdout
from pathlib import Path
import numpy as np, pytest, torch
from sensible_adv.runs import (train, read_config, read_checkpoint, last_checkpoint, load_run, load_run_folder,
                               evaluate_run, rng_state, set_rng_state, check_name, refuse_overwrite,
                               demo, demo_table, DEMO_FILES, TRAIN_KEYS, _epochs_done, _cell, _number,
                               _demo_markdown, _aa_note)
from sensible_adv.data import digits_dls, DATASET_INFO
from sensible_adv.interrupt import deferred_interrupt
from sensible_adv.core import Normalized, writable_dir as _writable_dir
from sensible_adv.evaluate import pixel_batches
from sensible_adv.callback import METHOD_NAMES
import sensible_adv

torch.set_num_threads(1)
KW = dict(dataset='digits', method='pgd', steps=2, n_train=96, n_valid=32, bs=32, quiet=True, device='cpu')
EPOCHS = 2

def _weights_equal(a:dict, b:dict) -> bool: return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
def _rows(d:Path) -> list: return list(csv.reader(open(d/'history.csv')))
def _model(d:Path) -> dict: return torch.load(d/'model.pth', weights_only=True)

# Function-scoped on purpose (about a second each): a mutation run maps each test to the functions it calls, and
# what a module-scoped fixture calls would be mapped to the first test that used it only.
@pytest.fixture
def run(tmp_path):
    "A finished two-epoch PGD-AT run on 96 digits (read-only: tests that change a run use `copy`)."
    d = tmp_path/'r'
    train(epochs=EPOCHS, out=str(d), **KW)
    return d

@pytest.fixture
def copy(run, tmp_path):
    "A copy of the finished run to change."
    shutil.copytree(run, tmp_path/'c'); return tmp_path/'c'

# The fixture's model (two epochs on 96 digits) predicts one class everywhere, so no attack moves the images of that
# class and the unbounded sanity check rightly warns. Tests of the run folder that evaluate it expect that warning; the
# check's own tests are in 07_evaluate.
_ONE_CLASS_MODEL = pytest.mark.filterwarnings('ignore::sensible_adv.evaluate.GradientMaskingWarning')

# ---------------------------------------------------------------- what a finished run folder holds
def test_run_folder_holds_config_log_checkpoints_and_weights(run):
    assert sorted(p.name for p in run.iterdir()) == ['.lock', 'checkpoints', 'config.json', 'history.csv', 'model.pth']   # .lock: one writer at a time
    assert sorted(p.name for p in (run/'checkpoints').iterdir()) == ['epoch_0.pth', 'epoch_1.pth']
    cfg = json.loads((run/'config.json').read_text())
    assert set(cfg['args']) == set(TRAIN_KEYS)
    assert {k: cfg['args'][k] for k in ('dataset', 'method', 'steps', 'n_train', 'n_valid', 'bs', 'epochs')} == \
           dict(dataset='digits', method='pgd', steps=2, n_train=96, n_valid=32, bs=32, epochs=EPOCHS)
    assert cfg['args']['eps'] is None and cfg['eps_used'] == DATASET_INFO['digits'].eps   # the default, recorded as used
    assert cfg['arch_used'] == DATASET_INFO['digits'].default_arch
    assert (cfg['world_size'], cfg['train_images_per_rank'], cfg['device']) == (1, 96, 'cpu')
    rows = _rows(run)
    assert rows[0][:3] == ['epoch', 'train_loss', 'valid_loss'] and rows[0][-1] == 'time'
    assert [r[0] for r in rows[1:]] == ['0', '1']
    assert all(float(v) > 0 for r in rows[1:] for v in r[1:3])   # losses written as numbers, not tensors' reprs
    assert b'\r' not in (run/'history.csv').read_bytes()                # plain newlines, as pandas and csv expect

def test_checkpoints_hold_each_epochs_state(run):
    rows = _rows(run)
    for n in range(EPOCHS):
        ck = read_checkpoint(run/'checkpoints'/f'epoch_{n}.pth')
        assert (ck['format'], ck['epoch']) == (1, n)
        assert ck['names'] == rows[0] and ck['history'] == rows[1:n + 2]   # the log up to and including this epoch
        assert ck['opt']['state'] and all(isinstance(v, (int, float, bool, tuple, list)) or v is None
                                          for h in ck['opt']['hypers'] for v in h.values())
        assert set(ck['rng']) >= {'torch', 'numpy', 'python', 'loaders'} and len(ck['rng']['loaders']) == 2
        val, count = ck['smooth_loss']
        assert torch.is_tensor(val) and count > 0
    last = read_checkpoint(run/'checkpoints'/f'epoch_{EPOCHS - 1}.pth')
    assert _weights_equal(last['model'], _model(run))                     # model.pth is the last epoch's weights
    first = read_checkpoint(run/'checkpoints'/'epoch_0.pth')
    assert not _weights_equal(first['model'], last['model'])

# ---------------------------------------------------------------- resume
def test_resume_after_a_lost_epoch_ends_with_the_same_weights(run, copy):
    ck0 = (copy/'checkpoints'/'epoch_0.pth').read_bytes()
    (copy/'checkpoints'/'epoch_1.pth').unlink(); (copy/'model.pth').unlink()
    (copy/'checkpoints'/'.epoch_1.pth.x.tmp').write_bytes(b'half a write')  # what a killed write leaves
    train(epochs=EPOCHS, out=str(copy), resume=True, **KW)
    assert _weights_equal(_model(copy), _model(run)), 'the resumed run ended with other weights than the uninterrupted one'
    assert (copy/'checkpoints'/'epoch_0.pth').read_bytes() == ck0         # resumed from it, not rewritten
    assert sorted(p.name for p in (copy/'checkpoints').iterdir()) == ['epoch_0.pth', 'epoch_1.pth']
    strip = lambda rows: [r[:-1] for r in rows]                           # all but the wall time
    assert strip(_rows(copy)) == strip(_rows(run))
    assert json.loads((copy/'config.json').read_text()) == json.loads((run/'config.json').read_text())

def test_resume_with_a_schedule_of_c_ends_with_the_same_weights(tmp_path):
    kw = {**KW, 'method': 'sense', 'c': 0.3, 'c_start': 0.9}
    a, b = tmp_path/'a', tmp_path/'b'
    train(epochs=EPOCHS, out=str(a), **kw)
    shutil.copytree(a, b); (b/'checkpoints'/'epoch_1.pth').unlink(); (b/'model.pth').unlink()
    train(epochs=EPOCHS, out=str(b), resume=True, **kw)      # the second epoch's c comes from fastai's progress, as before
    assert _weights_equal(_model(b), _model(a))
    rows = _rows(a); c = [float(r[rows[0].index('c')]) for r in rows[1:]]
    assert 0.9 > c[0] > c[1] > 0.3, c                          # each epoch's mean c, falling from c_start towards c
    assert [r[:-1] for r in _rows(b)] == [r[:-1] for r in rows]
    assert (read_config(a)['args']['c_start'], read_config(a)['args']['c']) == (0.9, 0.3)

def test_resume_of_a_finished_run_trains_nothing(run, copy):
    before = {p.name: p.read_bytes() for p in (copy/'checkpoints').iterdir()}
    learn = train(epochs=EPOCHS, out=str(copy), resume=True, **KW)
    assert {p.name: p.read_bytes() for p in (copy/'checkpoints').iterdir()} == before
    assert _weights_equal(_model(copy), _model(run))
    assert _weights_equal(learn.model.state_dict(), _model(run))

def test_resume_logs_only_the_epochs_it_trains(run, copy, capsys):
    (copy/'checkpoints'/'epoch_1.pth').unlink(); (copy/'model.pth').unlink()
    capsys.readouterr()
    learn = train(epochs=EPOCHS, out=str(copy), resume=True, **{**KW, 'quiet': False})
    rows = [l.split() for l in capsys.readouterr().out.splitlines() if l.split() and l.split()[0].isdigit()]
    assert [r[0] for r in rows] == ['1'], rows                            # the skipped epoch 0 prints no row
    assert learn.logger is print                                          # the muted logger is given back after the fit
    assert _weights_equal(_model(copy), _model(run))

def test_resume_of_a_finished_run_prints_nothing_and_fits_nothing(run, copy, capsys):
    capsys.readouterr()
    learn = train(epochs=EPOCHS, out=str(copy), resume=True, **{**KW, 'quiet': False})
    assert 'train_loss' not in capsys.readouterr().out and learn.logger is print    # no fit started: no table at all
    from sensible_adv.runs import RunFolder                                  # a fit whose every epoch was done before
    learn.fit(EPOCHS, cbs=RunFolder(copy, last_checkpoint(copy)))
    assert learn.logger is print and [r[0] for r in _rows(copy)[1:]] == ['0', '1']   # the logger given back, no row added

def test_config_is_indented_json_and_a_batch_of_one_is_allowed(tmp_path):
    train(epochs=1, out=str(tmp_path/'r'), **{**KW, 'method': 'natural', 'bs': 1, 'n_train': 4, 'n_valid': 4})
    text = (tmp_path/'r'/'config.json').read_text()
    assert text.startswith('{\n "args": {\n  "dataset": "digits",\n') and json.loads(text)['args']['bs'] == 1

def test_resume_without_a_finished_epoch_starts_at_zero(run, copy, capsys):
    for p in (copy/'checkpoints').iterdir(): p.unlink()
    (copy/'model.pth').unlink()
    train(epochs=EPOCHS, out=str(copy), resume=True, **KW)
    assert 'no finished epoch' in capsys.readouterr().err
    assert _weights_equal(_model(copy), _model(run))                      # the same run, from the start

def test_resume_refuses_other_arguments_and_force(copy):
    with pytest.raises(ValueError, match="method was 'pgd', now 'natural'"): train(epochs=EPOCHS, out=str(copy), resume=True, **{**KW, 'method': 'natural'})
    with pytest.raises(ValueError, match="epochs was 2, now 3"): train(epochs=3, out=str(copy), resume=True, **KW)
    with pytest.raises(ValueError, match='`resume` and `force`'): train(epochs=EPOCHS, out=str(copy), resume=True, force=True, **KW)
    with pytest.raises(FileNotFoundError, match='no run in'): train(epochs=EPOCHS, out=str(copy/'none'), resume=True, **KW)

def test_a_new_run_never_replaces_an_old_one_without_force(copy):
    w = _model(copy)
    with pytest.raises(FileExistsError, match='is not empty'): train(epochs=1, out=str(copy), **KW)
    assert _weights_equal(_model(copy), w) and len(list((copy/'checkpoints').iterdir())) == 2
    (copy/'notes.txt').write_text('mine')
    train(epochs=1, out=str(copy), force=True, **{**KW, 'method': 'natural'})
    assert sorted(p.name for p in (copy/'checkpoints').iterdir()) == ['epoch_0.pth']   # the old epoch 1 is gone
    assert (copy/'notes.txt').read_text() == 'mine'                       # force removes run files only
    assert read_config(copy)['args']['method'] == 'natural' and [r[0] for r in _rows(copy)[1:]] == ['0']
    assert not _weights_equal(_model(copy), w)

def _spy_build(monkeypatch, seen, **small):
    "Record what `train` hands to `build_learner` and to the fit; build the learner with `small` instead (tiny and fast)."
    import sensible_adv.runs as runs
    real = runs.build_learner
    def build(*a, **k):
        seen['build'] = (a, k)
        learn = real(*a, **{**k, **small})
        fit = learn.fit_one_cycle
        def one_cycle(n, lr, **kw): seen['fit'] = (n, lr); return fit(1, lr, **kw)
        learn.fit_one_cycle = one_cycle
        return learn
    monkeypatch.setattr(runs, 'build_learner', build)

def test_train_defaults_reach_the_learner_and_the_folder(tmp_path, monkeypatch, capsys):
    "Called bare, in a fresh folder: the documented defaults go to `build_learner` and the fit, the run to runs/run."
    from sensible_adv.callback import DEFAULT_C, DEFAULT_BETA, DEFAULT_TAU, DEFAULT_WARMUP
    seen = {}
    _spy_build(monkeypatch, seen, n_train=32, n_valid=16, bs=16)
    monkeypatch.chdir(tmp_path)
    train()
    a, k = seen['build']
    assert a == ('digits', 'sense') and k == dict(
        arch=None, width=None, eps=None, bs=128, n_train=None, n_valid=None, root=None, download=False, opt='adam', wd=5e-4,
        seed=0, device='auto', steps=10, step=None, c=DEFAULT_C, c_start=None, warmup=DEFAULT_WARMUP, loss='ce')   # sense's options only
    assert seen['fit'] == (10, 3e-3)
    assert (tmp_path/'runs'/'run'/'model.pth').exists() and 'epoch' in capsys.readouterr().out   # not quiet: the table

def test_train_hands_every_argument_on_and_records_it(tmp_path, monkeypatch):
    import platform, sensible_adv
    seen = {}
    _spy_build(monkeypatch, seen)
    given = dict(dataset='digits', method='trades', arch='digits_cnn', width=2, eps=.2, steps=3, step=.05, beta=2., bs=16, opt='sgd', wd=1e-4, seed=5, n_train=32, n_valid=16, root='some/root', download=True)
    train(epochs=1, lr=1e-3, out=str(tmp_path/'r'), device='cpu', quiet=True, **given)
    a, k = seen['build']
    assert a == ('digits', 'trades') and k == {**{n: v for n, v in given.items() if n not in ('dataset', 'method')}, 'device': 'cpu'}
    assert seen['fit'] == (1, 1e-3)
    cfg = read_config(tmp_path/'r')
    assert cfg['args'] == {**{n: v for n, v in given.items() if n in TRAIN_KEYS}, 'epochs': 1, 'lr': 1e-3,
                           **dict.fromkeys(('c', 'c_start', 'tau', 'warmup', 'loss'))}     # options trades does not take: recorded as unused
    assert (cfg['root'], cfg['eps_used'], cfg['arch_used']) == ('some/root', .2, 'digits_cnn')
    assert (cfg['torch'], cfg['python'], cfg['sensible_adv']) == (torch.__version__, platform.python_version(), sensible_adv.__version__)

def test_train_messages_name_what_is_wrong(copy, tmp_path, capsys):
    with pytest.raises(ValueError, match=r'^`resume` and `force` exclude each other: continue the run, or replace it$'):
        train(epochs=EPOCHS, out=str(copy), resume=True, force=True, **KW)
    with pytest.raises(ValueError, match=f"^`resume`: arguments differ from the run in '{copy}': method was 'pgd', now 'natural', bs was 32, now 16$"):
        train(epochs=EPOCHS, out=str(copy), resume=True, **{**KW, 'method': 'natural', 'bs': 16})
    with pytest.raises(FileExistsError, match=f"^`out`: '{copy}' is not empty; pass --resume to continue the run there, --force to replace it, or choose another --out$"):
        train(epochs=EPOCHS, out=str(copy), **KW)
    for kw, arg in ((dict(epochs=0), 'epochs'), (dict(lr=0.), 'lr'), (dict(bs=0), 'bs')):
        with pytest.raises(ValueError, match=f'^`{arg}` must be in'): train(out=str(tmp_path/'x'), **{**KW, **kw})
    (copy/'checkpoints'/'epoch_1.pth').unlink()
    capsys.readouterr(); train(epochs=EPOCHS, out=str(copy), resume=True, **KW)
    assert 'no finished epoch' not in capsys.readouterr().err             # it resumed from epoch 0's checkpoint

def test_read_config_messages(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^no run in '{tmp_path}' \\(no config.json\\): not a run folder of `sensible_adv train`$"): read_config(tmp_path)
    (tmp_path/'config.json').write_text('{"x": 1}')
    with pytest.raises(ValueError, match=f'^{tmp_path}/config.json is corrupt \\(no "args"\\); it cannot be resumed or evaluated$'): read_config(tmp_path)
    (tmp_path/'config.json').write_text('{"args": ')
    with pytest.raises(ValueError, match=r'is corrupt \(Expecting value: line 1 column 10'): read_config(tmp_path)

def test_arguments_checked_before_any_work(tmp_path):
    for kw, arg in ((dict(epochs=0), 'epochs'), (dict(bs=0), 'bs'), (dict(lr=0.), 'lr'), (dict(epochs=1.5), 'epochs')):
        with pytest.raises((ValueError, TypeError), match=arg): train(out=str(tmp_path/'x'), **{**KW, **kw})
    assert not (tmp_path/'x').exists()
    (tmp_path/'file').write_text('')
    with pytest.raises(ValueError, match=f"`out`: cannot write to folder '{tmp_path}/file/sub' \\(Not a directory\\)"): _writable_dir(tmp_path/'file'/'sub')
    assert _writable_dir(tmp_path/'new'/'deep').is_dir() and not list((tmp_path/'new'/'deep').iterdir())

def test_only_rank_0_changes_the_folder(copy, tmp_path, monkeypatch):
    "Under torchrun every rank runs `train`; two that both create, probe or clear the folder race each other (one once"
    " failed with 'cannot write to folder', its probe file removed by the other). A rank > 0 only reads the folder."
    monkeypatch.setenv('RANK', '1')
    train(epochs=1, out=str(tmp_path/'new'), **KW)
    assert not (tmp_path/'new').exists()
    before = {p.relative_to(copy): p.read_bytes() for p in copy.rglob('*') if p.is_file()}
    (copy/'checkpoints'/'.epoch_1.pth.x.tmp').write_bytes(b'rank 0 removes it')
    train(epochs=1, out=str(copy), **KW)                                   # rank 0 alone refuses (or clears, with force)
    train(epochs=1, out=str(copy), force=True, **KW)
    train(epochs=EPOCHS, out=str(copy), resume=True, **KW)
    (copy/'checkpoints'/'.epoch_1.pth.x.tmp').unlink()
    assert {p.relative_to(copy): p.read_bytes() for p in copy.rglob('*') if p.is_file()} == before

# ---------------------------------------------------------------- checkpoints that cannot be used
def test_unreadable_checkpoint_is_set_aside_and_the_previous_one_used(copy):
    (copy/'checkpoints'/'epoch_1.pth').write_bytes(b'\x00' * 100)
    with pytest.warns(UserWarning, match='unreadable checkpoint.*falling back'): ck = last_checkpoint(copy)
    assert ck['epoch'] == 0
    assert sorted(p.name for p in (copy/'checkpoints').iterdir()) == ['epoch_0.pth', 'epoch_1.pth.corrupt']

def test_checkpoint_of_another_epoch_is_ignored(copy):
    shutil.copy(copy/'checkpoints'/'epoch_0.pth', copy/'checkpoints'/'epoch_3.pth')
    with pytest.warns(UserWarning, match='holds epoch 0, not 3'): ck = last_checkpoint(copy)
    assert ck['epoch'] == 1 and (copy/'checkpoints'/'epoch_3.pth').exists()

def test_epochs_done_reads_only_checkpoint_names(copy):
    for n in ('epoch_x.pth', 'epoch_7.pth.corrupt', 'model.pth', 'epoch_12.pt', 'xepoch_5.pth'): (copy/'checkpoints'/n).write_bytes(b'')
    (copy/'checkpoints'/'epoch_10.pth').write_bytes(b'')
    assert _epochs_done(copy) == [10, 1, 0]                              # numbers, newest first (10 after 1)
    for p in (copy/'checkpoints').iterdir(): p.unlink()
    assert last_checkpoint(copy) is None

def test_read_checkpoint_says_why_a_file_cannot_be_used(tmp_path):
    (tmp_path/'junk.pth').write_bytes(b'not a checkpoint'); (tmp_path/'empty.pth').write_bytes(b'')
    with pytest.raises(ValueError, match=r'junk.pth: unreadable checkpoint \(Weights only load failed') as e: read_checkpoint(tmp_path/'junk.pth')
    assert len(str(e.value).split(' (', 1)[1]) == 120 + 1          # the error's first line, cut at 120 characters, and ')'
    with pytest.raises(ValueError, match=r'empty.pth: unreadable checkpoint \(EOFError\)'): read_checkpoint(tmp_path/'empty.pth')
    torch.save({'model': {}}, tmp_path/'other.pth'); torch.save([1], tmp_path/'list.pth')
    ok = dict(format=1, epoch=0, model={}, opt={}, rng={}, history=[], names=[], smooth_loss=[])
    torch.save({**ok, 'format': 2}, tmp_path/'v2.pth')
    torch.save({k: v for k, v in ok.items() if k != 'rng'}, tmp_path/'norng.pth')
    for n in ('other.pth', 'list.pth', 'v2.pth', 'norng.pth'):
        with pytest.raises(ValueError, match='not a checkpoint written by'): read_checkpoint(tmp_path/n)
    torch.save(ok, tmp_path/'ok.pth')
    assert read_checkpoint(tmp_path/'ok.pth') == ok
    torch.save({**ok, 'model': Pickled()}, tmp_path/'pickle.pth')         # arbitrary objects are never unpickled
    with pytest.raises(ValueError, match='pickle.pth: unreadable checkpoint'): read_checkpoint(tmp_path/'pickle.pth')
    if torch.cuda.is_available(): return
    torch.save({**ok, 'model': {'w': torch.zeros(1)}}, tmp_path/'ok.pth')
    assert read_checkpoint(tmp_path/'ok.pth')['model']['w'].device.type == 'cpu'

class Pickled:
    "An object a checkpoint must not hold (loading it would run its pickle code)."

def test_read_config_says_why_a_folder_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run in .*no config.json"): read_config(tmp_path)
    for text in ('{"args": ', '{"x": 1}', '{"args": [1]}', '[1]', '\xff'):
        (tmp_path/'config.json').write_bytes(text.encode('latin-1'))
        with pytest.raises(ValueError, match='config.json is corrupt'): read_config(tmp_path)
    (tmp_path/'config.json').write_text('{"args": {"a": 1}, "b": 2}')
    assert read_config(tmp_path) == {'args': {'a': 1}, 'b': 2}

# ---------------------------------------------------------------- loading a run
def test_load_run_from_the_folder_or_any_weights_file_in_it(run):
    for p, weights in ((run, _model(run)), (run/'model.pth', _model(run)),
                       (run/'checkpoints'/'epoch_0.pth', read_checkpoint(run/'checkpoints'/'epoch_0.pth')['model'])):
        m, cfg = load_run(p, device='cpu')
        assert m.training is False and cfg == read_config(run)
        assert _weights_equal(m.state_dict(), weights)
    assert load_run_folder(run/'model.pth') == run and load_run_folder(run/'checkpoints'/'epoch_1.pth') == run

def test_load_run_errors_name_the_file(copy, tmp_path):
    with pytest.raises(FileNotFoundError, match="`ckpt`: .* does not exist"): load_run(tmp_path/'nothing')
    with pytest.raises(FileNotFoundError, match=f"`ckpt`: '{tmp_path}/nothing' does not exist"): load_run(tmp_path/'nothing')
    (copy/'model.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match=r'model.pth: unreadable weights \(Weights only load failed') as e: load_run(copy)
    assert len(str(e.value).split(' (', 1)[1]) == 120 + 1
    (copy/'model.pth').write_bytes(b'')
    with pytest.raises(ValueError, match=r'model.pth: unreadable weights \(EOFError\)'): load_run(copy)
    torch.save({'w': Pickled()}, copy/'model.pth')
    with pytest.raises(ValueError, match='model.pth: unreadable weights'): load_run(copy)
    torch.save({'w': torch.zeros(2)}, copy/'model.pth')
    with pytest.raises(ValueError, match=r"model.pth: these weights are not those of the run's architecture 'digits_cnn' \(width None\): Missing key"): load_run(copy)
    (copy/'model.pth').unlink()
    with pytest.raises(FileNotFoundError, match=f"`ckpt`: no weights at '{copy}/model.pth' \\(has the run finished\\? `--resume` completes it\\)"): load_run(copy)

def test_load_run_builds_the_runs_own_architecture_and_width(tmp_path):
    for kw in (dict(arch='resnet20'), dict(width=2)):
        d = tmp_path/next(iter(kw))
        train(epochs=1, out=str(d), **{**KW, 'method': 'natural', **kw})
        m, cfg = load_run(d)                                              # device 'auto': the CPU here
        assert _weights_equal(m.state_dict(), _model(d)) and next(m.parameters()).device.type == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert type(load_run(tmp_path/'arch')[0]).__name__ != type(load_run(tmp_path/'width')[0]).__name__

# ---------------------------------------------------------------- evaluate_run
@_ONE_CLASS_MODEL
def test_evaluate_run_writes_a_report_and_never_replaces_one(copy, tmp_path):
    buf = io.StringIO()
    with redirect_stdout(buf): df = evaluate_run(str(copy), attacks='fgsm,pgd5', n=32, bs=16, device='cpu', quiet=True)
    assert list(df.attack[:3]) == ['natural', 'FGSM', 'PGD-5'] and (df.n[:3] == 32).all()
    assert df.eps.iloc[1] == pytest.approx(read_config(copy)['eps_used'])
    assert '| PGD-5 |' in buf.getvalue()                                 # the report printed
    saved = json.loads((copy/'robustness.json').read_text())
    assert (copy/'robustness.md').exists() and set(saved) == {'rows', 'checks', 'config'}
    assert [r['attack'] for r in saved['rows']][:3] == ['natural', 'FGSM', 'PGD-5'] and saved['checks']
    # natural accuracy is the model's on those 32 validation images
    m, cfg = load_run(copy, device='cpu')
    dls = digits_dls(bs=32, n_train=32, n_valid=32, seed=cfg['args']['seed'], device='cpu')
    x, y = dls.valid.one_batch()
    with torch.no_grad(): nat = (m(x).argmax(1) == y).float().mean().item()
    assert df.accuracy.iloc[0] == pytest.approx(nat)
    assert (df.accuracy.iloc[1:3] <= df.accuracy.iloc[0] + 1e-9).all()
    with pytest.raises(FileExistsError, match="a report named 'robustness' already exists"):
        evaluate_run(str(copy), attacks='fgsm', n=8, device='cpu', quiet=True)
    with redirect_stdout(io.StringIO()):
        evaluate_run(str(copy), attacks='fgsm', n=8, device='cpu', quiet=True, force=True)
        evaluate_run(str(copy/'checkpoints'/'epoch_0.pth'), attacks='fgsm', n=8, eps=0.05, device='cpu', quiet=True,
                     out=str(tmp_path/'elsewhere'), name='e0')
    assert json.loads((copy/'robustness.json').read_text()) != saved     # replaced, with --force
    assert (tmp_path/'elsewhere'/'e0.json').exists() and not (copy/'e0.json').exists()

def test_evaluate_run_refuses_bad_arguments_before_any_work(copy):
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'ckpt'"): evaluate_run()   # required, as on the command line
    with pytest.raises(ValueError, match='^`ckpt` is required: the run folder written by `sensible_adv train --out DIR`$'): evaluate_run(None)
    with pytest.raises(ValueError, match='plain file name'): evaluate_run(str(copy), name='../x')
    with pytest.raises(ValueError, match="unknown attack 'deepfoo'"): evaluate_run(str(copy), attacks='pgd20,deepfoo', name='other')
    for kw, arg in ((dict(n=0), '`n`'), (dict(bs=0), '`bs`')):
        with pytest.raises(ValueError, match=arg): evaluate_run(str(copy), **kw)
    assert not list(copy.glob('other*')) and not (copy/'robustness.json').exists()

@_ONE_CLASS_MODEL
def test_evaluate_run_passes_the_runs_settings_on(copy, tmp_path, monkeypatch):
    "What `evaluate_run` hands to the data, the report and the writer: the run's seed and root, its own n, bs, seed, quiet."
    import inspect, sensible_adv.runs as runs
    seen = {}
    def spy(name):
        real = getattr(runs, name)
        def f(*a, **k): seen[name] = (a, k); return real(*a, **k)
        monkeypatch.setattr(runs, name, f)
    for name in ('get_dls', 'robustness_report', 'save_report'): spy(name)
    cfg = json.loads((copy/'config.json').read_text()); cfg['root'] = 'recorded/root'
    (copy/'config.json').write_text(json.dumps(cfg))                       # the digits ignore a root: only its passing is seen
    with redirect_stdout(io.StringIO()): evaluate_run(str(copy), attacks='fgsm', n=8, bs=4, seed=3, device='cpu', quiet=True)
    a, k = seen['get_dls']
    assert a == ('digits',) and k == dict(root='recorded/root', bs=4, n_train=1, n_valid=8, seed=cfg['args']['seed'], device=torch.device('cpu'))   # the training loader is not used
    a, k = seen['robustness_report']
    assert a[2] == cfg['eps_used'] and (k['n'], k['seed'], k['verbose']) == (8, 3, False) and k['attacks'] == [('fgsm', None)]
    from sensible_adv.evaluate import find_normalize
    want = find_normalize(digits_dls(bs=4, n_train=4, n_valid=8, device='cpu'))             # the loader's Normalize
    assert want is not None and all(torch.equal(torch.as_tensor(g).cpu(), torch.as_tensor(w).cpu()) for g, w in zip(k['norm_stats'], want))
    assert seen['save_report'][1]['model_info'] == dict(architecture=cfg['arch_used'], dataset='digits')
    with redirect_stdout(io.StringIO()):
        evaluate_run(str(copy), attacks='fgsm', n=1, bs=1, device='cpu', quiet=False, name='one', root='given')
    assert seen['get_dls'][1]['root'] == 'given' and seen['robustness_report'][1]['verbose'] is True
    defaults = {k: v.default for k, v in inspect.signature(evaluate_run).parameters.items()}
    assert {k: defaults[k] for k in ('attacks', 'n', 'bs', 'seed', 'quiet', 'name', 'force')} == \
           dict(attacks='fgsm,pgd20,cw,aa', n=None, bs=256, seed=0, quiet=False, name='robustness', force=False)   # None: EVAL_IMAGES or all

def test_evaluate_run_defaults(copy, monkeypatch):
    "Called with the run alone: the documented defaults reach the data and the report (which here runs FGSM on 4 images)."
    import sensible_adv.runs as runs
    from sensible_adv.attacks import attack_list
    seen, real_dls, real_report = {}, runs.get_dls, runs.robustness_report
    def get_dls(*a, **k): seen['dls'] = k; return real_dls(*a, **{**k, 'bs': 4, 'n_train': 4, 'n_valid': 4})
    def report(*a, **k): seen['report'] = k; return real_report(*a, **{**k, 'attacks': [('fgsm', None)], 'n': 4, 'verbose': False})
    monkeypatch.setattr(runs, 'get_dls', get_dls); monkeypatch.setattr(runs, 'robustness_report', report)
    with redirect_stdout(io.StringIO()): evaluate_run(str(copy))
    assert seen['dls'] == dict(root=None, bs=256, n_train=1, n_valid=1000, seed=0, device=torch.device('cuda' if torch.cuda.is_available() else 'cpu'))
    k = seen['report']
    assert (k['attacks'], k['n'], k['seed'], k['verbose']) == (attack_list('fgsm,pgd20,cw,aa'), None, 0, True)   # all 1000 loaded
    assert (copy/'robustness.json').exists()

def test_evaluate_run_refuses_to_overwrite_any_of_its_three_files(copy, tmp_path):
    for ext in ('.json', '.md', '.robustbench.json'):
        (copy/f'r{ext[1]}{ext}').write_text('mine')
        with pytest.raises(FileExistsError, match=f"a report named 'r{ext[1]}' already exists"):
            evaluate_run(str(copy), attacks='fgsm', n=4, device='cpu', quiet=True, name=f'r{ext[1]}')
        assert (copy/f'r{ext[1]}{ext}').read_text() == 'mine'
    (tmp_path/'file').write_text('')
    with pytest.raises(ValueError, match='^`out`: cannot write to folder'): evaluate_run(str(copy), attacks='fgsm', n=4, out=str(tmp_path/'file'/'x'))
    with redirect_stdout(io.StringIO()): evaluate_run(str(copy/'checkpoints'/'epoch_0.pth'), attacks='fgsm', n=4, device='cpu', quiet=True, name='e0')
    assert (copy/'e0.json').exists()                                      # a checkpoint's report goes to its run folder

# ---------------------------------------------------------------- the pieces
def test_rng_state_round_trip_covers_every_generator():
    dls = digits_dls(bs=16, n_train=64, n_valid=16, device='cpu')
    st = rng_state(dls)
    draw = lambda: (torch.rand(3), np.random.rand(2), __import__('random').random(), [dl.rng.random() for dl in dls.loaders])
    a = draw(); set_rng_state(st, dls); b = draw()
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
    c = draw()
    assert not torch.equal(b[0], c[0]) and c[3] != b[3]
    json.dumps(st['python']) and json.dumps(st['loaders'])              # plain values (weights_only loading needs that)
    torch.save(st, io.BytesIO())
    plain = rng_state(); x = torch.rand(2); set_rng_state(plain); assert torch.equal(torch.rand(2), x)   # without loaders

def test_names_and_overwrites_checked(tmp_path):
    assert check_name('robustness_v2.1') == 'robustness_v2.1' and check_name('-x') == '-x' and check_name('AA_Fgsm') == 'AA_Fgsm'
    with pytest.raises(ValueError, match='^`name` must be a plain file name'): check_name('a/b')
    for bad in ('../x', 'a/b', '.hidden', '', 'a b', None, 3):
        with pytest.raises(ValueError, match='`stem` must be a plain file name'): check_name(bad, 'stem')
    (tmp_path/'r.json').write_text('{}')
    (tmp_path/'s.json').write_text('{}')
    with pytest.raises(FileExistsError, match=f"^a report already exists \\({tmp_path}/r.json, {tmp_path}/s.json\\); pass `force=True` \\(--force\\) to replace it$"):
        refuse_overwrite([tmp_path/'q.json', tmp_path/'r.json', tmp_path/'s.json'], False, 'a report')
    refuse_overwrite([tmp_path/'r.json'], True, 'a report'); refuse_overwrite([tmp_path/'q.json'], False, 'a report')

def test_cells_and_numbers_are_plain():
    assert _cell(torch.tensor(0.25)) == '0.25' and _cell(np.float32(0.5)) == '0.5' and _cell(1.0) == '1.0'
    assert _cell(None) == '' and _cell(3) == '3' and _cell('00:01') == '00:01'
    assert type(_number(np.float64(0.5))) is float and _number(torch.tensor(2)) == 2 and type(_number(torch.tensor(2))) is int
    assert _number(0.1) == 0.1 and _number((0.9, 0.99)) == (0.9, 0.99)

def test_deferred_interrupt_holds_ctrl_c_until_the_block_ends():
    done, before = [], signal.signal(signal.SIGINT, signal.default_int_handler)   # Python's handler (SIG_IGN under nohup ... &)
    try:
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupt():
                os.kill(os.getpid(), signal.SIGINT)
                done.append('first write'); done.append('second write')        # both writes happen
        assert done == ['first write', 'second write']
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
        with deferred_interrupt(): done.append('quiet')                       # no Ctrl-C: no exception
        assert done[-1] == 'quiet'
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with deferred_interrupt(): os.kill(os.getpid(), signal.SIGINT); done.append('ignored')   # stays ignored
        assert done[-1] == 'ignored' and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally: signal.signal(signal.SIGINT, before)

# ---------------------------------------------------------------- the demo
@pytest.fixture
def tiny_demo(tmp_path):
    d = tmp_path/'rep'
    with redirect_stdout(io.StringIO()) as buf: s = demo(str(d), dataset='digits', epochs=1, n_train=96, n_eval=24, device='cpu')
    return d, s, buf.getvalue()

def test_demo_writes_its_four_files_from_one_summary(tiny_demo):
    d, s, printed = tiny_demo
    assert sorted(p.name for p in d.iterdir()) == sorted(DEMO_FILES)
    saved = json.loads((d/'results.json').read_text())
    assert saved == json.loads(json.dumps(s))
    assert list(s['results']) == ['natural', 'pgd', 'trades', 'sense'] and s['dataset'] == 'digits'
    assert s['settings']['epochs'] == 1 and s['settings']['n_train'] == 96 and s['settings']['n_eval'] == 24
    for m, r in s['results'].items():
        acc = {x['attack']: x['accuracy'] for x in r['report']}
        assert {'natural', 'FGSM', 'PGD-20'} <= set(acc) and all(acc[a] <= acc['natural'] + 1e-9 for a in acc if a != 'natural')
        assert r['train_seconds'] > 0 and len(r['history']) == 1 and r['checks']
        assert all(set(x) == {'attack', 'eps', 'accuracy', 'n', 'seconds'} for x in r['report'])   # the report's bookkeeping columns dropped
        es, accs = s['curves'][m]
        assert es == sorted(es) and es[0] == 0 and accs[0] == acc['natural'] and len(es) == 5
        assert accs[es.index(s['settings']['eps'])] == acc['PGD-20']       # the curve passes through the report's PGD-20
    table = demo_table(s['results'])
    assert table in (d/'report.md').read_text() and table in printed
    assert (d/'robustness_vs_eps.png').read_bytes()[:4] == b'\x89PNG' and (d/'sensible_examples.png').read_bytes()[:4] == b'\x89PNG'
    with pytest.raises(FileExistsError, match=f"a demo report in {str(d)!r}"): demo(str(d), dataset='digits', epochs=1, n_train=96, n_eval=24, device='cpu')
    (d/'report.md').write_text('old')
    with redirect_stdout(io.StringIO()): demo(str(d), dataset='digits', epochs=1, n_train=96, n_eval=24, device='cpu', force=True)
    assert (d/'report.md').read_text().startswith('# sensible_adv demo report')       # force replaces it

def test_demo_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="^unknown `dataset` 'cifar10'; allowed: 'digits'"): demo(str(tmp_path/'x'), dataset='cifar10')
    with pytest.raises(ValueError, match='epochs'): demo(str(tmp_path/'x'), dataset='digits', epochs=0)
    assert not (tmp_path/'x').exists()

class _Stop(Exception): "Raised by a spy to end a call once what it records has been seen."

def test_demo_defaults_reach_the_training_and_the_report(tmp_path, monkeypatch):
    "Called with no argument: ./sensible_report, the best offline dataset at its demo budget, seed 0, c 0.5, device 'auto', no AutoAttack on a CPU; and each piece gets what the demo promises it."
    import sensible_adv.runs as runs
    from sensible_adv.data import offline_data_note
    monkeypatch.chdir(tmp_path)
    small = dict(arch='digits_cnn', eps=0.1, epochs=1, bs=32, lr=2e-3, n_train=None, n_eval=16)
    monkeypatch.setitem(runs.DEMO_SETTINGS, 'digits', small)             # the dataset's budget, made tiny
    stats = (torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1))            # an identity Normalize, to follow where the statistics go
    seen = {'best': 0, 'aa': [], 'learner': [], 'dls': [], 'fit': [], 'norm': [], 'report': []}
    real_learner, real_report = runs.build_learner, runs.robustness_report
    def best(): seen['best'] += 1; return 'digits'
    def eval_attacks(aa): seen['aa'].append(aa); return ('fgsm', 'pgd20')
    def learner(*a, **k):
        seen['learner'].append((a, k))
        learn = real_learner(*a, **{**k, 'n_train': 64})                # all the digits, cut to 64 for time
        fit = learn.fit_one_cycle
        def fit_spy(*fa, **fk): seen['fit'].append((fa, fk)); return fit(*fa, **fk)
        learn.fit_one_cycle = fit_spy
        seen['dls'].append(learn.dls); return learn
    def find_norm(dls): seen['norm'].append(dls); return stats
    real_curves, real_grid = runs.plot_eps_curves, runs.plot_sensible_grid
    def eps_curves(curves, eps, path, title): seen['curves'] = (curves, eps, path, title); return real_curves(curves, eps, path, title=title)
    def grid(model, x, y, eps, c, classes, path, title):
        seen['grid'] = dict(model=model, x=x, y=y, eps=eps, c=c, classes=classes, path=path, title=title)
        return real_grid(model, x, y, eps, c, classes, path, title=title)
    def report(model, dl, eps, **k):
        seen['report'].append((eps, k, k.get('norm_stats') is stats)); return real_report(model, dl, eps, **{**k, 'norm_stats': None})
    for name, f in dict(best_offline_dataset=best, _eval_attacks=eval_attacks, build_learner=learner, find_normalize=find_norm,
                        robustness_report=report, plot_eps_curves=eps_curves, plot_sensible_grid=grid).items():
        monkeypatch.setattr(runs, name, f)
    t = time.perf_counter()
    with redirect_stdout(io.StringIO()) as buf: s = demo()
    elapsed, printed = time.perf_counter() - t, buf.getvalue().splitlines()
    assert sorted(p.name for p in (tmp_path/'sensible_report').iterdir()) == sorted(DEMO_FILES)
    assert seen['best'] == 1 and s['dataset'] == 'digits' and s['settings'] == small and (s['seed'], s['c']) == (0, 0.5)
    assert seen['aa'] == [False] and s['attacks'] == ['fgsm', 'pgd20']
    assert printed[:2] == [f"sensible_adv demo on {offline_data_note('digits')}",
        "  digits: all training images, 16 test images, digits_cnn, eps=0.1, 1 epochs per method, attacks: fgsm, pgd20"]
    assert [a for a, _ in seen['learner']] == [('digits', m) for m in ('natural', 'pgd', 'trades', 'sense')]
    base = dict(arch='digits_cnn', eps=0.1, bs=32, n_train=None, n_valid=16, seed=0, device='auto')
    assert [k for _, k in seen['learner']] == [base, base, base, {**base, 'c': 0.5}]      # c goes to the sensible method only
    assert [(a, type(k['cbs']).__name__) for a, k in seen['fit']] == [((1, 2e-3), 'StopOnNonFinite')] * 4   # a diverged model is no result
    assert len(seen['norm']) == 4 and all(a is b for a, b in zip(seen['norm'], seen['dls']))
    assert [e for e, _, _ in seen['report']] == [0.1, [0.1 * k for k in (0.5, 2, 3)]] * 4   # the radius, then the curve's
    assert [k['attacks'] for _, k, _ in seen['report']] == [('fgsm', 'pgd20'), ('pgd20',)] * 4
    assert all(same and k['seed'] == 0 for _, k, same in seen['report'])
    assert all(k.get('sanity', True) for _, k, _ in seen['report'][::2]) and not any(k['sanity'] for _, k, _ in seen['report'][1::2])
    assert 0 < sum(r['train_seconds'] for r in s['results'].values()) <= s['wall_seconds'] <= elapsed
    trained = [line for line in printed if ' trained in ' in line]
    assert len(trained) == 4
    started = [line for line in printed if ' then the attacks ...' in line]                # a line as each model starts
    assert started == [f"  [{i}/4] {METHOD_NAMES[m]}: training (1 epochs), then the attacks ..." for i, m in enumerate(('natural', 'pgd', 'trades', 'sense'), 1)]
    order = [printed.index(l) for pair in zip(started, trained) for l in pair]
    assert order == sorted(order)                                                           # each before its result, in turn
    for line, m in zip(trained, ('natural', 'pgd', 'trades', 'sense')):                # one line per method, as it finishes
        assert re.fullmatch(rf"  {re.escape(f'{METHOD_NAMES[m]:<18}')} trained in +\d+\.\d s: natural \d\.\d{{3}}, FGSM \d\.\d{{3}}, PGD-20 \d\.\d{{3}}", line), line
    assert printed[-1] == "wall time %.0f s; report written to sensible_report/ (report.md, results.json, robustness_vs_eps.png, sensible_examples.png)" % s['wall_seconds']
    assert (s['torch'], s['sensible_adv']) == (torch.__version__, sensible_adv.__version__)
    assert (tmp_path/'sensible_report'/'results.json').read_text().startswith('{\n "dataset": "digits",\n "settings": {\n  "arch"')
    assert seen['curves'][0] is s['curves']
    assert seen['curves'][1:] == (0.1, Path('sensible_report')/'robustness_vs_eps.png', 'digits, digits_cnn: robust accuracy vs radius')
    g, sense_dls = seen['grid'], seen['dls'][-1]                            # the figure: the sensible model, as a function of pixels
    assert isinstance(g['model'], Normalized) and torch.equal(g['model'].mean, stats[0]) and torch.equal(g['model'].std, stats[1])
    x, y = next(pixel_batches(sense_dls.valid, 8, device='cpu'))
    assert torch.equal(g['x'], x.clamp(0, 1)) and torch.equal(g['y'], y) and (g['eps'], g['c']) == (0.1, 0.5)
    assert g['classes'] == DATASET_INFO['digits'].classes and g['path'] == Path('sensible_report')/'sensible_examples.png'
    assert g['title'] == 'Sensibly trained model, eps = 0.1: green = true label kept, red = fooled'

def test_demo_runs_autoattack_when_asked_or_on_cuda(tmp_path, monkeypatch):
    import sensible_adv.runs as runs
    asked, devices = [], []
    def eval_attacks(aa): asked.append(aa); raise _Stop
    def get_device(d=None): devices.append(d); return torch.device(on)
    monkeypatch.setattr(runs, '_eval_attacks', eval_attacks); monkeypatch.setattr(runs, 'get_device', get_device)
    for on, kw in [('cpu', {}), ('cpu', dict(aa=True)), ('cuda', {}), ('cuda', dict(aa=True)), ('cpu', dict(device='cpu'))]:
        with pytest.raises(_Stop): demo(str(tmp_path/'x'), **kw)
    assert asked == [False, True, True, True, False] and devices == ['auto', 'auto', 'cpu']   # with aa, no device is asked
    assert not (tmp_path/'x').exists()

def test_demo_table_and_report_from_results():
    rep = lambda nat, pgd: [dict(attack='natural', accuracy=nat), dict(attack='PGD-20', accuracy=pgd),
                            dict(attack='PGD-100 unbounded', accuracy=0.0)]
    res = {'natural': dict(report=rep(0.9, 0.1), train_seconds=2.4, checks=[]),
           'sense': dict(report=rep(0.875, 0.5), train_seconds=10.6, checks=[])}
    t = demo_table(res)
    assert t.splitlines() == ['| method | natural | PGD-20 | train s |', '|---|---|---|---|',
                              '| natural | 0.900 | 0.100 | 2 |', '| sensible (SENSE) | 0.875 | 0.500 | 11 |']
    s = dict(dataset='digits', settings=dict(n_train=None, n_eval=24, arch='digits_cnn', eps=0.3, epochs=1, lr=3e-3, bs=64),
             seed=0, c=0.5, wall_seconds=12.0, sensible_adv='0', torch='2', attacks=['fgsm'], results=res)
    md = _demo_markdown(s, t)
    assert t in md and '\n\nAll gradient-masking sanity checks passed for every model.\n\n' in md and '(all training images' in md
    assert 'c = 0.5' in md and 'eps = 0.3' in md and 'Wall time 12 s' in md
    res['sense']['checks'] = [dict(check='fgsm_ge_pgd', eps=0.3, detail='FGSM 0.6 < PGD 0.5', passed=False),
                              dict(check='more_steps', eps=0.3, detail='fine', passed=True)]
    md = _demo_markdown(s, t)
    assert 'Sanity checks that FAILED' in md and 'fgsm_ge_pgd at eps 0.3: FGSM 0.6 < PGD 0.5' in md and 'more_steps' not in md

def test_demo_attacks_and_what_the_report_says_of_autoattack(monkeypatch):
    import sensible_adv.runs as runs
    monkeypatch.setattr(runs, 'has_torchattacks', lambda: True)            # as with torchattacks installed
    assert runs._eval_attacks(False) == ('fgsm', 'pgd20', 'cw30') and runs._eval_attacks(True) == ('fgsm', 'pgd20', 'cw30', 'autoattack')
    assert _aa_note(['fgsm', 'autoattack']) == '`AutoAttack` is the standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square; torchattacks).'
    assert _aa_note(['fgsm']) == ("AutoAttack was not run: on a CPU it takes minutes per model, beyond the demo's budget. Add `--aa` to run it, "
                                  'or `sensible_adv eval --ckpt RUN --attacks aa` on a trained run; PGD alone can overstate robustness.')
    monkeypatch.setattr(runs, 'has_torchattacks', lambda: False)
    assert runs._eval_attacks(True) == runs._eval_attacks(False) == ('fgsm', 'pgd20', 'cw30')
    assert _aa_note(['fgsm']) == 'AutoAttack was not run: install `torchattacks` (`pip install --no-deps torchattacks==3.5.1`).'
