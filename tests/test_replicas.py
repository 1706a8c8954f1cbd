"""Several replicas on one PostgreSQL: every page is sent exactly once, none skipped."""

from __future__ import annotations

import re
import time
from collections import Counter

from sqlmodel import col, select

from bot.store.db import session
from bot.store.models import TimelineEvent
from tests.conftest import FAST_SEVERITY, settle, start_baton
from tests.fakeslack import FakeSlack
from tests.test_paging_ladder import EVERYONE, OWNING_TEAM, TOLERANCE, T, _between, _dms


def test_three_replicas_send_each_page_once(fake_slack: FakeSlack, pg_url: str) -> None:
    replicas = [start_baton(fake_slack, pg_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY)) for _ in range(3)]
    try:
        t0 = time.monotonic()
        # Two incidents, declared through two different replicas.
        for rb, title in ((replicas[0], "Hallucination spike"), (replicas[1], "Refusals up")):
            resp = rb.command("/incident", f"P1 model-quality {title}", user_id="U07SAM0001")
            assert "Declared" in resp.text, resp.text
        expected = 2 * (3 + 8 + 8)
        fake_slack.wait_for(lambda: len(_dms(replicas[0])) >= expected or None, timeout=T + 4)
        for rb in replicas:
            settle(rb)  # every replica has done all it had: a duplicate would have arrived
        dms = _dms(replicas[0])
        assert len(dms) == expected
        # Per incident and user: once at 0 (owning team), once at T/2, once at T.
        per = Counter(
            (re.search(r"incident #(\d+)", str(c.params["text"])).group(1), c.params["channel"])  # type: ignore[union-attr]
            for c in dms
        )
        assert {n for n, _ in per} == {"1", "2"}
        assert {user: count for (n, user), count in per.items() if n == "1"} == {
            user: 3 if user in OWNING_TEAM else 2 for user in EVERYONE
        }
        assert _between(dms, t0, 0, TOLERANCE) == OWNING_TEAM
        assert _between(dms, t0, T / 2, T / 2 + TOLERANCE) == EVERYONE
        assert _between(dms, t0, T, T + TOLERANCE + 1) == EVERYONE
        channels = [c for c in fake_slack.calls_to("conversations.create") if c.ok]
        assert len(channels) == 2  # one channel per incident, not per replica
        with session(replicas[0].baton.engine) as s:
            paged = s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == "paged")).all()
        assert len(paged) == expected
    finally:
        for rb in replicas:
            rb.stop()
