"""The README's examples, run as written, each in a fresh process in an empty folder.

A newcomer copies the README's code blocks first; each must work as printed. Every block fenced ```python runs as
a Python script, and every block fenced ```sh or ```bash as a bash script (`-e`: a failing line fails it), with
this environment's `python` and `sensible_adv` first on PATH. The README keeps its examples small enough for that
(it says how to scale them up). Set-up commands — installing from the network, and the two commands that build an
environment and run the demo or this very test suite (`make demo`, `make test`) — are fenced ```console: they are
run by CI (`.ci/run`) and by a fresh clone, not from here; `test_console_blocks_are_set_up_only` keeps examples
from hiding among them.
"""
import os, re, subprocess, sys
from pathlib import Path
import pytest

README = Path(__file__).resolve().parents[1]/'README.md'
FENCE = re.compile(r'^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$', re.M | re.S)
SHELLS = ('sh', 'bash')
SET_UP = ('pip install ', 'make ', 'git clone ', 'cd ')   # what a ```console block may hold

def readme_blocks(text:str) -> list:
    "The fenced code blocks of a Markdown text, as (language, body) pairs in order."
    return [(lang.lower(), body) for lang, body in FENCE.findall(text)]

def examples() -> list:
    "The README's runnable examples: its ```python and ```sh/```bash blocks, with an id each."
    blocks = [(lang, body) for lang, body in readme_blocks(README.read_text(encoding='utf-8')) if lang in ('python',) + SHELLS]
    return [pytest.param(lang, body, id=f'{lang}-{i}') for i, (lang, body) in enumerate(blocks, 1)]

def test_extraction():
    "The fence parser on a made-up README: languages, bodies, and an unfenced line left out."
    md = "text\n```python\nx = 1\n```\n\n`inline`\n```sh\nsensible_adv --help\nls\n```\n```console\nmake test\n```\n"
    assert readme_blocks(md) == [('python', 'x = 1\n'), ('sh', 'sensible_adv --help\nls\n'), ('console', 'make test\n')]

def test_readme_has_examples():
    "The README shows Python and the command line, so there is something here to run."
    langs = {'python' if p.values[0] == 'python' else 'shell' for p in examples()}
    assert langs == {'python', 'shell'}, langs

def test_console_blocks_are_set_up_only():
    "```console blocks are not run here: they may hold only set-up commands (installs, make, clone)."
    for lang, body in readme_blocks(README.read_text(encoding='utf-8')):
        if lang != 'console': continue
        for line in body.splitlines():
            cmd = line.split('#')[0].strip()
            assert not cmd or cmd.startswith(SET_UP), f"README: {cmd!r} is in a ```console block, which is not run; fence it ```sh"

@pytest.mark.parametrize('lang,body', examples())
def test_readme_example(lang, body, tmp_path):
    "Run one README block as written, in a fresh process and an empty folder."
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'PATH': os.pathsep.join([str(Path(sys.executable).parent), os.environ.get('PATH', '')])}
    cmd = [sys.executable, '-c', body] if lang == 'python' else ['bash', '-euo', 'pipefail', '-c', body]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"README {lang} block failed (exit {r.returncode}):\n{body}\n--- stdout:\n{r.stdout[-3000:]}\n--- stderr:\n{r.stderr[-3000:]}"
