"""The docs: every notebook becomes a page of a site that navigates like the Quarto one, every public symbol is
documented on its page, README == index.ipynb with links that resolve.

Quarto cannot be installed everywhere, so this checks what `make docs` (tools/build_docs.py) builds: nbdev's
processed pages in `_proc/` (where `show_doc` has run) and the offline site rendered from them (the `site` fixture
in conftest.py builds it once per session). The rendering's pieces are also checked on small made-up notebooks.
tests/test_browser.py looks at the same site in a real browser.
"""
import functools, html, importlib, inspect, json, re, sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit
import nbformat, pytest, yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402
from build_docs import (Site, cell_options, is_test_cell, make_exporter, missing_sidebar_pages, notebooks,  # noqa: E402
                        quarto_links, sidebar_contents, sidebar_hrefs, slug)
from make_readme import html_tables, output_markdown, readme_markdown  # noqa: E402

NBS = ROOT/'nbs'
LIB = ROOT/'sensible_adv'

# Public names a page does not document yet, with the reason. Strict: once documented, the entry must go.
KNOWN_GAPS = {}

def _title(nb_path):
    "The page title: the notebook's first markdown heading."
    nb = json.loads(nb_path.read_text(encoding='utf-8'))
    for c in nb['cells']:
        if c['cell_type'] == 'markdown' and (m := re.match(r'#\s+(.+)', ''.join(c['source']))): return m.group(1).strip()

@functools.lru_cache(maxsize=None)
def _page(html_dir, nb):
    "The parsed HTML page of notebook `nb`, parsed once per session (the tests only read it)."
    return BeautifulSoup((html_dir/nb.relative_to(NBS)).with_suffix('.html').read_text(encoding='utf-8'), 'html.parser')

def _modules():
    "Each library module with a non-empty `__all__`, with the notebook it is exported from."
    res = []
    for py in sorted(LIB.glob('*.py')):
        if py.stem.startswith('_'): continue
        m = re.search(r'File to edit: \.\./(nbs/\S+\.ipynb)', py.read_text(encoding='utf-8'))
        assert m, f"{py} has no nbdev 'File to edit' header: is it exported from a notebook?"
        mod = importlib.import_module(f'sensible_adv.{py.stem}')
        if getattr(mod, '__all__', None): res.append((mod, ROOT/m.group(1)))
    return res

def _symbols():
    return [pytest.param(mod, nb, name, id=f'{mod.__name__}.{name}',
                         marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[f'{mod.__name__}.{name}'])]
                         if f'{mod.__name__}.{name}' in KNOWN_GAPS else [])
            for mod, nb in _modules() for name in mod.__all__]

# ---- the built site ----

def test_every_notebook_made_a_page(site):
    proc, html_dir = site
    nbs = notebooks(NBS)
    assert {p.name for p in nbs} >= {'index.ipynb', '00_core.ipynb'}, nbs
    for nb in nbs:
        rel = nb.relative_to(NBS)
        assert (proc/rel).exists(), f"nbdev produced no processed page for {rel}"
        assert (html_dir/rel).with_suffix('.html').exists(), f"no HTML page for {rel}"
        page = _page(html_dir, nb)
        assert page.select_one('h1.title').get_text(strip=True) == _title(nb), f"{rel}: the page does not show its title"
        assert page.title.get_text().startswith(_title(nb)), f"{rel}: the browser tab does not name the page"

def test_build_prints_no_warning(site_log):
    "The docs build warns of nothing: e.g. nbdev runs a cell that imports, so a cell mixing imports and other code is a warning (and runs)."
    assert 'Warning' not in site_log and 'warn(' not in site_log, site_log[-3000:]

def test_sidebar_on_every_page(site):
    "Every page has the whole sidebar, in nbs/sidebar.yml's order, with itself (and only itself) highlighted."
    _, html_dir = site
    order = [(NBS/h).with_suffix('.html').name for h in sidebar_hrefs(sidebar_contents(NBS/'sidebar.yml'))]
    for nb in notebooks(NBS):
        links = _page(html_dir, nb).select('nav#sidebar a.sidebar-link')
        assert [Path(a['href']).name for a in links] == order, f"{nb.name}: sidebar differs from nbs/sidebar.yml"
        active = [Path(a['href']).name for a in links if 'active' in a.get('class', [])]
        assert active == [nb.with_suffix('.html').name], f"{nb.name}: highlighted in the sidebar: {active}"

def test_no_notebook_scaffolding(site):
    "No prompts, no `#|` directives, no show_doc calls, no raw Quarto attribute syntax on any page."
    _, html_dir = site
    for nb in notebooks(NBS):
        page = _page(html_dir, nb)
        text = page.find('main').get_text()
        for bad in ('In [', 'Out[', '#|', '{target=', 'source{'):
            assert bad not in text, f"{nb.name} shows {bad!r}"
        code = ' '.join(d.get_text() for d in page.select('div.cell-code'))
        assert 'show_doc(' not in code, f"{nb.name} shows show_doc cells"

def test_show_doc_source_links(site):
    "show_doc's [source] link is a real link to the code on GitHub that opens in a new tab."
    _, html_dir = site
    links = _page(html_dir, NBS/'03_sensible.ipynb').select('main a[target="_blank"]')
    src = [a for a in links if a.get_text() == 'source']
    assert len(src) >= 3 and all(a['href'].startswith('https://github.com/') and '/sensible_adv/sensible.py#L' in a['href']
                                 for a in src), src

def test_checks_only_cells_hidden(site):
    "Cells that only run fastcore.test checks (and have no output) are not shown (`#| hide`, or dropped by the build); other code cells are."
    proc, html_dir = site
    hidden = shown = 0
    for nb in notebooks(NBS):
        code = '\n'.join(d.get_text() for d in _page(html_dir, nb).select('div.cell-code'))
        for c in nbformat.read(nb, as_version=4).cells:        # the source: nbdev's processing drops `#| hide` cells
            opts, body = cell_options(c.source) if c.cell_type == 'code' else ({}, '')
            if is_test_cell(c):
                assert body.strip() not in code, f"{nb.name} shows a checks-only cell:\n{c.source[:200]}"
                hidden += 1
            elif c.cell_type == 'code' and not opts and body.strip():
                shown += body.strip().splitlines()[0] in code
    assert hidden > 10 and shown > 10, (hidden, shown)

def test_published_links_are_local(site):
    "nbdev links documented names to the published site; the offline site links them to its own pages."
    _, html_dir = site
    for nb in notebooks(NBS):
        for a in _page(html_dir, nb).select('main a[href]'):
            assert 'sensible-adv.github.io' not in a['href'], f"{nb.name}: {a['href']} leaves the offline site"
    callbacks = _page(html_dir, NBS/'04_callback.ipynb')
    assert callbacks.select_one('main a[href="02_attacks.html#attack_mode"]'), "attack_mode is not linked to its page"

def test_index_links_to_pages(site):
    "index's link to a notebook (`12_experiments.ipynb`) leads to its page."
    _, html_dir = site
    hrefs = {a['href'] for a in _page(html_dir, NBS/'index.ipynb').select('main a[href]')}
    assert '12_experiments.html' in hrefs and not any(h.endswith('.ipynb') for h in hrefs), hrefs

def test_math_is_local(site):
    "Math is typeset by the copy of MathJax inside the site: no page loads anything from the network."
    _, html_dir = site
    assert (html_dir/build_docs.MATHJAX).stat().st_size > 500_000
    assert list((html_dir/build_docs.MATHJAX).parent.glob('output/chtml/fonts/woff-v2/*.woff'))
    for nb in notebooks(NBS):
        page = _page(html_dir, nb)
        for el in page.select('script[src], link[href], img[src]'):
            url = el.get('src') or el.get('href')
            assert not urlsplit(url).scheme or url.startswith('data:'), f"{nb.name} loads {url}"

@pytest.mark.parametrize('mod,nb,name', _symbols())
def test_public_symbol_documented(site, mod, nb, name):
    proc, html_dir = site
    rel = nb.relative_to(NBS)
    page = (html_dir/rel).with_suffix('.html').read_text(encoding='utf-8')
    obj = getattr(mod, name)
    if callable(obj):  # functions and classes: a show_doc entry, rendered as a heading on the HTML page
        assert name in _show_doc_names(proc/rel), f"`{name}` (from {mod.__name__}) has no show_doc output in {rel}"
        assert re.search(rf'<h[2-4][^>]*>\s*{re.escape(name)}\s*<', page), f"`{name}` has no heading in {rel.with_suffix('.html')}"
        if _has_params(obj):  # its entry has the docments table (sensible_adv.showdoc), as docs.fast.ai's do
            md = _show_doc_names(proc/rel, markdown=True)[name]
            assert '| **Type** | **Default** | **Details** |' in md, f"`{name}`'s entry in {rel} has no parameter table:\n{md}"
    else:  # constants: show_doc does not document them; the page must at least name them
        assert re.search(rf'\b{re.escape(name)}\b', page), f"`{name}` (from {mod.__name__}) is not mentioned on {rel.with_suffix('.html')}"

def _show_doc_names(proc_nb, markdown=False):
    "Names documented by `show_doc` on a processed page (the headings of its markdown outputs); with `markdown`, name -> its entry."
    nb = json.loads(proc_nb.read_text(encoding='utf-8'))
    names = {}
    for c in nb['cells']:
        for o in c.get('outputs', []):
            md = ''.join(o.get('data', {}).get('text/markdown', ''))
            names.update({n: md for n in re.findall(r'^#{2,4}\s+(?:\w+\.)?(\w+)\s*$', md, re.M)})
    return names if markdown else set(names)

def _has_params(obj) -> bool:
    "Does `obj` take arguments that its documentation should list (any parameter but `self`)?"
    try: return any(p != 'self' for p in inspect.signature(obj).parameters)
    except (TypeError, ValueError): return False

# ---- the Quarto configuration and the README ----

def test_sidebar_lists_every_notebook():
    listed = set(sidebar_hrefs(sidebar_contents(NBS/'sidebar.yml')))
    pages = {str(p.relative_to(NBS)) for p in notebooks(NBS)}
    assert pages - listed == set(), f"not in nbs/sidebar.yml: {sorted(pages - listed)} (run `nbdev_sidebar --force`)"
    assert listed - pages == set(), f"nbs/sidebar.yml lists missing notebooks: {sorted(listed - pages)}"

def test_quarto_config():
    q = yaml.safe_load((NBS/'_quarto.yml').read_text())
    assert q['project']['type'] == 'website'
    assert set(q['metadata-files']) == {'nbdev.yml', 'sidebar.yml'}
    assert (NBS/'sidebar.yml').exists()

def test_ci_workflows():
    "nbdev's standard GitHub workflows: tests on each push and pull request, the Quarto site deployed from main."
    wf = ROOT/'.github'/'workflows'
    test, deploy = (yaml.safe_load((wf/f).read_text()) for f in ('test.yaml', 'deploy.yaml'))
    assert [s['uses'] for s in test['jobs']['test']['steps']] == ['fastai/workflows/nbdev-ci@master']
    assert [s['uses'] for s in deploy['jobs']['deploy']['steps']] == ['fastai/workflows/quarto-ghp@master']

def test_readme_in_sync_with_index():
    want = readme_markdown(NBS/'index.ipynb')
    have = (ROOT/'README.md').read_text(encoding='utf-8')
    assert have == want, "README.md is out of date with nbs/index.ipynb: run `make readme` and commit README.md"

def generated_cells(nb:str) -> tuple:
    """The `#| output: asis` cells of notebook `nb` (nbs/NAME), generated text that a test checks against its stored
    output, and the setup they need: the notebook's hidden import cells, and the chapter's own exports. (The generated
    cells hold no import: nbdev's docs processing runs every cell that does, elsewhere than in nbs/.)"""
    cells = [c for c in json.loads((NBS/nb).read_text())['cells'] if c['cell_type'] == 'code']
    src = lambda c: ''.join(c['source'])
    body = lambda c: [l for l in src(c).splitlines() if l.strip() and not l.startswith('#|')]
    setup = [src(c) for c in cells if src(c).startswith('#| hide') and body(c) and all(l.startswith(('import ', 'from ')) for l in body(c))]
    return [c for c in cells if '#| output: asis' in src(c)], '\n'.join(setup + ['from sensible_adv.experiments import *'])

@pytest.mark.parametrize('nb', ['index.ipynb', '12_experiments.ipynb'])
def test_generated_results_are_the_result_files(nb):
    "The README's headline and the experiments chapter's reading are what their cells make now from the committed files in nbs/results/."
    import os
    cells, setup = generated_cells(nb)
    assert cells, f"{nb} has no generated results cell"
    cwd = os.getcwd()
    for cell in cells:
        assert not re.search(r'^\s*(import|from) ', ''.join(cell['source']), re.M), "a generated cell holds no import (nbdev's docs processing would run it)"
        stored = ''.join(''.join(o['data']['text/markdown']) for o in cell['outputs'] if 'text/markdown' in o.get('data', {}))
        shown, ns = [], {}
        try:
            os.chdir(NBS)
            exec(compile(setup, f'{nb}:setup', 'exec'), ns)
            ns.update(Markdown=lambda text: text, display=shown.append)     # what `display(Markdown(text))` shows
            exec(compile(''.join(cell['source']), f'{nb}:results', 'exec'), ns)
        finally: os.chdir(cwd)
        assert shown and stored == shown[-1], f"{nb}'s generated results are stale: run `make outputs readme` and commit"

def test_frontier_figure_drawn_from_the_committed_results():
    "nbs/results/frontier.png (in the README) records the sha256 of the frontier.json it was drawn from: that of the committed file."
    import hashlib
    from PIL import Image
    res = NBS/'results'/'frontier.json'
    src = Image.open(NBS/'results'/'frontier.png').text.get('Source', '')
    assert src == f"frontier.json sha256:{hashlib.sha256(res.read_bytes()).hexdigest()}", \
        f"frontier.png was drawn from another frontier.json ({src!r}): run `make outputs readme` and commit"

def test_readme_links_resolve():
    "Every relative link in README.md leads to a file of the repository (links are relative to its root)."
    md = (ROOT/'README.md').read_text(encoding='utf-8')
    md = re.sub(r'```.*?```', '', md, flags=re.S)  # code blocks hold commands, not links
    for url in re.findall(r'\]\(([^)\s]+)', md):
        parts = urlsplit(url)
        if parts.scheme or not parts.path: continue
        assert (ROOT/parts.path).exists(), f"README.md links to {url}, which is not in the repository"

def test_readme_outputs_as_markdown():
    "The README shows a cell's outputs as Markdown: printed text fenced ```text, HTML tables as tables, no other HTML."
    table = '<div><style>td {}</style><table class="fastprogress"><thead><tr><th>epoch</th><th>a|b</th></tr></thead><tbody><tr><td>0</td><td>1.5</td></tr></tbody></table></div>'
    assert html_tables(table) == '| epoch | a\\|b |\n|---|---|\n| 0 | 1.5 |'
    assert output_markdown({'output_type': 'display_data', 'data': {'text/html': table, 'text/markdown': '```html\n...'}}) == html_tables(table)
    assert output_markdown({'output_type': 'stream', 'name': 'stdout', 'text': 'acc 0.9\n'}) == '```text\nacc 0.9\n```'
    assert output_markdown({'output_type': 'stream', 'name': 'stderr', 'text': 'warning'}) == ''
    assert output_markdown({'output_type': 'display_data', 'data': {'text/html': '<style>x</style>'}}) == ''
    assert output_markdown({'output_type': 'execute_result', 'data': {'text/markdown': '**bold**'}}) == '**bold**'
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    assert not re.search(r'<(table|style|div)\b', readme), "README.md holds HTML from a notebook output"

# ---- the rendering's pieces, on made-up notebooks ----

def test_cell_options():
    assert cell_options('#| echo: false\n#| output: asis\nshow_doc(f)') == ({'echo': False, 'output': 'asis'}, 'show_doc(f)')
    assert cell_options('#|hide\n#| default_exp core\nx = 1') == ({'hide': True, 'default_exp': 'core'}, 'x = 1')
    assert cell_options('x = 1  #| not a directive') == ({}, 'x = 1  #| not a directive')

@pytest.mark.parametrize('src,outputs,hidden', [
    ('test_eq(f(1), 2)\ntest_fail(lambda: f(-1), contains="neg")', [], True),
    ('assert f(1) == 2\nfor i in range(3): test_close(f(i), 2*i)', [], True),
    ('#| slow\ntest_ne(f(1), 3)', [], True),
    ('x = f(1)\ntest_eq(x, 2)', [], False),              # set-up code is shown, with its checks
    ('test_eq(f(1), 2)', [nbformat.v4.new_output('stream', text='2\n')], False),  # an output is shown
    ('%time test_eq(f(1), 2)', [], False),
    ('print(test_eq)', [], False)])
def test_checks_only_cells(src, outputs, hidden):
    assert is_test_cell(nbformat.v4.new_code_cell(src, outputs=outputs)) == hidden

def test_quarto_link_attributes():
    md = '[source](https://x.org/a.py#L3){target="_blank" style="float:right; font-size:smaller"}'
    assert quarto_links(md) == ('<a href="https://x.org/a.py#L3" target="_blank" style="float:right; font-size:smaller"'
                                ' rel="noopener">source</a>')
    assert quarto_links('[a](b.html){.btn #go}') == '<a href="b.html" id="go" class="btn">a</a>'
    assert quarto_links('[a](b.html) {not attributes}') == '[a](b.html) {not attributes}'

def test_slug_like_pandoc():
    assert [slug(t) for t in ('The idea', 'SensibleResult', 'Learner.fit', 'arrays_dls', '2. Results (CPU)')] == \
        ['the-idea', 'sensibleresult', 'learner.fit', 'arrays_dls', 'results-cpu']

PNG = ('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==')

def _mini_site(tmp_path, cells, sidebar=('index.ipynb', 'a.ipynb')):
    "A two-page site in `tmp_path` (already 'processed': front matter in a raw cell), and the Site over it."
    nbs = tmp_path/'nbs'; nbs.mkdir()
    (nbs/'_quarto.yml').write_text('format:\n  html:\n    css: styles.css\n')
    (nbs/'styles.css').write_text('')
    (nbs/'sidebar.yml').write_text(yaml.safe_dump({'website': {'sidebar': {'contents': list(sidebar)}}}))
    (nbs/'fig.png').write_bytes(b'png')
    for name, title, body in (('index', 'Home', [nbformat.v4.new_markdown_cell('Intro: see [A](a.ipynb#the-part).')]),
                              ('a', 'Chapter A', cells)):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_raw_cell(f'---\ntitle: {title}\ndescription: About `{name}`.\noutput-file: {name}.html\n---')] + body
        nbformat.write(nb, nbs/f'{name}.ipynb')
    cfg = SimpleNamespace(doc_host='https://me.github.io', doc_baseurl='/proj', git_url='https://github.com/me/proj',
                          branch='main', title='proj')
    (tmp_path/'setup.py').write_text('')
    return Site(nbs, nbs, tmp_path/'out', cfg, repo=tmp_path)

def test_render_cells(tmp_path):
    "Each kind of cell and output renders as on the Quarto site; the page has its title, sidebar and contents."
    md_out = nbformat.v4.new_output('execute_result', data={'text/markdown': '### f\n\n[source](https://github.com/me/proj/f.py){target="_blank"}\n\n*Doc of $f$.*', 'text/plain': 'x'})
    cells = [
        nbformat.v4.new_markdown_cell('## The part\n\nMath $x^2$ and a [figure](fig.png), [home](index.ipynb), '
                                      '[f](https://me.github.io/proj/a.html#f), [code](../setup.py), [by name](index.html).'),
        nbformat.v4.new_code_cell('#| echo: false\n#| output: asis\nshow_doc(f)', outputs=[md_out]),
        nbformat.v4.new_code_cell('#| hide\nsecret = 1'),
        nbformat.v4.new_code_cell('#| include: false\nalso_secret = 1'),
        nbformat.v4.new_code_cell('#| output: false\nshown_code = 1', outputs=[nbformat.v4.new_output('stream', text='not shown')]),
        nbformat.v4.new_code_cell('test_eq(1, 1)'),
        nbformat.v4.new_code_cell('df', outputs=[nbformat.v4.new_output('execute_result', data={
            'text/html': '<table class="dataframe"><tr><td>1</td></tr></table>', 'text/plain': 'df'})]),
        nbformat.v4.new_code_cell('plot()', outputs=[nbformat.v4.new_output('display_data', data={'image/png': PNG, 'text/plain': '<Figure>'})]),
        nbformat.v4.new_code_cell('print(1)', outputs=[nbformat.v4.new_output('stream', text='printed 1\n')]),
    ]
    s = _mini_site(tmp_path, cells)
    page = BeautifulSoup(s.render('a.ipynb', make_exporter()), 'html.parser')
    main, text = page.find('main'), page.find('main').get_text()
    assert page.title.get_text() == 'Chapter A – proj' and page.select_one('h1.title').get_text() == 'Chapter A'
    assert page.select_one('.description code').get_text() == 'a'
    assert [(a.get_text(), a['href'], 'active' in a['class']) for a in page.select('nav#sidebar a')] == \
        [('Home', 'index.html', False), ('Chapter A', 'a.html', True)]
    assert [a['href'] for a in page.select('nav#TOC a')] == ['#the-part', '#f']
    assert 'secret' not in text and 'show_doc' not in text and 'test_eq' not in text and 'not shown' not in text
    assert 'shown_code' in text and 'printed 1' in text and '$x^2$' in text
    doc = main.select_one('div.cell-asis')
    assert doc.find('h3', id='f') and doc.find('a', target='_blank')['href'] == 'https://github.com/me/proj/f.py'
    assert doc.select_one('em').get_text() == 'Doc of $f$.' and not doc.select('.cell-output')  # asis: part of the page
    assert main.select_one('.cell-output-display table.dataframe')
    assert main.select_one('.cell-output-display img')['src'] == f'data:image/png;base64,{PNG}'
    assert [a['href'] for a in main.select('.cell-markdown a')] == \
        ['fig.png', 'index.html', 'a.html#f', 'https://github.com/me/proj/blob/main/setup.py', 'index.html']
    assert s.assets == {'fig.png'} and not s.errors
    assert not re.search(r'In&nbsp;\[|Out\[|In \[', str(page))

def test_broken_links_and_sidebar_are_errors(tmp_path):
    s = _mini_site(tmp_path, [nbformat.v4.new_markdown_cell('[gone](nowhere.ipynb) [anchor](index.ipynb#nope)')])
    s.render('index.ipynb', make_exporter()); s.render('a.ipynb', make_exporter()); s.check_fragments()
    assert len(s.errors) == 1 and 'nowhere.ipynb' in s.errors[0]
    assert [w for w in s.warnings if 'index.html#nope' in w], s.warnings  # a missing anchor: a warning
    assert missing_sidebar_pages(['index.ipynb', '08_learner.ipynb', {'section': 'More', 'contents': ['a.ipynb', 'b.ipynb']}],
                                 s.nbs) == ['08_learner.ipynb', 'b.ipynb']

def test_build_fails_on_missing_sidebar_page(tmp_path, monkeypatch):
    "A sidebar entry without its notebook stops the build before anything runs, naming the entry."
    nbs = tmp_path/'nbs'; nbs.mkdir()
    (nbs/'sidebar.yml').write_text(yaml.safe_dump({'website': {'sidebar': {'contents': ['index.ipynb', '09_runs.ipynb']}}}))
    (nbs/'index.ipynb').write_text(nbformat.writes(nbformat.v4.new_notebook()))
    import nbdev.config
    monkeypatch.setattr(nbdev.config, 'get_config', lambda *a, **k: SimpleNamespace(nbs_path=nbs))
    with pytest.raises(build_docs.DocsError, match=r'sidebar.yml lists pages that do not exist: 09_runs.ipynb'):
        build_docs.build(tmp_path/'out')
