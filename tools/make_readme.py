#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb without Quarto (dev tool, not part of the library).

`nbdev_readme` renders the README with Quarto, which cannot be installed everywhere. This does the same job with
`jupyter nbconvert`'s Markdown exporter: it drops cells hidden with `#| hide` (and `#| include: false`), strips
the `#|` directive lines from the code cells it keeps, and converts the rest.
Usage: make_readme.py [NOTEBOOK [OUT]]   (OUT '-' writes to stdout)
"""
import re, sys
import nbformat
from nbconvert import MarkdownExporter

_directive = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')
_hidden = {'hide', 'include: false', 'include:false'}

def _directives(src):
    "The `#|` directives at the top of a cell's source, and the source without them."
    lines, out = src.splitlines(), []
    i = 0
    while i < len(lines) and (m := _directive.match(lines[i])): out.append(m.group(1).lower()); i += 1
    return out, '\n'.join(lines[i:])

def readme_markdown(nb_path):
    "The README's Markdown text for the notebook at `nb_path`."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            ds, body = _directives(c.source)
            if _hidden & set(ds) or not body.strip(): continue
            c.source = body
        cells.append(c)
    nb.cells = cells
    nb.metadata.setdefault('language_info', {'name': 'python'})  # so code blocks are fenced as ```python
    md, _ = MarkdownExporter().from_notebook_node(nb)
    return re.sub(r'\n{3,}', '\n\n', md).strip() + '\n'

if __name__ == '__main__':
    nb_path = sys.argv[1] if len(sys.argv) > 1 else 'nbs/index.ipynb'
    out = sys.argv[2] if len(sys.argv) > 2 else 'README.md'
    md = readme_markdown(nb_path)
    if out == '-': sys.stdout.write(md)
    else: open(out, 'w', encoding='utf-8').write(md)
