"""Run folders under faults, as a user meets them: Ctrl-C and a killed process during training, truncated, empty and
random checkpoint and config files, resume equivalence (bit for bit), no overwrite without --force, report names that
would leave the folder, and both spellings of two-word options. Each test asserts the exact outcome: exit status,
the one-line message, and what is (and is not) in the run folder afterwards.

Where a real process is the point (a signal to a training process, then the resume that continues it) the command
runs in a subprocess, as a user starts it; so does the uninterrupted reference run (one `sensible_adv train` start to
finish). Everything else calls the command line's own entry point in this process, `sensible_adv.cli.main(argv)`,
which returns the exit status the console script exits with and prints the same lines to stderr: it spares each
case the five to eight seconds of importing torch and fastai again. Runs that a case damages are copies of the
reference run (`copy_of`), not trained again."""
import csv, json, os, random, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch
from conftest import cli_in_process

torch.set_num_threads(1)   # as the subprocesses (ENV): a resume in this process ends with their weights, bit for bit
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}
# digits, small and fast; the same arguments must be repeated on --resume
EPOCHS = 5
BASE = ('--dataset', 'digits', '--method', 'sense', '--n-train', '300', '--n-valid', '60', '--bs', '50',
        '--quiet', '--device', 'cpu')

def cli(*args, timeout=600):
    "Run `python -m sensible_adv.cli ARGS` to completion, in a fresh process."
    return subprocess.run([sys.executable, '-m', 'sensible_adv.cli', *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV)

pytestmark = pytest.mark.usefixtures('bars_as_found')   # main's bar switch put back after each case (conftest)

run = cli_in_process   # `sensible_adv ARGS` in this process, results as `cli` returns them

def train(out, epochs, *extra, via=run):
    "`sensible_adv train` on the small digits run, in this process (`via=cli`: in a fresh one)."
    return via('train', *BASE, '--epochs', epochs, '--out', out, *extra)

def history(out) -> list[dict]:
    "The log's rows ([] if a kill came before its first write)."
    if not (out/'history.csv').exists(): return []
    with open(out/'history.csv') as f: return list(csv.DictReader(f))

def checkpoints(out) -> list[str]:
    return sorted(p.name for p in (out/'checkpoints').iterdir())

def weights(path) -> dict:
    return torch.load(path, weights_only=True)

def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

def one_error_line(r, text):
    "The command failed with exit status 2 and exactly one line on stderr, containing `text`, and no traceback."
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and text in lines[0] and 'Traceback' not in r.stderr, r.stderr

@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """An uninterrupted run, `sensible_adv train` in a process of its own: what every interrupted-and-resumed run must
    end as (5 epochs: enough that a signal sent after the first one lands before the last, even on a loaded machine).
    Read-only: a case that changes a run changes `copy_of(reference, ...)`."""
    out = tmp_path_factory.mktemp('ref')/'run'
    r = train(out, EPOCHS, via=cli)
    assert r.returncode == 0, r.stderr
    assert checkpoints(out) == [f'epoch_{i}.pth' for i in range(EPOCHS)] and (out/'model.pth').exists()
    return out

def copy_of(run, tmp_path) -> Path:
    "A copy of the finished run `run` to change."
    shutil.copytree(run, tmp_path/'run'); return tmp_path/'run'

def _default_sigint():
    "In the child: Ctrl-C's default action. A shell's background job (`nohup make test &`) ignores SIGINT, and Python keeps it so."
    signal.signal(signal.SIGINT, signal.SIG_DFL)

def _start(out, epochs):
    return subprocess.Popen([sys.executable, '-m', 'sensible_adv.cli', 'train', *BASE, '--epochs', str(epochs), '--out', str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=_default_sigint)

def _wait_for(path, proc, timeout=300):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path.name} appeared: {proc.communicate()}"
        assert time.time() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.02)

# the resume after Ctrl-C runs in this process, the one after a kill in a fresh process, as a user starts it again
@pytest.mark.parametrize('sig,resume_via', [(signal.SIGINT, run), (signal.SIGKILL, cli)], ids=['SIGINT', 'SIGKILL'])
def test_interrupt_then_resume_is_exact(tmp_path, reference, sig, resume_via):
    "Interrupted after its first finished epoch and resumed, a run ends with the uninterrupted run's weights, bit for bit."
    out = tmp_path/'run'
    p = _start(out, EPOCHS)
    _wait_for(out/'checkpoints'/'epoch_0.pth', p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert p.returncode == 130, (p.returncode, err)
        assert err.strip().splitlines()[-1] == 'sensible_adv train: interrupted (continue the run with --resume)', err
        assert 'Traceback' not in err
    else: assert p.returncode == -signal.SIGKILL
    assert not (out/'model.pth').exists()
    done = checkpoints(out)
    assert done and all(n.startswith('epoch_') and n.endswith('.pth') for n in done), done   # no half-written file under its name
    # one log row per saved epoch (Ctrl-C waits for the pair of writes; a kill between them leaves the log a row behind,
    # which the resume repairs from the checkpoint)
    assert len(history(out)) == len(done) if sig == signal.SIGINT else len(done) - 1 <= len(history(out)) <= len(done)
    before = {n: (out/'checkpoints'/n).read_bytes() for n in done}
    r = train(out, EPOCHS, '--resume', via=resume_via)
    assert r.returncode == 0, r.stderr
    assert checkpoints(out) == [f'epoch_{i}.pth' for i in range(EPOCHS)]
    assert all((out/'checkpoints'/n).read_bytes() == b for n, b in before.items())           # finished epochs never rewritten
    assert [h['epoch'] for h in history(out)] == [str(i) for i in range(EPOCHS)]
    assert not list(out.rglob('*.tmp'))
    assert same_weights(out/'model.pth', reference/'model.pth')
    # the log is the uninterrupted run's, apart from the wall time of each epoch
    drop = lambda rows: [{k: v for k, v in r.items() if k != 'time'} for r in rows]
    assert drop(history(out)) == drop(history(reference))

def test_lost_last_epoch_is_recomputed_exactly(tmp_path, reference):
    "The issue's reproduction: the last checkpoint deleted, a resume recomputes that epoch and nothing else."
    out = copy_of(reference, tmp_path)
    (out/'checkpoints'/f'epoch_{EPOCHS - 1}.pth').unlink(); (out/'model.pth').unlink()
    first = [(out/'checkpoints'/f'epoch_{i}.pth').read_bytes() for i in range(EPOCHS - 1)]
    r = train(out, EPOCHS, '--resume')
    assert r.returncode == 0, r.stderr
    assert [(out/'checkpoints'/f'epoch_{i}.pth').read_bytes() for i in range(EPOCHS - 1)] == first
    assert [h['epoch'] for h in history(out)] == [str(i) for i in range(EPOCHS)]
    assert all(h['train_loss'] and float(h['train_loss']) > 0 for h in history(out))
    assert same_weights(out/'model.pth', reference/'model.pth')

@pytest.mark.parametrize('damage', ['truncated', 'empty', 'random'])
def test_corrupt_last_checkpoint_falls_back(tmp_path, reference, damage):
    out, last = copy_of(reference, tmp_path), f'epoch_{EPOCHS - 1}.pth'
    ck = out/'checkpoints'/last
    data = ck.read_bytes()
    # seeded garbage: unseeded bytes starting with 0x80 (1 run in 256) read as a pickle header, and torch adds a warning of its own
    ck.write_bytes({'truncated': data[:len(data) // 2], 'empty': b'', 'random': random.Random(0).randbytes(4096)}[damage])
    (out/'model.pth').unlink()
    r = train(out, EPOCHS, '--resume')
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if 'warning' in l]
    assert len(warn) == 1 and f'{last}: unreadable checkpoint' in warn[0] and 'falling back' in warn[0], r.stderr
    assert checkpoints(out) == [f'epoch_{i}.pth' for i in range(EPOCHS)] + [f'{last}.corrupt']
    assert [h['epoch'] for h in history(out)] == [str(i) for i in range(EPOCHS)] and (out/'model.pth').exists()
    assert same_weights(out/'model.pth', reference/'model.pth')     # the lost epoch recomputed from the one before

@pytest.mark.parametrize('damage', ['truncated', 'empty', 'random'])
def test_corrupt_config_is_one_clear_line(tmp_path, reference, damage):
    out = copy_of(reference, tmp_path)
    cfg = out/'config.json'
    cfg.write_bytes({'truncated': cfg.read_bytes()[:40], 'empty': b'', 'random': random.Random(0).randbytes(512)}[damage])
    one_error_line(train(out, EPOCHS, '--resume'), 'config.json is corrupt')
    one_error_line(run('eval', '--ckpt', out, '--attacks', 'fgsm', '--n', '20'), 'config.json is corrupt')

def test_unreadable_weights_in_eval(tmp_path, reference):
    out = copy_of(reference, tmp_path)
    (out/'model.pth').write_bytes(b'\x00' * 64)
    one_error_line(run('eval', '--ckpt', out, '--attacks', 'fgsm', '--n', '20'), 'model.pth: unreadable weights')

def test_interrupted_before_first_checkpoint_restarts(tmp_path, reference):
    "A run killed before its first epoch ended (only config.json written) is started again by --resume."
    out = copy_of(reference, tmp_path)
    for f in ('history.csv', 'model.pth'): (out/f).unlink()
    for p in (out/'checkpoints').iterdir(): p.unlink()
    r = train(out, EPOCHS, '--resume')
    assert r.returncode == 0 and 'no finished epoch' in r.stderr, r.stderr
    assert same_weights(out/'model.pth', reference/'model.pth')

def test_nothing_overwritten_without_force(tmp_path):
    out = tmp_path/'run'
    out.mkdir(); (out/'notes.txt').write_text('my notes')
    one_error_line(train(out, 1), 'is not empty')
    assert sorted(p.name for p in out.iterdir()) == ['notes.txt']
    assert train(out, 1, '--force').returncode == 0
    assert (out/'notes.txt').read_text() == 'my notes'                        # --force removes run files only
    w = (out/'model.pth').read_bytes()
    one_error_line(train(out, 1), 'is not empty')
    assert (out/'model.pth').read_bytes() == w
    one_error_line(train(out, 1, '--resume', '--force'), 'exclude each other')
    # reports
    assert run('eval', '--ckpt', out, '--attacks', 'fgsm', '--n', '20').returncode == 0
    rep = (out/'robustness.json').read_bytes()
    one_error_line(run('eval', '--ckpt', out, '--attacks', 'pgd5', '--n', '20'), "a report named 'robustness' already exists")
    assert (out/'robustness.json').read_bytes() == rep
    assert run('eval', '--ckpt', out, '--attacks', 'pgd5', '--n', '20', '--force').returncode == 0
    assert (out/'robustness.json').read_bytes() != rep
    # the demo's report folder
    demo = tmp_path/'report'; demo.mkdir(); (demo/'report.md').write_text('an earlier report')
    one_error_line(run('demo', '--dataset', 'digits', '--out', demo), 'a demo report')
    assert (demo/'report.md').read_text() == 'an earlier report'

def test_report_names_cannot_escape(tmp_path, reference):
    out = copy_of(reference, tmp_path)
    for name in ('../escaped', '/tmp/escaped', '.hidden'):
        one_error_line(run('eval', '--ckpt', out, '--attacks', 'fgsm', '--n', '20', '--name', name), 'plain file name')
    assert not (tmp_path/'escaped.json').exists() and not list(out.glob('.hidden*'))

def test_both_option_spellings(tmp_path):
    a, b = tmp_path/'a', tmp_path/'b'
    common = ('train', '--dataset', 'digits', '--epochs', '1', '--quiet', '--device', 'cpu')
    assert run(*common, '--n-train', '200', '--n-valid', '40', '--out', a).returncode == 0
    assert run(*common, '--n_train', '200', '--n_valid', '40', '--out', b).returncode == 0
    import json
    ca, cb = (json.loads((d/'config.json').read_text())['args'] for d in (a, b))
    assert ca == cb and ca['n_train'] == 200 and ca['n_valid'] == 40
    assert same_weights(a/'model.pth', b/'model.pth')

@pytest.mark.slow   # a real kill of a real process (about 20 s on 2 cores); 07_evaluate and 09_runs test the same resume in `make test`
def test_killed_evaluation_resumes(tmp_path, reference, monkeypatch):
    "An evaluation killed mid-way and run again attacks only what it had not finished, and writes the uninterrupted report."
    import sensible_adv.evaluate as ev
    out = copy_of(reference, tmp_path)
    args = ('eval', '--ckpt', out, '--attacks', 'fgsm,pgd20', '--n-valid', '60', '--bs', '5', '--quiet', '--device', 'cpu')
    assert run(*args, '--name', 'whole').returncode == 0                  # 12 batches x 3 attacks (the unbounded check too)
    assert not (out/'.whole.partial').exists()                            # removed once the report is written
    p = subprocess.Popen([sys.executable, '-m', 'sensible_adv.cli', *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    partial = out/'.robustness.partial'
    t0 = time.time()
    while len(list(partial.glob('*.pt'))) < 4:
        assert p.poll() is None, f"the evaluation ended before it could be killed: {p.communicate()}"
        assert time.time() - t0 < 300, "no per-batch result appeared"
        time.sleep(0.02)
    p.kill(); p.communicate(timeout=60)
    assert not (out/'robustness.json').exists()
    saved = len(list(partial.glob('*.pt')))
    assert 4 <= saved < 36 and not list(partial.glob('*.tmp')), saved     # whole results only, never a half-written one
    calls, real = [], ev._robust
    monkeypatch.setattr(ev, '_robust', lambda *a: calls.append(1) or real(*a))
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert f'resume: {saved} per-batch attack results' in r.stderr, r.stderr
    assert len(calls) == 36 - saved                                       # what was saved is read back, not attacked again
    rows = lambda name: [(d['attack'], d['n'], d['accuracy']) for d in json.loads((out/f'{name}.json').read_text())['rows']]
    assert rows('robustness') == rows('whole')
    assert not partial.exists()
