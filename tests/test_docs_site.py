"""The documentation site (`make docs`): built strictly, read offline from file://, its live pages respond to hover.

The site is built here, into a temporary folder, by the same command `make docs` runs, so the tests read what
this checkout builds (`make test` builds it once more before pytest, into site/).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIVE_PAGES = ("demos/answer.html", "demos/maps.html", "demos/video.html")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).with_name("mkdocs")
    command = [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(folder)]
    built = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return folder


def test_every_page_reads_offline_from_file_urls(site, offline_page):
    """No page asks the network for anything (fonts, scripts, styles), and none fails on a script error."""
    page, requests = offline_page
    pages = sorted(path for path in site.rglob("*.html") if path.parent.name != "demos")
    assert {"index.html", "getting-started.html", "api.html", "notebooks/quickstart.html"} <= {
        path.relative_to(site).as_posix() for path in pages
    }
    for path in pages:
        page.goto(path.as_uri())
        assert page.locator("article").count() >= 1, path
    assert requests == []


def test_the_navigation_links_open_pages_from_file_urls(site, offline_page):
    page, _ = offline_page
    page.goto((site / "index.html").as_uri())
    links = page.eval_on_selector_all("nav.md-nav a.md-nav__link[href]", "links => links.map(a => a.href)")
    local = sorted({link.split("#")[0] for link in links if link.startswith("file://")})
    assert len(local) >= 15
    for link in local:
        assert link.endswith(".html"), link  # a folder URL would show a directory listing from file://
        page.goto(link)
        assert page.title().endswith("qvl_widget"), link


def test_search_works_offline(site, offline_page):
    page, _ = offline_page
    page.goto((site / "index.html").as_uri())
    page.click(".md-search__input", force=True)  # behind its label on a narrow screen
    page.keyboard.type("producing")  # typed: the search listens to keys, not to a filled value
    page.wait_for_selector(".md-search-result__item")
    assert "matching document" in page.text_content(".md-search-result__meta")


@pytest.mark.parametrize("live", LIVE_PAGES)
def test_each_live_page_is_embedded_and_linked(site, live):
    """Every live page is shown in some docs page (an iframe) and linked for opening on its own."""
    pages = [path.read_text(encoding="utf-8") for path in site.glob("*.html")]
    assert (site / live).is_file()
    assert any(re.search(rf'<iframe[^>]*src="{re.escape(live)}"', text) for text in pages), live
    assert any(f'href="{live}"' in text for text in pages), live


def test_hovering_a_token_in_an_embedded_page_repaints_its_map(site, offline_page):
    page, requests = offline_page
    page.goto((site / "index.html").as_uri())
    frame = page.frame_locator('iframe[src="demos/answer.html"]')
    widget = frame.locator(".qvl-widget")
    widget.wait_for()
    frames_before = int(widget.get_attribute("data-qvl-frames") or 0)
    caption_before = frame.locator(".qvl-caption").text_content()
    chips = frame.locator("[data-qvl-token]")
    word = next(index for index in range(chips.count()) if chips.nth(index).text_content().strip() == "color")
    chips.nth(word).hover()
    embedded = next(child for child in page.frames if child.url.endswith("demos/answer.html"))  # cross-origin
    embedded.wait_for_function(
        "before => Number(document.querySelector('.qvl-widget').dataset.qvlFrames) > before", arg=frames_before
    )
    caption = frame.locator(".qvl-caption").text_content()
    assert caption != caption_before and "color" in caption
    assert requests == []
