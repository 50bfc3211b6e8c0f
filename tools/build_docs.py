#!/usr/bin/env python
"""Build the docs site offline: nbdev's processed pages in `_proc/`, then a navigable HTML site (dev tool).

With Quarto, `nbdev_docs` renders the site into `_docs/` and the deploy workflow publishes it. Where Quarto cannot
be installed, this runs nbdev's own steps (`refresh_quarto_yml`, then `proc_nbs`, which drops hidden cells and runs
the `show_doc` cells) into `_proc/`, then renders every processed page with nbconvert and the template in
`tools/docs_template/` into `_site_local/` (or OUT_DIR), laid out and linked like the Quarto site:
- the sidebar of `nbs/sidebar.yml` on every page, the current page highlighted; an entry whose notebook does not
  exist is an error; every notebook is built, listed or not;
- each page's title and description from its front matter, and an "On this page" table of contents;
- the Quarto cell options nbdev uses: `echo: false` hides the code, `output: asis` makes the output's markdown part
  of the page, `include: false` / `output: false`; a cell that only runs fastcore.test checks is not shown;
- show_doc as nbdev writes it, with Quarto's `[source](url){target=...}` attribute syntax made a real link;
- links: `X.ipynb` -> `X.html`; nbdev's links to the published site -> the local page; other repository files ->
  their page on GitHub; files of nbs/ that a page links to are copied in; a link to nothing is an error;
- math typeset by a copy of MathJax 3 inside the site (the django-static-mathjax package), so it works offline.
It never calls `nbdev_docs` or `nbdev_proc_nbs`: without Quarto, those try to install it. Prints one line per page.
Usage: build_docs.py [--out OUT_DIR] [--n_workers N]
"""
import argparse, ast, html, importlib.util, os, posixpath, re, shutil, sys, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

# proc_nbs imports the library (torch) in each worker: one thread each, or two workers oversubscribe 2 cores.
for _v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')

import fastcore.test, nbformat, yaml
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from pygments.formatters import HtmlFormatter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).resolve().with_name('docs_template')
MATHJAX = '_static/mathjax/tex-chtml-full.js'  # where the site keeps MathJax; its fonts sit beside it

class DocsError(Exception):
    "A problem that makes the site wrong (a missing sidebar page, a broken link): the build fails with its message."

# ---- pages, front matter and the sidebar ----

def notebooks(nbs_path):
    "The notebooks that become pages: nbdev's default (no `_`/`.`-prefixed files or folders)."
    return sorted(p for p in Path(nbs_path).rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs_path).parts))

def front_matter(nb):
    "The YAML front matter that nbdev's processing puts in a raw first cell (title, description, output-file), or `{}`."
    for c in nb.cells:
        if c.cell_type == 'raw' and c.source.strip().startswith('---'):
            return yaml.safe_load(c.source.strip().strip('-')) or {}
    return {}

def sidebar_contents(sidebar_yml):
    "The entries of Quarto's sidebar file: notebook paths (str) and dicts (`href`/`text`, or `section` + `contents`)."
    side = yaml.safe_load(Path(sidebar_yml).read_text(encoding='utf-8')) or {}
    return side.get('website', {}).get('sidebar', {}).get('contents', [])

def sidebar_hrefs(items):
    "Every page path the sidebar links to, in order."
    for it in items:
        if isinstance(it, str): yield it
        elif isinstance(it, dict):
            if it.get('href'): yield it['href']
            yield from sidebar_hrefs(it.get('contents', []))

def missing_sidebar_pages(items, nbs_path):
    "The sidebar's local entries that have no file in `nbs_path`."
    return [h for h in sidebar_hrefs(items) if not urlsplit(h).scheme and not (Path(nbs_path)/h).exists()]

# ---- what Quarto does to nbdev's cells ----

_DIRECTIVE = re.compile(r'^\s*#\s*\|\s*(.*?)\s*$')
# fastcore.test's checks; a cell of nothing else (and asserts) is a test, which the docs do not show
TEST_FUNCS = frozenset(n for n in fastcore.test.__all__ if n.startswith('test'))

def cell_options(source):
    "The `#|` lines at the top of a code cell as a dict (`echo: false` -> {'echo': False}, `hide` -> {'hide': True}), and the rest of the source."
    lines, opts, i = source.splitlines(), {}, 0
    while i < len(lines) and (m := _DIRECTIVE.match(lines[i])):
        text = m.group(1)
        key, sep, val = text.partition(':')
        if sep and ' ' not in key.strip():  # a Quarto option, `key: yaml-value`
            try: opts[key.strip().lower()] = yaml.safe_load(val.strip())
            except yaml.YAMLError: opts[key.strip().lower()] = val.strip()
        elif text:  # an nbdev flag, `export`, `default_exp core`
            key, *arg = text.split(None, 1)
            opts[key.lower()] = arg[0] if arg else True
        i += 1
    return opts, '\n'.join(lines[i:])

def _is_check(node):
    "Is this statement only checking: an `assert`, a fastcore.test call, or a block made only of those?"
    if isinstance(node, ast.Assert): return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        return (f.id if isinstance(f, ast.Name) else getattr(f, 'attr', None)) in TEST_FUNCS
    if isinstance(node, (ast.For, ast.While, ast.With, ast.If)):
        return all(map(_is_check, node.body + getattr(node, 'orelse', [])))
    return False

def is_test_cell(cell):
    "A code cell with no output whose code is only fastcore.test checks and asserts."
    if cell.cell_type != 'code' or cell.get('outputs'): return False
    try: body = ast.parse(cell_options(cell.source)[1]).body
    except SyntaxError: return False  # cell magics and the like: not a plain check
    return bool(body) and all(map(_is_check, body))

_ATTR_LINK = re.compile(r'\[([^\]\n]+)\]\(([^)\s]+)\)\{([^}\n]*)\}')
_ATTR = re.compile(r'''([\w-]+)=(?:"([^"]*)"|'([^']*)'|([^\s}]+))|\.([\w-]+)|#([\w-]+)''')

def quarto_links(md):
    "Markdown with Quarto's link attributes, `[text](url){target=\"_blank\" style=...}` (show_doc's [source] link), as HTML links."
    def link(m):
        text, url, spec = m.groups()
        attrs, classes = {}, []
        for a in _ATTR.finditer(spec):
            if a.group(5): classes.append(a.group(5))
            elif a.group(6): attrs['id'] = a.group(6)
            else: attrs[a.group(1)] = next(g for g in a.group(2, 3, 4) if g is not None)
        if classes: attrs['class'] = ' '.join(classes)
        if attrs.get('target') == '_blank': attrs.setdefault('rel', 'noopener')
        return f'<a href="{html.escape(url)}"' + ''.join(f' {k}="{html.escape(v)}"' for k, v in attrs.items()) + f'>{text}</a>'
    return _ATTR_LINK.sub(link, md)

class QuartoCells(Preprocessor):
    "Quarto's handling of nbdev's processed cells: front matter to the title block, cell options honoured, checks not shown."
    def preprocess(self, nb, resources):
        cells = []
        for c in nb.cells:
            if c.cell_type == 'raw' and c.source.lstrip().startswith('---'): continue  # the template shows it
            if c.cell_type == 'markdown': c.source = quarto_links(c.source)
            if c.cell_type == 'code' and (c := self.code_cell(c)) is None: continue
            cells.append(c)
        nb.cells = cells
        return nb, resources

    def code_cell(self, c):
        "The cell as the page shows it, or None when nothing of it is shown."
        opts, body = cell_options(c.source)
        if opts.get('hide') or opts.get('include') is False or is_test_cell(c): return None
        c.source = body
        if opts.get('output') is False: c.outputs = []
        if opts.get('output') == 'asis': c.metadata['docs_asis'] = True
        for o in c.outputs:
            if 'text/markdown' in o.get('data', {}): o.data['text/markdown'] = quarto_links(o.data['text/markdown'])
        if opts.get('echo') is False or not body.strip(): c.metadata.setdefault('transient', {})['remove_source'] = True
        if c.metadata.get('transient', {}).get('remove_source') and not c.outputs: return None
        return c

def make_exporter():
    "nbconvert's HTML exporter with the site's template and Quarto's cell handling."
    c = Config()
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATE.parent)]
    c.HTMLExporter.template_name = TEMPLATE.name
    c.HTMLExporter.exclude_anchor_links = True  # headings get pandoc's ids afterwards (`add_toc`)
    c.HTMLExporter.preprocessors = [QuartoCells]
    return HTMLExporter(config=c)

# ---- the page's headings and table of contents ----

def slug(text):
    "Pandoc's identifier for a heading (what Quarto and nbdev's links use): lower case, `_-.` kept, spaces to `-`."
    s = re.sub(r'[^\w\s.-]', '', text.strip().lower())
    s = re.sub(r'^[^a-z]+', '', re.sub(r'\s+', '-', s))
    return s or 'section'

def add_toc(soup):
    "Give the content's headings their ids and list the h2/h3 ones in the page's `nav#TOC`; returns the ids."
    main, ids = soup.find('main'), set()
    for h in main.find_all(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']):
        base = h.get('id') or slug(h.get_text())
        hid, n = base, 0
        while hid in ids: n += 1; hid = f'{base}-{n}'
        h['id'] = hid; ids.add(hid)
    heads = [h for h in main.find_all(['h2', 'h3']) if not h.find_parent(class_='cell-output')]
    toc = soup.find('nav', id='TOC')
    if not heads:
        toc.decompose(); return ids
    title = soup.new_tag('h2', id='toc-title'); title.string = 'On this page'
    top = soup.new_tag('ul'); toc.extend([title, top]); sub = None
    for h in heads:
        li = soup.new_tag('li'); a = soup.new_tag('a', href=f"#{h['id']}"); a.string = h.get_text(' ', strip=True); li.append(a)
        if h.name == 'h3' and top.contents:
            if sub is None: sub = soup.new_tag('ul'); top.contents[-1].append(sub)
            sub.append(li)
        else: top.append(li); sub = None
    return ids | {'toc-title'}

# ---- the site ----

class Site:
    "The pages and what each needs of the others: titles, the sidebar, where links lead; problems go to `errors`/`warnings`."
    def __init__(self, nbs_path, proc_path, out, cfg, repo=ROOT):
        self.nbs, self.proc, self.out, self.repo = Path(nbs_path).resolve(), Path(proc_path), Path(out), Path(repo).resolve()
        self.pages = {nb.relative_to(self.nbs).as_posix(): nb.relative_to(self.nbs).with_suffix('.html').as_posix()
                      for nb in notebooks(self.nbs)}
        self.meta = {rel: front_matter(nbformat.read(self.proc/rel, as_version=4)) for rel in self.pages}
        # nbdev links documented names to the published site, where each page is its `output-file`
        self.published = {m.get('output-file', Path(rel).with_suffix('.html').name): rel for rel, m in self.meta.items()}
        self.site_url = (cfg.doc_host + cfg.doc_baseurl).rstrip('/') + '/'
        self.git_url, self.branch, self.title = cfg.git_url, cfg.branch, cfg.title
        self.sidebar = sidebar_contents(self.nbs/'sidebar.yml')
        self.css = self._quarto_css()
        self.assets, self.anchors, self.fragments, self.errors, self.warnings = set(), {}, [], [], []

    def _quarto_css(self):
        "The stylesheets `_quarto.yml` gives the HTML format (nbs/styles.css), so both renderings share them."
        q = yaml.safe_load((self.nbs/'_quarto.yml').read_text(encoding='utf-8')) or {}
        css = (q.get('format', {}).get('html', {}) or {}).get('css', [])
        return [css] if isinstance(css, str) else list(css)

    def title_of(self, rel):
        "A page's title: its front matter's, else its file name."
        return self.meta[rel].get('title') or Path(rel).stem

    def href(self, page, target, fragment=''):
        "The link from page `page` (a notebook path) to the site file `target` (a path in the site)."
        rel = posixpath.relpath(target, posixpath.dirname(self.pages[page]) or '.')
        return rel + (f'#{fragment}' if fragment else '')

    def sidebar_for(self, page, items=None):
        "The sidebar as the template draws it on `page`: text, relative href and whether it is the current page."
        res = []
        for it in self.sidebar if items is None else items:
            it = {'href': it} if isinstance(it, str) else it
            if 'contents' in it:
                res.append({'text': it.get('section') or it.get('text', ''), 'contents': self.sidebar_for(page, it['contents'])})
            elif urlsplit(it['href']).scheme: res.append({'text': it.get('text', it['href']), 'href': it['href'], 'active': False})
            else:
                rel = Path(it['href']).as_posix()
                res.append({'text': it.get('text') or self.title_of(rel), 'href': self.href(page, self.pages[rel]),
                            'active': rel == page})
        return res

    def context(self, page):
        "What the template needs besides the notebook (`resources.site`)."
        fm, depth = self.meta[page], page.count('/')
        desc = fm.get('description', '')
        return dict(title=self.title, page_title=self.title_of(page), description=desc,
                    description_text=re.sub(r'[`*]', '', desc), root='../' * depth, sidebar=self.sidebar_for(page),
                    mathjax=MATHJAX, extra_css=self.css, git_url=self.git_url)

    def link(self, url, page):
        "Where a link written on `page` leads in the site (a new href), or None when it leads nowhere."
        parts = urlsplit(url)
        if url.startswith(self.site_url):  # nbdev's link to a documented name on the published site
            rel = self.published.get(parts.path[len(urlsplit(self.site_url).path):] or 'index.html')
            return self._local(page, self.pages[rel], parts.fragment) if rel else None
        if parts.scheme or parts.netloc or not parts.path: return url  # the web, mailto:, data:, `#anchor`
        path = unquote(parts.path)
        if path.endswith('.html'):  # a page by its rendered name: ours (`03_sensible.html`) or Quarto's (`sensible.html`)
            here = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
            rel = next((nb for nb, h in self.pages.items() if h == here), None) or self.published.get(here)
            if rel: return self._local(page, self.pages[rel], parts.fragment)
        # as written (relative to the notebook), else relative to the README's folder (the repository root)
        target = next((t for t in ((self.nbs/page).parent/path, self.repo/path) if t.exists()), None)
        if target is None: return None
        target = target.resolve()
        rel_nbs = target.relative_to(self.nbs).as_posix() if target.is_relative_to(self.nbs) else None
        if rel_nbs in self.pages: return self._local(page, self.pages[rel_nbs], parts.fragment)
        if rel_nbs and target.is_file():  # a figure or data file beside the notebooks: copied into the site
            self.assets.add(rel_nbs); return self.href(page, rel_nbs, parts.fragment)
        if target.is_relative_to(self.repo):  # the rest of the repository: its page on GitHub
            kind = 'blob' if target.is_file() else 'tree'
            frag = f'#{parts.fragment}' if parts.fragment else ''
            return f'{self.git_url}/{kind}/{self.branch}/{target.relative_to(self.repo).as_posix()}{frag}'
        return None

    def _local(self, page, target_html, fragment):
        "A link to another page of the site; its fragment is checked once every page is rendered."
        if fragment: self.fragments.append((page, target_html, fragment))
        return self.href(page, target_html, fragment)

    def fix_links(self, soup, page):
        "Point the content's links and images at the site; every one that leads nowhere is an error."
        main = soup.find('main')
        for tag, attr in (('a', 'href'), ('img', 'src')):
            for el in main.find_all(tag, attrs={attr: True}):
                new = self.link(el[attr], page)
                if new is None: self.errors.append(f'nbs/{page}: broken link {el[attr]!r} (no such page or file)')
                else: el[attr] = new

    def render(self, page, exporter):
        "The HTML of one page: nbconvert with the template, then ids, table of contents and links."
        nb = nbformat.read(self.proc/page, as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={'site': self.context(page)})
        soup = BeautifulSoup(body, 'html.parser')
        self.anchors[self.pages[page]] = add_toc(soup)
        self.fix_links(soup, page)
        return str(soup)

    def check_fragments(self):
        "Warn of each `page.html#anchor` link whose page has no such id (the browser opens the page at its top)."
        for page, target, frag in self.fragments:
            if frag not in self.anchors.get(target, ()):
                self.warnings.append(f'nbs/{page}: link to {target}#{frag}: {target} has no such anchor (is the name documented there?)')

# ---- static files ----

def mathjax_root():
    "The MathJax 3 distribution (`es5/`) that the django-static-mathjax package installs (only its files are used)."
    spec = importlib.util.find_spec('mathjax')  # finds the package without importing it
    es5 = Path(next(iter(spec.submodule_search_locations)))/'static'/'mathjax'/'es5' if spec and spec.submodule_search_locations else None
    if es5 is None or not (es5/'tex-chtml-full.js').exists():
        raise DocsError("MathJax is not installed: install the dev set (settings.ini's dev_requirements has django-static-mathjax)")
    return es5

def copy_static(site):
    "The template's CSS, pygments' colours, the Quarto stylesheets and MathJax (its TeX component and fonts) into the site."
    static = site.out/'_static'
    shutil.copytree(TEMPLATE/'static', static)
    (static/'pygments.css').write_text(HtmlFormatter(style='default').get_style_defs('.highlight'), encoding='utf-8')
    for css in site.css:
        (site.out/css).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(site.nbs/css, site.out/css)
    es5, mj = mathjax_root(), site.out/Path(MATHJAX).parent
    mj.mkdir(parents=True)
    shutil.copy2(es5/Path(MATHJAX).name, mj)
    shutil.copy2(es5.parent/'LICENSE', mj/'LICENSE')
    shutil.copytree(es5/'output'/'chtml'/'fonts'/'woff-v2', mj/'output'/'chtml'/'fonts'/'woff-v2')

# ---- the build ----

def build(out='_site_local', n_workers=2):
    "Process every notebook into `_proc/` and render the site into `out`; returns the pages written (raises DocsError)."
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml
    from nbdev.serve import proc_nbs
    cfg = get_config()
    nbs_path = Path(cfg.nbs_path)
    if missing := missing_sidebar_pages(sidebar_contents(nbs_path/'sidebar.yml'), nbs_path):
        raise DocsError(f"nbs/sidebar.yml lists pages that do not exist: {', '.join(missing)} "
                        "(add the notebooks, or remove the entries / run `nbdev_sidebar --force`)")
    refresh_quarto_yml()  # writes nbs/nbdev.yml from settings.ini (and _quarto.yml only if it is missing)
    t0 = time.perf_counter()
    cache = Path(proc_nbs(nbs_path, n_workers=n_workers, force=True))
    print(f"processed {len(notebooks(nbs_path))} notebooks into {cache} in {time.perf_counter()-t0:.1f} s")
    site = Site(nbs_path, cache, out, cfg)
    if site.out.exists(): shutil.rmtree(site.out)
    site.out.mkdir(parents=True)
    copy_static(site)
    exporter, written = make_exporter(), []
    for page, html_rel in site.pages.items():
        dest = site.out/html_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(site.render(page, exporter), encoding='utf-8')
        written.append(dest)
        print(f"  {page} -> {dest}")
    for rel in sorted(site.assets):
        (site.out/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(site.nbs/rel, site.out/rel)
    site.check_fragments()
    for w in site.warnings: print(f"warning: {w}")
    if site.errors: raise DocsError('the site has broken links:\n  ' + '\n  '.join(site.errors))
    print(f"{len(written)} pages in {site.out}/ ({time.perf_counter()-t0:.1f} s in all); open {site.out/'index.html'}")
    return written

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default='_site_local')
    ap.add_argument('--n_workers', type=int, default=2)
    a = ap.parse_args()
    try: build(a.out, a.n_workers)
    except DocsError as e: sys.exit(f"docs build FAILED: {e}")
