"""The built docs site, opened in headless Chromium: every formula rendered by the bundled KaTeX
(offline: the site is served from 127.0.0.1 and loads nothing from elsewhere) and no raw Sphinx
role (``:class:`` …) left in any page's visible text.

Needs Debian's ``chromium`` (``.ci/run`` installs it when it is missing). Without it the test is
skipped, except under CI (the ``CI`` environment variable set), where it fails.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):")
RAW_MATHS = ("\\(", "\\)", "\\[", "\\]", "$$")
HIDDEN = {"script", "style", "pre", "noscript", "template"}

pytestmark = pytest.mark.slow


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("CI must open the docs in Chromium, but no chromium is installed (.ci/run "
                    "installs Debian's `chromium`; see its log)")  # fmt: skip
    pytest.skip("no chromium on PATH: `apt-get install -y chromium` to open the docs site")


@dataclass
class Page:
    """What a browser shows of one page: its visible text, and its formulas."""

    text: list[str] = field(default_factory=list)
    formulas: int = 0  # elements arithmatex marked as maths
    rendered: int = 0  # of those, the ones holding KaTeX's output
    errors: list[str] = field(default_factory=list)  # KaTeX's parse errors (red source)


class PageReader(HTMLParser):
    """Reads a DOM dump: text outside scripts, code blocks and KaTeX's hidden MathML copy."""

    def __init__(self) -> None:
        super().__init__()
        self.page = Page()
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, hidden, maths)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        hidden_above = bool(self.stack) and self.stack[-1][1]
        maths_above = bool(self.stack) and self.stack[-1][2]
        hidden = hidden_above or tag in HIDDEN or "katex-mathml" in classes
        if "arithmatex" in classes:
            self.page.formulas += 1
        if "katex" in classes and maths_above and not hidden_above:
            self.page.rendered += 1
            maths_above = False  # count one rendering per formula
        if "katex-error" in classes:
            self.page.errors.append(dict(attrs).get("title") or "?")
        if tag not in {"br", "hr", "img", "input", "meta", "link", "wbr", "source", "col"}:
            self.stack.append((tag, hidden, maths_above or "arithmatex" in classes))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1][1]):
            self.page.text.append(data)


def read_page(dom: str) -> Page:
    reader = PageReader()
    reader.feed(dom)
    return reader.page


def test_the_page_reader_tells_rendered_from_raw_maths() -> None:
    raw = read_page('<p>a <span class="arithmatex">\\(x^2\\)</span> :class:<code>A</code></p>')
    assert (raw.formulas, raw.rendered) == (1, 0) and "\\(x^2\\)" in "".join(raw.text)
    assert ROLE.search("".join(raw.text))
    done = read_page(
        '<span class="arithmatex"><span class="katex"><span class="katex-mathml"><math>'
        '<annotation>\\(x^2\\)</annotation></math></span><span class="katex-html">x2</span>'
        "</span></span><pre><code>:func:`f` \\(</code></pre>"
    )
    assert (done.formulas, done.rendered, done.errors) == (1, 1, [])
    assert "".join(done.text) == "x2"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The docs built as CI builds them (``--strict``)."""
    out = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO, check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The built site on a local HTTP server, as `mkdocs serve` would show it without a network."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (KaTeX renders on load)."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-extensions", "--disable-background-networking",
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "</html>" in done.stdout, (url, done.stderr[-2000:])
    return done.stdout


def site_pages(site: Path) -> list[str]:
    """Every page of the site, as a path below its root ('' is the home page)."""
    pages = [p.parent.relative_to(site).as_posix() for p in site.rglob("index.html")]
    return sorted("" if page == "." else page + "/" for page in pages)


@pytest.fixture(scope="module")
def pages(site: Path, served: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Page]:
    """Every page as headless Chromium shows it (two browsers at a time)."""
    chromium = find_chromium()
    profiles = tmp_path_factory.mktemp("profiles")
    names = site_pages(site)

    def open_page(index_name: tuple[int, str]) -> Page:
        index, name = index_name
        return read_page(dump_dom(chromium, f"{served}/{name}", profiles / str(index)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(open_page, enumerate(names)), strict=True))


def test_every_formula_is_rendered_by_katex(site: Path, pages: dict[str, Page]) -> None:
    with_maths = {name for name, page in pages.items() if page.formulas}
    # the pages whose Markdown holds maths ($…$ or $$…$$): each must show formulas
    sources = {
        ("" if p.stem == "index" else p.stem + "/")
        for p in (REPO / "docs").glob("*.md")
        if re.search(r"\$[^$\s`][^$`]*\$", p.read_text(encoding="utf-8"))
    }
    assert sources and sources <= with_maths, sources - with_maths
    for name in sorted(with_maths):
        page = pages[name]
        assert page.errors == [], f"/{name}: KaTeX could not parse {page.errors}"
        assert page.rendered == page.formulas, (
            f"/{name}: {page.formulas - page.rendered} of {page.formulas} formulas not rendered"
        )


def test_no_page_shows_raw_maths_or_sphinx_roles(pages: dict[str, Page]) -> None:
    assert len(pages) >= 15, sorted(pages)
    for name, page in pages.items():
        text = "".join(page.text)
        for raw in RAW_MATHS:
            at = text.find(raw)
            assert at < 0, f"/{name} shows raw maths {raw!r}: …{text[max(0, at - 60) : at + 60]}…"
        role = ROLE.search(text)
        at = role.start() if role else 0
        assert role is None, f"/{name} shows a raw Sphinx role: …{text[max(0, at - 60) : at + 80]}…"


def test_no_docstring_uses_a_sphinx_role() -> None:
    """mkdocstrings renders docstrings as Markdown: code is ``X``, not :class:`X` (raw there)."""
    role = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):`")
    sources = [*(REPO / "gan_regularizers").rglob("*.py"), *(REPO / "plugins").rglob("*.py")]
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if role.search(line)
    ]
    assert len(sources) > 100 and found == [], found
