"""`baton export <number> --html`: a real incident (or drill) run on an injected clock, then the
installed `baton export` as a subprocess writing one self-contained page, on both databases.
The page in a browser: tests/records/test_export_html_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session, col, select

from bot.app.ticker import Ticker
from bot.records import evidence
from bot.store.clock import FakeClock
from bot.store.models import Evidence, Incident
from bot.store.runtime import Baton
from tests.records.test_chain import add_receipts, tamper
from tests.records.test_export import EVERYONE, MAYA, SAM, export
from tests.records.test_window import _breached_p1

SCRIPT_TITLE = "Refusals <script>alert(1)</script> & friends"


def drill_page(baton: Baton, ticker: Ticker, clock: FakeClock, *, drill: bool = True) -> int:
    """A breached P1 with `<script>` in its title, two pieces of evidence (one with an e-mail
    address, masked when stored), marked as a drill."""
    number = _breached_p1(baton, ticker, clock, title=SCRIPT_TITLE)
    evidence.add(baton=baton, number=number, author=SAM, text="mail me at sam@example.com <b>now</b>")
    evidence.add(baton=baton, number=number, author=MAYA, text="rolled back prompt v42")
    if drill:
        with Session(baton.engine) as s:
            inc = s.get(Incident, number)
            assert inc is not None
            inc.drill = True
            s.add(inc)
            s.commit()
    return number


def test_export_html_writes_one_self_contained_escaped_page(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    number = drill_page(baton, ticker, clock)

    done = export(db_url, str(number), "--html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"incident-{number}.html"
    assert done.stdout.strip() == f"wrote incident-{number}.html"
    page = path.read_text()

    assert page.startswith("<!doctype html>")
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;; '
        'style-src &#x27;unsafe-inline&#x27;; img-src data:">' in page
    )
    assert "<script" not in page.lower()
    assert "Refusals &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in page
    assert re.findall(r"\b(?:src|href)=", page) == []  # nothing loaded from anywhere
    assert "@import" not in page and "url(" not in page
    assert 'id="drill">DRILL' in page
    assert sorted(re.findall(r'<g class="person" data-user="([^"]+)">', page)) == sorted(EVERYONE)
    assert "sam@example.com" not in page and "[email]" in page  # masked when stored
    assert "&lt;b&gt;now&lt;/b&gt;" in page
    assert "rolled back prompt v42" in page
    assert 'id="verified">holds<' in page
    steps = page[page.index('<table id="steps">') : page.index("</table>", page.index('<table id="steps">'))]
    assert "maya after 1h 5m, outside the window" in steps  # the ack, at the step of T

    # -o FILE, and a number that does not exist.
    out = tmp_path / "sub" / "page.html"
    out.parent.mkdir()
    done = export(db_url, f"#{number}", "--html", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == page
    missing = export(db_url, str(number + 5), "--html", cwd=tmp_path)
    assert missing.returncode == 1 and f"there is no incident #{number + 5}" in missing.stderr
    assert not (tmp_path / f"incident-{number + 5}.html").exists()
    both = export(db_url, str(number), "--html", "--json", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr


def test_an_incident_that_is_no_drill_has_no_drill_marker(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    number = drill_page(baton, ticker, clock, drill=False)
    done = export(db_url, str(number), "--html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / f"incident-{number}.html").read_text()
    assert "DRILL" not in page and 'id="title">#' in page


def test_the_page_lists_the_areas_receipts_and_names_a_tampered_evidence_item(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = clocked
    number = drill_page(baton, ticker, clock)
    add_receipts(baton.engine, "model-quality", 2)
    add_receipts(baton.engine, "data", 1)  # another area's: not on this page
    with Session(baton.engine) as s:
        first = s.exec(
            select(Evidence).where(col(Evidence.incident_id) == number).order_by(col(Evidence.id))
        ).first()
        assert first is not None and first.id is not None
    tamper(baton.engine, Evidence.__table__, first.id, text="nothing to see")  # type: ignore[arg-type]

    done = export(db_url, str(number), "--html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / f"incident-{number}.html").read_text()
    receipts = page[page.index('<section id="receipts">') : page.index('<section id="verification">')]
    assert "Handoff receipts of model-quality (2)" in receipts
    assert receipts.count("handover ") == 2 and "maya → li" in receipts
    verification = page[page.index('<section id="verification">') :]
    assert 'id="verified">FAILS<' in verification
    assert f"evidence #{first.id} of incident #{number}" in verification
