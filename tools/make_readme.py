#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb without Quarto (dev tool, not part of the library).

`nbdev_readme` renders the README with Quarto, which cannot be installed everywhere. This does the same job with
`jupyter nbconvert`'s Markdown exporter: it drops cells hidden with `#| hide` (and `#| include: false`), strips
the `#|` directive lines from the code cells it keeps, shows only the output of `#| echo: false` cells (their
markdown as markdown, as Quarto does with `output: asis`), and converts the rest. The README is Markdown for people,
so a kept cell's outputs are written as Markdown too: what it prints as a ```text block (what the same code prints
in a script), an HTML table (fastai's progress table, a pandas frame) as a Markdown table; other HTML is left out. Links the notebook writes relative
to itself (`12_experiments.ipynb`) are rewritten relative to the README's folder (`nbs/12_experiments.ipynb`), so
they work on GitHub too.
Usage: make_readme.py [NOTEBOOK [OUT]]   (OUT '-' writes to stdout)
"""
import os, re, sys
from pathlib import Path
from urllib.parse import urlsplit
import nbformat
from bs4 import BeautifulSoup
from nbconvert import MarkdownExporter

_directive = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')
_hidden = {'hide', 'include: false', 'include:false'}
_link = re.compile(r'(!?\[[^\]\n]*\]\()([^)\s]+)((?:\s+"[^"]*")?\))')
ROOT = Path(__file__).resolve().parents[1]  # where README.md lives

def _directives(src):
    "The `#|` directives at the top of a cell's source, and the source without them."
    lines, out = src.splitlines(), []
    i = 0
    while i < len(lines) and (m := _directive.match(lines[i])): out.append(m.group(1).lower()); i += 1
    return out, '\n'.join(lines[i:])

def readme_link(url, nb_dir, readme_dir):
    "A link from the notebook's folder as the README (in `readme_dir`) must write it; web links and anchors unchanged."
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith('/'): return url
    target = Path(nb_dir)/parts.path
    if not target.exists(): return url  # already relative to the README, or broken: the docs build reports it
    rel = Path(os.path.relpath(target.resolve(), Path(readme_dir).resolve())).as_posix()
    return rel + (f'#{parts.fragment}' if parts.fragment else '')

def relink(md, nb_dir, readme_dir):
    "Markdown with its inline links and images made relative to the README's folder."
    return _link.sub(lambda m: m.group(1) + readme_link(m.group(2), nb_dir, readme_dir) + m.group(3), md)

def _output_text(o) -> str:
    "The markdown (or printed text) of a cell output; '' for other kinds."
    if o.get('output_type') == 'stream': return o.get('text', '') if o.get('name') == 'stdout' else ''
    md = o.get('data', {}).get('text/markdown', '')
    return ''.join(md) if isinstance(md, list) else md

def html_tables(html) -> str:
    "The `<table>`s of an HTML text as Markdown tables (header row first), or '' if it has none."
    out = []
    for t in BeautifulSoup(html, 'html.parser').find_all('table'):
        rows = [[c.get_text(' ', strip=True).replace('|', r'\|') for c in tr.find_all(['th', 'td'])] for tr in t.find_all('tr')]
        rows = [r for r in rows if r]
        if not rows: continue
        w = max(map(len, rows))
        rows = [r + [''] * (w - len(r)) for r in rows]
        out.append('\n'.join(['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * w] + ['| ' + ' | '.join(r) + ' |' for r in rows[1:]]))
    return '\n\n'.join(out)

def output_markdown(o) -> str:
    "A code cell's output as README Markdown: printed text fenced ```text, HTML tables as Markdown tables, '' otherwise."
    if o.get('output_type') == 'stream':
        return f"```text\n{o.get('text', '').rstrip()}\n```" if o.get('name') == 'stdout' and o.get('text', '').strip() else ''
    data = o.get('data', {})
    html = ''.join(data.get('text/html', ''))
    if '<table' in html: return html_tables(html)
    md = ''.join(data.get('text/markdown', ''))
    return '' if html or md.lstrip().startswith('```html') else md

def readme_markdown(nb_path, readme_dir=ROOT):
    "The README's Markdown text for the notebook at `nb_path`, its links relative to `readme_dir`."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = relink(c.source, Path(nb_path).parent, readme_dir)
        if c.cell_type == 'code':
            ds, body = _directives(c.source)
            if _hidden & set(ds) or not body.strip(): continue
            if 'echo: false' in ds or 'echo:false' in ds:   # Quarto's: the output without the code (markdown as markdown)
                cells += [nbformat.v4.new_markdown_cell(relink(_output_text(o), Path(nb_path).parent, readme_dir))
                          for o in c.get('outputs', []) if _output_text(o)]
                continue
            c.source = body
            # its displays (the progress table, which fastai draws first and updates until the end), then what it printed
            outs = [m for o in sorted(c.get('outputs', []), key=lambda o: o.get('output_type') == 'stream') if (m := output_markdown(o))]
            c.outputs = []
            cells += [c] + [nbformat.v4.new_markdown_cell(m) for m in outs]
            continue
        cells.append(c)
    nb.cells = cells
    nb.metadata.setdefault('language_info', {'name': 'python'})  # so code blocks are fenced as ```python
    md, _ = MarkdownExporter().from_notebook_node(nb)
    return re.sub(r'\n{3,}', '\n\n', md).strip() + '\n'

if __name__ == '__main__':
    nb_path = sys.argv[1] if len(sys.argv) > 1 else 'nbs/index.ipynb'
    out = sys.argv[2] if len(sys.argv) > 2 else 'README.md'
    md = readme_markdown(nb_path, Path(out).parent if out != '-' else ROOT)
    if out == '-': sys.stdout.write(md)
    else: open(out, 'w', encoding='utf-8').write(md)
