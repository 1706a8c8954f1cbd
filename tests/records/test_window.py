"""The response window as data (bot/records/window.py) and its picture (bot/records/picture.py),
from incidents run through the real services on an injected clock, on both databases."""

from __future__ import annotations

import re
import struct
from datetime import timedelta

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.records import picture, window
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.runtime import Baton
from tests.records.test_export import EVERYONE, LEO, LI, MAYA, OWNING_TEAM, move_to, settle

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read(baton: Baton, number: int, **kw: object) -> window.ResponseWindow:
    with session(baton.engine) as s:
        got = window.load(s, number, **kw)  # type: ignore[arg-type]
    assert got is not None
    return got


def _breached_p1(baton: Baton, ticker: Ticker, clock: FakeClock, title: str = "Refusals up") -> int:
    """A P1 nobody answers: step 0 at +0, T/2 at +30m, T (breach) at +1h; maya at +1h05m."""
    start = clock.now()
    inc = incidents.declare(baton=baton, severity="P1", area="model-quality", title=title, reporter=LEO)
    assert inc.id is not None
    settle(baton, ticker, clock)
    move_to(clock, start, timedelta(minutes=30))
    ticker.run_until_idle()
    move_to(clock, start, timedelta(hours=1))
    ticker.run_until_idle()
    move_to(clock, start, timedelta(hours=1, minutes=5))
    incidents.acknowledge(baton=baton, number=inc.id, user=MAYA)
    return inc.id


def test_a_breached_window_has_every_page_the_late_ack_and_the_breach(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str
) -> None:
    baton, ticker, clock = clocked
    number = _breached_p1(baton, ticker, clock)
    w = _read(baton, number)

    assert (w.number, w.severity, w.area, w.drill, w.window) == (number, "P1", "model-quality", False, 3600)
    assert [(st.second, st.label, st.breach) for st in w.steps] == [
        (0, "0", False),
        (1800, "T/2", False),
        (3600, "T", True),
    ]
    assert {p.user for p in w.people} == EVERYONE
    assert [p.user for p in w.people][:3] != [] and {
        p.user for p in w.people[:3]
    } == OWNING_TEAM  # paged first
    maya = next(p for p in w.people if p.user == MAYA)
    assert maya.name == "maya"  # the policy snapshot's handle
    assert [(m.second, m.step, m.breach) for m in maya.marks] == [
        (0, 0, False),
        (1800, 1, False),
        (3600, 2, True),
    ]
    assert w.ack == window.Ack(MAYA, "maya", 3900, False)
    assert (w.breached, w.breached_second) == (True, 3600)
    assert w.end == 3900

    by_step = {st.index: st for st in w.summary}
    assert {p.user for p in by_step[0].paged} == OWNING_TEAM and {p.second for p in by_step[0].paged} == {0}
    assert {p.user for p in by_step[1].paged} == EVERYONE and {p.second for p in by_step[1].paged} == {1800}
    assert {p.user for p in by_step[2].paged} == EVERYONE and by_step[2].breach
    assert [st.acknowledged for st in w.summary] == [None, None, w.ack]  # answered after T's pages


def test_an_ack_inside_the_window_stops_the_ladder_and_names_the_display_name_given(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str
) -> None:
    baton, ticker, clock = clocked
    start = clock.now()
    inc = incidents.declare(baton=baton, severity="P1", area="model-quality", title="Slow", reporter=LEO)
    assert inc.id is not None
    settle(baton, ticker, clock)
    move_to(clock, start, timedelta(minutes=4, seconds=12))
    incidents.acknowledge(baton=baton, number=inc.id, user=LI)
    move_to(clock, start, timedelta(hours=2))
    ticker.run_until_idle()  # nothing more: the ladder was cancelled

    w = _read(baton, inc.id, names={LI: "Li Wei"})
    assert {p.user for p in w.people} == OWNING_TEAM
    assert all([m.second for m in p.marks] == [0] for p in w.people)
    assert w.ack == window.Ack(LI, "Li Wei", 252, True)
    assert not w.breached and w.breached_second is None
    assert [len(st.paged) for st in w.summary] == [3, 0, 0]
    assert [st.acknowledged for st in w.summary] == [w.ack, None, None]


def test_the_svg_has_one_row_per_person_paged_and_the_png_is_the_layouts_size(
    clocked: tuple[Baton, Ticker, FakeClock], db_url: str
) -> None:
    baton, ticker, clock = clocked
    number = _breached_p1(baton, ticker, clock, title="<script>alert(1)</script> & more")
    w = _read(baton, number)

    svg = picture.svg(w)
    rows = re.findall(r'<g class="person" data-user="([^"]+)">', svg)
    assert sorted(rows) == sorted(EVERYONE)
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in svg
    assert svg.count('<g class="breach">') == 1 and svg.count('<g class="ack" ') == 1
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched

    lay = picture.layout(w)
    data = picture.png(w)
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (lay.width * 2, lay.height * 2)
    assert lay.height == picture.TOP + len(EVERYONE) * picture.ROW + picture.BOTTOM
    once = picture.png(w, scale=1)
    assert struct.unpack(">II", once[16:24]) == (lay.width, lay.height)
