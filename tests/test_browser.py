"""The docs site in a real browser: headless Chromium opens every page of the site `make docs` builds.

Each page is served over HTTP from this machine (as GitHub Pages serves the Quarto site) and its DOM is read once
the page's scripts have run (`--dump-dom` after `--virtual-time-budget`, long enough for MathJax to typeset). On
every page: the sidebar lists every chapter, nothing of the notebook's scaffolding shows (prompts, `#|` lines,
Quarto's attribute syntax), math is typeset (no raw `$`, MathJax's elements where the page has math), and every
local link and resource resolves to a file of the site, and the server saw no request for a missing file.
Screenshots of three pages are saved in `_site_local/_screens/` for a person to look at.

Chromium is Debian's package: when it is missing and this runs as root with apt-get, the test installs it (the
only download any test makes); otherwise the tests are skipped, saying why.
"""
import functools, http.server, os, shutil, subprocess, sys, tempfile, threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from build_docs import front_matter, notebooks, sidebar_contents, sidebar_hrefs  # noqa: E402
import nbformat  # noqa: E402

NBS = ROOT/'nbs'
PAGES = [nb.relative_to(NBS).with_suffix('.html').as_posix() for nb in notebooks(NBS)]
SCREENSHOTS = ('index.html', '01_theory.html', '03_sensible.html')
BUDGET_MS = 8000  # virtual time for the page's scripts: MathJax typesets these pages in well under a second
BROWSERS = ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable')

def _find_browser():
    return next((p for b in BROWSERS if (p := shutil.which(b))), None)

def _install_chromium():
    "Debian's chromium through apt-get (root only); returns why it could not be had, or None."
    if os.geteuid() != 0 or not shutil.which('apt-get'): return 'no Chromium, and not root with apt-get to install it'
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for cmd in (['apt-get', 'update', '-qq'], ['apt-get', 'install', '-y', '-qq', 'chromium']):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if r.returncode: return f"`{' '.join(cmd)}` failed: {(r.stderr or r.stdout).strip()[-500:]}"

@pytest.fixture(scope='session')
def browser():
    "The path of a headless-capable Chromium, installed from Debian's package if need be; skips where none can be had."
    if (path := _find_browser()) is None:
        if why := _install_chromium(): pytest.skip(f"browser tests need Chromium: {why}")
        if (path := _find_browser()) is None: pytest.skip("browser tests need Chromium: apt-get installed no chromium binary")
    return path

class _Handler(http.server.SimpleHTTPRequestHandler):
    "Serves the site quietly and records every request for a file that is not there."
    missing = []
    def log_message(self, *args): pass
    def send_error(self, code, *args, **kw):
        if code == 404 and not self.path.startswith('/favicon.ico'): self.missing.append(self.path)
        super().send_error(code, *args, **kw)

@pytest.fixture(scope='session')
def server(site):
    "An HTTP server on 127.0.0.1 for the built site; yields (base url, list of 404 paths)."
    _, html_dir = site
    missing = []
    handler = type('Handler', (_Handler,), {'missing': missing})
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(handler, directory=str(html_dir)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/', missing
    httpd.shutdown(); httpd.server_close()

def _chromium(browser, *args, timeout=120):
    "Run headless Chromium once, with a profile of its own (so two can run at once); returns its stdout."
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([browser, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                            '--hide-scrollbars', '--no-first-run', f'--user-data-dir={profile}',
                            f'--virtual-time-budget={BUDGET_MS}', *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"chromium {' '.join(args)} failed:\n{r.stderr[-2000:]}"
    return r.stdout

@pytest.fixture(scope='session')
def doms(browser, server):
    "Every page's DOM after its scripts ran, read two pages at a time (this machine has 2 cores)."
    base, _ = server
    with ThreadPoolExecutor(2) as ex:
        return dict(zip(PAGES, ex.map(lambda p: _chromium(browser, '--dump-dom', base + p), PAGES)))

def _titles():
    "Each sidebar entry's title, from its processed notebook's front matter (what the page's sidebar shows)."
    return [front_matter(nbformat.read(ROOT/'_proc'/h, as_version=4)).get('title') or Path(h).stem
            for h in sidebar_hrefs(sidebar_contents(NBS/'sidebar.yml'))]

def _prose(soup):
    "The page's text outside code, scripts and styles (where notebook scaffolding or raw TeX would show)."
    soup = BeautifulSoup(str(soup), 'html.parser')
    for el in soup.find_all(['pre', 'code', 'script', 'style']): el.decompose()
    return soup.get_text(' ')

def _has_math(page, html_dir):
    "Does the page as built (before any script ran) hold TeX for MathJax?"
    soup = BeautifulSoup((html_dir/page).read_text(encoding='utf-8'), 'html.parser')
    return '$' in _prose(soup.find('main'))

@pytest.mark.parametrize('page', PAGES)
def test_page_in_browser(page, doms, site):
    _, html_dir = site
    soup = BeautifulSoup(doms[page], 'html.parser')
    main = soup.find('main')
    assert main is not None and soup.select_one('h1.title'), f"{page}: the browser shows no page content"
    # the sidebar, with every chapter, this page highlighted
    side = [a.get_text(' ', strip=True) for a in soup.select('nav#sidebar a.sidebar-link')]
    assert side == [' '.join(t.split()) for t in _titles()], f"{page}: sidebar shows {side}"
    assert [a['href'] for a in soup.select('nav#sidebar a.active')] == [Path(page).name]
    # nothing of the notebook's scaffolding
    text = main.get_text(' ')
    for bad in ('In [', 'Out[', '#|', 'source{target=', '{target='):
        assert bad not in text, f"{page} shows {bad!r}"
    # math typeset: no TeX left in the prose, MathJax's output where the page has math, and no TeX errors
    prose = _prose(main)
    assert '$$' not in prose and '$' not in prose, f"{page}: raw TeX left after MathJax ran: ...{prose[prose.find('$')-80:][:160]}..."
    if _has_math(page, html_dir):
        assert main.find('mjx-container'), f"{page} has math but MathJax typeset none of it"
    assert not soup.find('mjx-merror'), f"{page}: MathJax could not typeset {soup.find('mjx-merror').get_text()!r}"
    # every local link and resource is a file of the site
    for el in soup.select('[href], [src]'):
        url = el.get('href') or el.get('src')
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path: continue
        target = (html_dir/Path(page).parent/unquote(parts.path)).resolve()
        assert target.is_file() and target.is_relative_to(html_dir.resolve()), f"{page}: broken local link {url!r}"

def test_theory_page_has_math_and_figures(doms):
    "01_theory, the page with the most math, shows it typeset and its PNG figures inline."
    soup = BeautifulSoup(doms['01_theory.html'], 'html.parser')
    assert len(soup.select('main mjx-container')) > 20
    assert soup.select('main mjx-container[display="true"]'), "no display math on 01_theory"
    figs = soup.select('main .cell-output-display img[src^="data:image/png;base64,"]')
    assert len(figs) >= 1, "01_theory shows no figure"

def test_no_missing_files_requested(doms, server):
    "Loading every page (with MathJax's fonts and components) asked the server for no missing file."
    _, missing = server
    assert doms and missing == [], f"requests for files the site does not have: {sorted(set(missing))}"

def _is_blank(png):
    "Is the screenshot one flat colour (a page that did not render)?"
    import matplotlib.image
    img = matplotlib.image.imread(png)
    return float(img.std()) < 1e-3

@pytest.mark.parametrize('page', SCREENSHOTS)
def test_screenshot(page, browser, server, site):
    "A screenshot at a laptop's size, kept in _site_local/_screens/ for a person to look at."
    base, _ = server
    _, html_dir = site
    shots = html_dir/'_screens'
    shots.mkdir(exist_ok=True)
    png = shots/Path(page).with_suffix('.png').name
    _chromium(browser, f'--screenshot={png}', '--window-size=1280,900', base + page)
    assert png.exists() and png.stat().st_size > 20_000 and not _is_blank(png), f"{png}: no usable screenshot"
    print(f"screenshot of {page}: {png}")
