"""`baton export N --html` in a real browser: Debian's Chromium, headless, through Playwright
(the set-up of tests/demo/test_demo_browser.py). The page renders under its own Content Security
Policy, the picture has one row per person paged, a `<script>` typed into the title is shown as
text, and a screenshot is saved to tests/artifacts/export.png for review.
Skipped when Chromium or Playwright is missing, failed instead with BATON_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app.ticker import Ticker
from bot.store.clock import FakeClock
from bot.store.runtime import Baton
from tests.demo.test_demo_browser import browser, shot
from tests.records.test_export import EVERYONE, export
from tests.records.test_export_html import SCRIPT_TITLE, drill_page

__all__ = ["browser"]  # the fixture, shared with the demo's walk


def test_the_exported_page_renders_with_one_row_per_person_paged_and_the_script_as_text(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path, browser: Any
) -> None:
    baton, ticker, clock = clocked
    number = drill_page(baton, ticker, clock)
    done = export(db_url, str(number), "--html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"incident-{number}.html"

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("#window svg")

    title = page.locator("#title").inner_text()
    assert SCRIPT_TITLE in title  # shown as the text typed
    assert page.locator("script").count() == 0 and dialogs == []
    assert page.locator("#drill").inner_text().startswith("DRILL")
    rows = page.locator("#window svg g.person")
    assert rows.count() == len(EVERYONE)
    assert {rows.nth(i).get_attribute("data-user") for i in range(rows.count())} == EVERYONE
    box = page.locator("#window svg").bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 200  # drawn, not collapsed
    assert page.locator("#verified").inner_text() == "holds"
    assert page.locator("#timeline tbody tr").count() > 10
    if db_url.startswith("sqlite"):  # one screenshot for review
        assert shot(page, "export.png").stat().st_size > 10_000
