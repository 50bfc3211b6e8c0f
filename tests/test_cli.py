"""The `sensible_adv` console script end to end, as a user calls it: train -> eval on a tiny slice, the demo on a
tiny budget, and the error cases (each must fail with a one-line message naming the argument, exit status 2).

The installed script itself runs in a fresh process for each command once (`train`, `eval`, `demo`, an unknown
command: `_run`). The other cases call its entry point, `sensible_adv.cli.main(argv)`, in this process (`_main`):
the exit status it returns is the one the script exits with, and it prints the same lines; a fresh process would
only add the five to eight seconds of importing torch and fastai to each case."""
import importlib.util, json, os, re, shutil, subprocess, sys
from importlib.metadata import entry_points
from pathlib import Path
import pytest
from conftest import cli_in_process

def _script():
    "The installed console script (beside this Python first, as in a venv, then on PATH), or None."
    return shutil.which('sensible_adv', path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')]))

def _run(*args, timeout=600):
    "`sensible_adv ARGS` in a fresh process, the installed script."
    cmd = [_script()] if _script() else [sys.executable, '-m', 'sensible_adv.cli']
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=timeout)

pytestmark = pytest.mark.usefixtures('bars_as_found')   # main's bar switch put back after each case (conftest)

_main = cli_in_process   # `sensible_adv ARGS` in this process, results as `_run` returns them

def test_console_script_installed():
    eps = entry_points(group='console_scripts', name='sensible_adv')
    if not eps: pytest.skip("this environment's sensible_adv was installed before settings.ini declared the console script")
    assert [ep.value for ep in eps] == ['sensible_adv.cli:main']
    assert _script() is not None

def test_train_then_eval(tmp_path):
    run = tmp_path / 'run'
    r = _run('train', '--dataset', 'digits', '--method', 'sense', '--epochs', '2', '--n-train', '256', '--n-valid', '64',
             '--bs', '64', '--step', '0.025', '--out', run, '--quiet', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    cfg = json.loads((run / 'config.json').read_text())
    assert cfg['args']['method'] == 'sense' and cfg['args']['step'] == 0.025 and cfg['eps_used'] == 0.1
    hist = (run / 'history.csv').read_text().strip().splitlines()
    assert len(hist) == 3 and 'frozen_in_search' in hist[0], hist          # header + one row per epoch
    assert sorted(p.name for p in (run / 'checkpoints').iterdir()) == ['epoch_0.pth', 'epoch_1.pth']
    # resume: one more epoch appended to the same log
    r = _main('train', '--dataset', 'digits', '--method', 'sense', '--epochs', '3', '--n-train', '256', '--n-valid', '64',
              '--bs', '64', '--step', '0.025', '--out', run, '--quiet', '--device', 'cpu', '--resume')
    assert r.returncode != 0 and '`resume`: arguments differ' in r.stderr and 'epochs was 2, now 3' in r.stderr, r.stderr
    r = _run('eval', '--ckpt', run, '--attacks', 'fgsm,pgd10', '--n', '64', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    rep = json.loads((run / 'robustness.json').read_text())
    acc = {row['attack']: row['accuracy'] for row in rep['rows']}
    assert set(acc) >= {'natural', 'FGSM', 'PGD-10'}, acc
    assert 0 <= acc['PGD-10'] <= acc['natural'] <= 1 and acc['natural'] > 0.3, acc   # 2 epochs on digits: well above chance
    assert '| PGD-10 |' in r.stdout

@pytest.mark.parametrize('args,msg', [
    (('train', '--eps', '-0.1'), '`eps` must be in [0, 1.0]'),
    (('train', '--eps', '8'), '8/255'),
    (('train', '--method', 'madry'), "unknown `method` 'madry'"),
    (('train', '--dataset', 'svhn'), "unknown `dataset` 'svhn'"),
    (('train', '--c', '0'), '`c` must be in (0, 1]'),
    (('train', '--epochs', '0'), '`epochs`'),
    (('eval', '--ckpt', '/nonexistent/run'), 'does not exist'),
    (('eval',), 'the following arguments are required: --ckpt'),
    (('train', '--dataset', 'cifar10', '--root', '/nonexistent/data'), '/nonexistent/data'),
    (('train', '--out', '/proc/forbidden/run'), '`out`: cannot write'),
    (('demo', '--dataset', 'cifar10'), "unknown `dataset` 'cifar10'"),
])
def test_bad_arguments_fail_clearly(tmp_path, args, msg):
    args = args + (('--out', tmp_path / 'o') if args[0] == 'train' and '--out' not in args else ())
    r = _main(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert msg in r.stderr and 'Traceback' not in r.stderr, r.stderr

def test_eval_unknown_attack(tmp_path):
    run = tmp_path / 'run'
    assert _main('train', '--epochs', '1', '--n-train', '128', '--n-valid', '32', '--out', run, '--quiet').returncode == 0
    r = _main('eval', '--ckpt', run, '--attacks', 'pgd20,deepfoo')
    assert r.returncode == 2 and "unknown attack 'deepfoo'" in r.stderr, r.stderr

def test_eval_quiet_and_without_optional_packages(tmp_path, monkeypatch):
    "The default attack list runs where torchattacks and foolbox are missing: one warning line per skipped attack, no traceback."
    run = tmp_path / 'run'
    assert _main('train', '--epochs', '1', '--n-train', '128', '--n-valid', '32', '--out', run, '--quiet', '--device', 'cpu').returncode == 0
    for name in ('torchattacks', 'foolbox'): monkeypatch.setitem(sys.modules, name, None)   # as if neither were installed
    r = _main('eval', '--ckpt', run, '--n', '32', '--device', 'cpu', '--quiet')
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if 'skipped' in l]
    assert len(warn) == 1 and 'warning: aa skipped: AutoAttack needs the optional `torchattacks` package: pip install --no-deps' in warn[0], r.stderr
    assert 'Traceback' not in r.stderr and '| CW-inf-30 |' in r.stdout and '| AutoAttack |' not in r.stdout
    assert '%' not in r.stdout and '\r' not in r.stdout                       # --quiet: no progress bar
    rep = json.loads((run / 'robustness.json').read_text())
    assert list(rep['config']['skipped']) == ['aa']

def test_eval_default_attacks_without_torchattacks(tmp_path):
    "A plain `pip install` has no torchattacks: `eval` with its default attacks runs, and skips AutoAttack in one line."
    if importlib.util.find_spec('torchattacks'):
        pytest.skip('torchattacks is installed, so the default would run AutoAttack (minutes on a CPU); `make compat` runs this')
    run = tmp_path / 'run'
    assert _run('train', '--epochs', '1', '--n-train', '128', '--n-valid', '32', '--out', run, '--quiet', '--device', 'cpu').returncode == 0
    r = _run('eval', '--ckpt', run, '--n', '32', '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if 'skipped' in line and 'AutoAttack' in line]
    assert len(said) == 1 and 'pip install --no-deps torchattacks==3.5.1' in said[0], r.stderr
    assert '| PGD-20 |' in r.stdout and '| AutoAttack |' not in r.stdout, r.stdout

def test_usage_and_unknown_command():
    r = _run('frobnicate')                                    # the script's own exit status, in a process of its own
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr and 'Traceback' not in r.stderr
    r = _main()
    assert r.returncode == 2 and 'usage: sensible_adv <command>' in r.stderr
    r = _main('--help')
    assert r.returncode == 0 and all(re.search(rf'^\s+{c}\s+\S', r.stdout, re.M) for c in ('train', 'eval', 'demo'))
    r = _main('train', '--help')
    for opt in ('--dataset', '--method', '--eps', '--steps', '--step', '--n-train', '--n_train', '--epochs', '--arch', '--width', '--bs',
                '--lr', '--seed', '--out', '--resume'): assert opt in r.stdout, opt

def test_demo_tiny_budget(tmp_path):
    out = tmp_path / 'report'
    r = _run('demo', '--dataset', 'digits', '--epochs', '1', '--n-train', '128', '--n-eval', '40', '--out', out, '--device', 'cpu')
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('sensible_adv demo on digits ('), r.stdout[:200]     # the first line names the dataset
    assert sorted(p.name for p in out.iterdir()) == ['report.md', 'results.json', 'robustness_vs_eps.png', 'sensible_examples.png']
    res = json.loads((out / 'results.json').read_text())
    assert list(res['results']) == ['natural', 'pgd', 'trades', 'sense']
    for m, v in res['results'].items():
        acc = {row['attack']: row['accuracy'] for row in v['report']}
        assert 0 <= acc['PGD-20'] <= acc['FGSM'] + 0.05 and acc['PGD-20'] <= acc['natural'], (m, acc)
    md = (out / 'report.md').read_text()
    assert '| sensible (SENSE) |' in md and '| PGD-AT (Madry) |' in md
    for png in ('robustness_vs_eps.png', 'sensible_examples.png'):
        assert (out / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and (out / png).stat().st_size > 10_000

def test_resume_with_progress_bars(tmp_path):
    "A resume as users start it, bars and table on: the skipped epoch still ticks the console bar (else it died with"
    " 'ConsoleProgressBar' object has no attribute 'start_t'), and only the trained epoch prints a row."
    args = ['train', '--dataset', 'digits', '--method', 'pgd', '--epochs', '2', '--n-train', '96', '--n-valid', '32',
            '--bs', '32', '--out', tmp_path / 'run', '--device', 'cpu']
    assert _main(*args, '--quiet').returncode == 0
    (tmp_path/'run'/'checkpoints'/'epoch_1.pth').unlink(); (tmp_path/'run'/'model.pth').unlink()
    r = _main(*args, '--resume')
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [l.split()[0] for l in re.split(r'[\r\n]', r.stdout) if l.split() and l.split()[0].isdigit()]
    assert rows == ['1'] and (tmp_path/'run'/'model.pth').exists(), r.stdout[-2000:]
    # stdout is not a terminal here, as a log file is not: the epoch table's rows, not a bar redrawn into one long line
    assert max(map(len, r.stdout.split('\n'))) < 300, max(r.stdout.split('\n'), key=len)[:500]
