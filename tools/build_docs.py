#!/usr/bin/env python
"""Build the docs site's sources and a local HTML rendering of every page, without Quarto (dev tool).

With Quarto, `nbdev_docs` does all of this and renders the site into `_docs/`. Where Quarto cannot be installed,
this runs the same nbdev steps (`refresh_quarto_yml`, then `proc_nbs`: the processing `nbdev_proc_nbs` does,
which executes the `show_doc` cells) into `_proc/`, then renders every processed page to standalone HTML with
`jupyter nbconvert` into `_site_local/` (or OUT_DIR). Prints one line per page.
Usage: build_docs.py [--out OUT_DIR] [--n_workers N]
"""
import argparse, re, shutil, sys, time
from pathlib import Path
import nbformat, yaml
from nbconvert import HTMLExporter
from nbdev.config import get_config
from nbdev.quarto import refresh_quarto_yml
from nbdev.serve import proc_nbs

def notebooks(nbs_path):
    "The notebooks that become pages: nbdev's default (no `_`/`.`-prefixed files or folders)."
    return sorted(p for p in Path(nbs_path).rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs_path).parts))

def _frontmatter(nb):
    "The YAML front matter that nbdev's processing puts in a raw first cell (title, description), or `{}`."
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.strip().startswith('---'):
            return yaml.safe_load(c.source.strip().strip('-')) or {}
    return {}

def render_html(proc_nb, out_html):
    "Render one processed notebook to standalone HTML, its front matter as the page's title and summary."
    nb = nbformat.read(proc_nb, as_version=4)
    fm = _frontmatter(nb)
    nb.cells = [c for c in nb.cells if c.cell_type != 'raw']
    if fm.get('title'):
        head = f"# {fm['title']}" + (f"\n\n> {fm['description']}" if fm.get('description') else '')
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(head))
    nb.metadata['title'] = fm.get('title', proc_nb.stem)
    html, _ = HTMLExporter().from_notebook_node(nb)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(html, encoding='utf-8')

def build(out='_site_local', n_workers=2):
    "Process every notebook into `_proc/` and render each page into `out`; returns the list of pages written."
    cfg = get_config()
    nbs_path = Path(cfg.nbs_path)
    refresh_quarto_yml()  # writes nbs/nbdev.yml from settings.ini (and _quarto.yml only if it is missing)
    t0 = time.perf_counter()
    cache = Path(proc_nbs(nbs_path, n_workers=n_workers, force=True))
    print(f"processed {len(notebooks(nbs_path))} notebooks into {cache} in {time.perf_counter()-t0:.1f} s")
    out = Path(out)
    if out.exists(): shutil.rmtree(out)
    pages = []
    for nb in notebooks(nbs_path):
        rel = nb.relative_to(nbs_path)
        proc = cache/rel
        if not proc.exists(): raise FileNotFoundError(f"nbdev's processing produced no page for {nb}")
        html = (out/rel).with_suffix('.html')
        render_html(proc, html)
        pages.append(html)
        print(f"  {rel} -> {html}")
    print(f"{len(pages)} pages in {out}/ ({time.perf_counter()-t0:.1f} s in all)")
    return pages

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='_site_local')
    ap.add_argument('--n_workers', type=int, default=2)
    a = ap.parse_args()
    build(a.out, a.n_workers)
