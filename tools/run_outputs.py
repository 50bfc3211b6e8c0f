#!/usr/bin/env python
"""Run notebooks top to bottom and keep the outputs that teach (dev tool).

A chapter shows its results right after the code that makes them: the sensible search's statistics, a training
run's progress table, a robustness report and its curve. Those outputs are stored in the notebook so that the docs
render them; this regenerates them from the notebook's own code, as `make test-slow` runs it (in the notebook's
folder; `#| eval: false` cells and the studies' cells, flagged `study`, are skipped and keep their outputs; the cells
flagged `slow` or `cross` run, since a reader sees their outputs too, e.g. the README's example), and keeps only
what a reader should see: figures, tables and printed results. Warnings and other stderr text, and outputs of
`#| hide` cells, are dropped. Run `nbdev_clean` afterwards (`make outputs` does both).

Usage: run_outputs.py NB [NB ...]
"""
import os, re, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config

def directives(source:str) -> dict:
    "The `#| key: value` / `#| flag` lines at the top of a cell, as nbdev reads them."
    out = {}
    for line in source.splitlines():
        m = re.match(r'\s*#\|\s*([\w-]+):?\s*(.*)', line)
        if not m: break
        out[m[1]] = m[2].strip()
    return out

# fastai picks its console progress bars outside Jupyter (they print each epoch as a raw list); a reader of the docs
# should see the table a notebook shows, so the notebook bars are put in before the chapter runs (also for the
# modules that import fastprogress's bars later, such as the evaluation's).
NOTEBOOK_BARS = ("import fastprogress.fastprogress as _fp, fastai.callback.progress as _p\n"
                 "_p.master_bar, _p.progress_bar = _fp.master_bar, _fp.progress_bar = _fp.NBMasterBar, _fp.NBProgressBar")

# the flags of `make test-slow`'s cells (minutes at most): run here; any other flag in `tst_flags` (the studies) is skipped
RUN_FLAGS = {'slow', 'cross'}

def keep(output:dict) -> bool:
    "Whether an output teaches: everything but stderr text (warnings) and fastai's transient progress widgets."
    if output.get('output_type') == 'stream': return output.get('name') == 'stdout'
    html = ''.join(output.get('data', {}).get('text/html', ''))
    if '<progress' in html: return False          # a bar's intermediate state; its last update is the bare table
    if 'text/html' in output.get('data', {}) and (not html.strip() or '<tbody></tbody>' in html): return False  # a cleared bar, an empty table
    return 'progress-bar-interrupted' not in html and not html.lstrip().startswith('<style>\n    /* Turns off some styling */')

def run(path:Path, flags:set):
    "Execute `path` and write its kept outputs back into it."
    nb = read_nb(path)
    def skip(cell):
        if cell.cell_type != 'code': return True
        d = directives(cell.source)
        return d.get('eval', '').lower() == 'false' or bool(flags & d.keys())
    os.environ['IN_TEST'] = '1'
    cwd = os.getcwd()
    try:
        os.chdir(path.parent)
        shell = CaptureShell(path)
        shell.run(NOTEBOOK_BARS)
        shell.run_all(nb, exc_stop=True, preproc=skip)
    finally: os.chdir(cwd)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        c.outputs = [] if 'hide' in directives(c.source) else [o for o in c.get('outputs', []) if keep(o)]
    write_nb(nb, path)
    n = sum(bool(c.get('outputs')) for c in nb.cells if c.cell_type == 'code')
    print(f"{path}: {n} cells with outputs kept")

if __name__ == '__main__':
    flags = set(get_config().get('tst_flags', '').split()) - RUN_FLAGS
    for p in sys.argv[1:]: run(Path(p).resolve(), flags)
