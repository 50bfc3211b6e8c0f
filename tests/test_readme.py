"""The README's examples, run as a new user runs them after the two set-up commands: each in a fresh shell.

A newcomer runs `make demo` (or `make test`), opens a new terminal in the clone's folder and copies the README's
blocks. So each block runs here in a fresh `bash` started by `env -i` (no PYTHONPATH, no activated environment:
only HOME, a system PATH and the locale), in an empty folder holding the environment the set-up built (`.venv`, a
link to the environment running these tests, so `make compat` runs them beside the newest fastai too):
- a ```sh or ```bash block runs exactly as written (`-e`: a failing line fails it); the README's blocks activate
  `.venv` themselves, as it tells the reader to;
- a ```python block runs as a script, `python example.py`, after the README's documented activation;
- a ```text block right after a Python block is what that example printed when the README was made: the same run
  must print the same table, its words equal and its numbers within `TOLERANCE` (the last digits of a training run
  depend on the number of CPU threads, so a machine with other cores may differ there, not more).
Set-up commands (installs, `make demo`, `make test`) are fenced ```console: CI (`.ci/run`) and a fresh clone run
them, not this file; so are the `torchrun` launches, which need several GPUs (tests/test_ddp.py and
tests/test_fastai_ddp.py run the same code on 2 CPU processes); `test_console_blocks_are_set_up_only` keeps examples from hiding among them.
"""
import os, re, subprocess, sys
from pathlib import Path
import pytest

README = Path(__file__).resolve().parents[1]/'README.md'
FENCE = re.compile(r'^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$', re.M | re.S)
SHELLS = ('sh', 'bash')
SET_UP = ('pip install ', 'make ', 'git clone ', 'cd ', 'torchrun ')   # what a ```console block may hold (torchrun: several GPUs)
ACTIVATE = 'source .venv/bin/activate'                      # the README's documented activation
TOLERANCE = 0.02                                            # printed numbers: README vs this run

def readme_blocks(text:str) -> list:
    "The fenced code blocks of a Markdown text, as (language, body) pairs in order."
    return [(lang.lower(), body) for lang, body in FENCE.findall(text)]

def runnable(blocks:list) -> list:
    "The runnable blocks (```python, ```sh, ```bash) as (language, body, printed) with the ```text block that follows a Python one."
    out = []
    for i, (lang, body) in enumerate(blocks):
        if lang not in ('python',) + SHELLS: continue
        nxt = blocks[i + 1] if i + 1 < len(blocks) else (None, None)
        out.append((lang, body, nxt[1] if lang == 'python' and nxt[0] == 'text' else None))
    return out

# A block that trains or attacks a model takes minutes on 2 cores (a fresh interpreter, then the training): `make test-slow`
# (and `make compat`, and CI) run those; `make test` runs the others (the activation, `--help`) and every check of the parsing.
HEAVY = ('.fit', 'robustness_report', 'sensible_adv train', 'sensible_adv eval', 'sensible_adv demo')

def heavy(body:str) -> bool:
    "Whether a README block trains or attacks a model (marked `slow`)."
    return any(h in body for h in HEAVY)

def examples() -> list:
    "The README's runnable examples, with an id each; those that train or attack are marked `slow`."
    return [pytest.param(*b, id=f'{b[0]}-{i}', marks=[pytest.mark.slow] if heavy(b[1]) else [])
            for i, b in enumerate(runnable(readme_blocks(README.read_text(encoding='utf-8'))), 1)]

_NUM = re.compile(r'^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$')

def same_table(want:str, have:str, tol:float=TOLERANCE) -> str|None:
    "None if the last lines of `have` print `want`'s table (words equal, numbers within `tol`), else what differs."
    w, h = [l.split() for l in want.strip().splitlines()], [l.split() for l in have.strip().splitlines()][-len(want.strip().splitlines()):]
    if len(h) != len(w): return f"expected {len(w)} lines, got {len(h)}"
    for lw, lh in zip(w, h):
        bad = len(lw) != len(lh) or any((abs(float(a) - float(b)) > tol) if _NUM.match(a) and _NUM.match(b) else a != b
                                        for a, b in zip(lw, lh))
        if bad: return f"README: {' '.join(lw)!r}\n   run: {' '.join(lh)!r}"
    return None

def fresh_shell(script:str, cwd:Path) -> subprocess.CompletedProcess:
    "Run a bash script as a new terminal would: `env -i`, HOME, a system PATH, in `cwd` holding `.venv`."
    (cwd/'.venv').symlink_to(Path(sys.prefix))
    env = {'HOME': os.environ.get('HOME', str(cwd)), 'PATH': '/usr/local/bin:/usr/bin:/bin', 'LANG': 'C.UTF-8'}
    return subprocess.run(['env', '-i', *(f'{k}={v}' for k, v in env.items()), 'bash', '-euo', 'pipefail', '-c', script],
                          cwd=cwd, capture_output=True, text=True, timeout=900)

def test_extraction():
    "The fence parser on a made-up README: languages, bodies, a Python block's printed text, an unfenced line left out."
    md = "text\n```python\nx = 1\n```\n\n```text\n1\n```\n`inline`\n```sh\nsensible_adv --help\nls\n```\n```console\nmake test\n```\n"
    assert readme_blocks(md) == [('python', 'x = 1\n'), ('text', '1\n'), ('sh', 'sensible_adv --help\nls\n'), ('console', 'make test\n')]
    assert runnable(readme_blocks(md)) == [('python', 'x = 1\n', '1\n'), ('sh', 'sensible_adv --help\nls\n', None)]

def test_same_table():
    "Printed tables compare word for word, numbers within the tolerance, on the last lines of the run's output."
    want = "attack  eps  accuracy\nnatural 0.0 0.95\nPGD-20 0.1 0.71\n"
    assert same_table(want, "progress...\n" + want) is None
    assert same_table(want, want.replace('0.71', '0.72')) is None
    assert 'PGD-20' in same_table(want, want.replace('0.71', '0.75'))
    assert 'PGD-10' in same_table(want, want.replace('PGD-20', 'PGD-10'))
    assert same_table(want, "natural 0.0 0.95") == "expected 3 lines, got 1"

def test_heavy_blocks():
    "Which blocks `make test` leaves to `make test-slow`: those that train or attack, not the activation and `--help`."
    assert heavy("learn.fit_one_cycle(5, 3e-3)\n") and heavy("sensible_adv train --dataset digits\n") and heavy("sensible_adv demo\n")
    assert not heavy("source .venv/bin/activate\nsensible_adv --help\n") and not heavy("from sensible_adv.all import *\n")

def test_readme_has_examples():
    "The README shows Python (with what it prints), the command line, and how to activate the environment for both."
    blocks = runnable(readme_blocks(README.read_text(encoding='utf-8')))
    assert {'python' if b[0] == 'python' else 'shell' for b in blocks} == {'python', 'shell'}
    assert all(printed for lang, _, printed in blocks if lang == 'python'), "each Python example is followed by what it prints (```text)"
    assert any(body.splitlines()[0] == ACTIVATE for lang, body, _ in blocks if lang in SHELLS), f"the README shows `{ACTIVATE}`"

def test_console_blocks_are_set_up_only():
    "```console blocks are not run here: they may hold only set-up commands (installs, make, clone) and torchrun launches."
    for lang, body in readme_blocks(README.read_text(encoding='utf-8')):
        if lang != 'console': continue
        for line in body.replace('\\\n', ' ').splitlines():     # a command continued over lines is one command
            cmd = line.split('#')[0].strip()
            assert not cmd or cmd.startswith(SET_UP), f"README: {cmd!r} is in a ```console block, which is not run; fence it ```sh"

@pytest.mark.parametrize('lang,body,printed', examples())
def test_readme_example(lang, body, printed, tmp_path):
    "Run one README block as written, in a fresh shell and an empty folder; a Python example prints the README's figures."
    if lang == 'python':
        (tmp_path/'example.py').write_text(body, encoding='utf-8')
        script = f'{ACTIVATE}\npython example.py'
    else: script = body
    r = fresh_shell(script, tmp_path)
    assert r.returncode == 0, f"README {lang} block failed (exit {r.returncode}):\n{body}\n--- stdout:\n{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-3000:]}"
    if printed: assert (d := same_table(printed, r.stdout)) is None, f"the README's example printed other figures:\n{d}"
