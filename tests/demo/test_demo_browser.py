"""`baton demo` in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

The walk a newcomer would take: declare a P1 as one person, see the channel and the page DMs
appear, let T/2 pass at --speed 180 (a P1's 30 minutes in 10 s), see the escalation, acknowledge
as the on-call, see paging stop; add a message to the evidence with the message shortcut; hand off
a role and countersign it as the other person; a <!channel> and an e-mail address in a title shown
escaped and masked. A drill run from the page: its score card in the drill channel, with the
timeline's PNG Baton shared there shown as an image. Screenshots go to tests/artifacts/.
Skipped when Chromium or Playwright is missing, failed instead with BATON_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.demo.conftest import DemoRun

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOT_README = ROOT / "docs" / "demo.png"
JONAS, MAYA, LI, OMAR, SAM = "U07JONAS01", "U07MAYA001", "ULIE", "U07OMAR001", "U07SAM0001"
# Generous waits for a loaded 2-core machine; each ends as soon as what it waits for is shown.
SEEN = 60_000


def _browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("BATON_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BATON_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Debian's Chromium; Playwright never downloads a browser here.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def open_page(browser: Any, demo: DemoRun) -> Any:
    """The demo's page at 1280x800, once it has drawn the people of ownership.yaml."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(demo.url)
    page.wait_for_selector("#people button[data-user]", timeout=SEEN)
    return page


def be(page: Any, user: str) -> None:
    """Pick who you are: that person's DMs with Baton are shown."""
    page.locator(f'#people button[data-user="{user}"]').click()
    page.wait_for_selector(f'#people button.selected[data-user="{user}"]')


def type_command(page: Any, text: str) -> None:
    page.locator("#cmd").fill(text)
    page.locator("#cmd").press("Enter")
    page.wait_for_selector('#status:text-matches("^Sent")', timeout=SEEN)


def test_a_p1_escalates_is_acknowledged_and_a_handoff_is_countersigned(demo: DemoRun, browser: Any) -> None:
    page = open_page(browser, demo)

    # Declare a P1 as Jonas, in #general, with a broadcast and an e-mail address in its title.
    be(page, JONAS)
    page.locator('#channels button[data-channel="C0GENERAL"]').click()
    type_command(page, "/incident P1 model-quality Answers are wrong <!channel> <b>x</b> ask bob@example.com")
    page.wait_for_selector('#messages .msg.ephemeral:has-text("Declared")', timeout=SEEN)

    # The channel appears, and the owning team's three pages (one DM each).
    channel = page.locator('#channels button[data-channel]:has-text("#inc-")')
    channel.wait_for(timeout=SEEN)
    for user in (MAYA, LI, OMAR):
        page.locator(f'#people button[data-user="{user}"] .count').wait_for(timeout=SEEN)
    channel.click()
    page.wait_for_selector("#messages .msg", timeout=SEEN)
    text = page.locator("body").inner_text()
    # Escaped: the typed <!channel> is shown as typed, never as an @channel mention; masked: no address.
    assert "<!channel>" in text
    assert page.locator("#messages .mention.broadcast").count() == 0
    assert "<b>x</b>" in text and page.locator("#messages b, #incidents b").count() == 0  # text, not HTML
    assert "bob@example.com" not in text and "[email]" in text
    shot(page, "demo-1-declared.png")

    # T/2 passes (10 s at --speed 180): the escalation step is done, the ladder shows its time.
    escalate = page.locator('#incidents .step[data-kind="page"][data-step="1"]')
    escalate.wait_for(timeout=SEEN)
    assert escalate.locator(".due").inner_text().count(":") == 2
    page.wait_for_selector('#incidents .step[data-kind="page"][data-step="1"].done', timeout=SEEN)
    readme = shot(page, "demo-2-escalated-1280x800.png")

    # Maya, the on-call, acknowledges from her DM: paging stops (the breach is cancelled).
    be(page, MAYA)
    page.locator('#messages button:has-text("Acknowledge")').last.click()
    page.wait_for_selector("#incidents .incident.state-acknowledged", timeout=SEEN)
    page.wait_for_selector('#incidents .step[data-kind="breach"].cancelled', timeout=SEEN)
    assert page.locator("#incidents .step.pending").count() == 0
    shot(page, "demo-3-acknowledged.png")

    # Evidence: Slack's message shortcut on the channel's opening message, as Maya.
    channel.click()
    page.locator("#messages .msg").first.locator(
        'button.msg-tool:has-text("Add to incident evidence")'
    ).click()
    page.wait_for_selector('#messages .msg.ephemeral:has-text("Added to the evidence of #1")', timeout=SEEN)

    # Maya (the area's accountable person) hands it to Li; Li countersigns from the DM it sends.
    page.locator('#channels button[data-channel="C0GENERAL"]').click()
    type_command(page, "/owner handoff model-quality @li Maya is on leave")
    be(page, LI)
    page.locator('#messages button:has-text("Countersign")').last.click(timeout=SEEN)
    # Li's request is replaced through the response_url, button and all, as Slack replaces it;
    # Maya is told it is countersigned.
    page.wait_for_selector('#messages .msg:has-text("You hold the role from now on")', timeout=SEEN)
    assert page.locator('#messages button:has-text("Countersign")').count() == 0
    be(page, MAYA)
    page.wait_for_selector('#messages .msg:has-text("countersigned handoff")', timeout=SEEN)
    shot(page, "demo-4-countersigned.png")

    # Narrow: the page still reads at 390 px.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "demo-5-390px.png")

    assert readme.stat().st_size < 200_000
    if os.environ.get("BATON_DEMO_SCREENSHOT") == "1":  # refresh the README's picture on purpose only
        shutil.copy(readme, SCREENSHOT_README)


def test_a_modal_baton_opens_is_a_form_submitted_as_slack_submits_it(demo: DemoRun, browser: Any) -> None:
    page = open_page(browser, demo)
    be(page, SAM)
    page.locator('#channels button[data-channel="C0GENERAL"]').click()
    type_command(page, "/incident")  # no arguments: Baton opens its declare modal (views.open)
    dialog = page.locator("dialog#modal")
    dialog.wait_for(state="visible", timeout=SEEN)
    assert dialog.locator("#modal-title").inner_text() == "Declare an incident"
    dialog.get_by_label("Severity").select_option("P2")
    dialog.get_by_label("Area").select_option("data")
    dialog.get_by_label("What is happening?").fill("Index is stale")
    shot(page, "demo-6-modal.png")
    dialog.get_by_role("button", name="Declare").click()
    dialog.wait_for(state="hidden", timeout=SEEN)
    card = page.locator('#incidents .incident:has-text("Index is stale")')
    card.wait_for(timeout=SEEN)
    assert "P2" in card.inner_text() and "data" in card.inner_text()


def test_a_drill_scored_on_the_page_shows_its_card_and_its_picture(demo: DemoRun, browser: Any) -> None:
    page = open_page(browser, demo)

    # Maya, the area's accountable person, starts a P1 drill (a 1 h window: 20 s at --speed 180).
    be(page, MAYA)
    page.locator('#channels button[data-channel="C0GENERAL"]').click()
    type_command(page, "/incident drill P1 model-quality rehearsal")
    page.wait_for_selector('#messages .msg.ephemeral:has-text("started")', timeout=SEEN)
    channel = page.locator('#channels button[data-channel]:has-text("#drill-")')
    channel.wait_for(timeout=SEEN)

    # She acknowledges her page, then resolves it from the channel's Resolve button. On a slow
    # machine the window may have ended first: then the card came at the last step, unanswered,
    # and the resolve does not score it again; either way there is one card and one picture.
    be(page, MAYA)
    page.locator('#messages button:has-text("Acknowledge")').last.click(timeout=SEEN)
    page.wait_for_selector("#incidents .incident:not(.state-open)", timeout=SEEN)
    channel.click()
    page.locator('#messages .msg button:has-text("Resolve")').first.click(timeout=SEEN)
    dialog = page.locator("dialog#modal")
    dialog.wait_for(state="visible", timeout=SEEN)
    dialog.get_by_label("How was it resolved?").fill("Rehearsed the ladder")
    dialog.get_by_role("button", name="Resolve").click()
    dialog.wait_for(state="hidden", timeout=SEEN)
    page.wait_for_selector("#incidents .incident.state-resolved", timeout=SEEN)

    # The score card, DRILL first, and the timeline's PNG after it: loaded from /files/<id>.
    card = page.locator('#messages .msg:has-text("score card")')
    card.first.wait_for(timeout=SEEN)
    assert card.count() == 1
    assert card.locator(".bk-context").first.inner_text().startswith("DRILL")
    figure = page.locator("#messages .msg figure.file")
    figure.first.wait_for(timeout=SEEN)
    assert figure.count() == 1
    assert "response window" in figure.locator("figcaption").inner_text()
    img = figure.locator("img.file-image")
    assert (img.get_attribute("src") or "").startswith("/files/F")
    img.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('#messages figure.file img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=SEEN,
    )
    assert img.evaluate("i => i.naturalWidth") > 0
    # The card, then the picture (the resolve's note may come between them).
    page.set_viewport_size({"width": 1280, "height": 1000})
    card.evaluate("m => m.scrollIntoView({block: 'start'})")
    shot(page, "demo-drill-card.png")
    figure.evaluate("f => f.scrollIntoView({block: 'end'})")
    shot(page, "demo-drill.png")
