"""Issue 17 item 17: whatever a job sends goes out once, however often the job is tried: a post
whose answer Slack lost (it posted, then failed) is looked for before it is sent again; a page
DM, or a pager event, whose record the database refused is not sent again when the job is
retried. Through a running Baton (signed HTTP) and an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.schema import load_config
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Job, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, RunningBaton, incident_channel, page_dms, settings_for, settle
from tests.dbfaults import on_job_thread, refusing
from tests.fakeslack import FakeSlack
from tests.webhookserver import webhook_server

LEO, MAYA = "U07LEO0002", "U07MAYA001"


def _timeline(baton: Baton, kind: str) -> list[TimelineEvent]:
    with session(baton.engine) as s:
        return list(s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == kind)).all())


def _in_channel(text: str) -> Callable[[Any], bool]:
    return lambda p: str(p.get("channel", "")).startswith("C") and str(p.get("text", "")).startswith(text)


# What an incident channel is told, each a job of another kind: the pinned card (set-up), the
# step's paging notice, a status update (a post).
SAID = {
    "opening card": ":rotating_light: ",
    "paging notice": ":pager: Paging ",
    "status update": ":memo: Status from ",
}


@pytest.mark.parametrize("answer", ["500 after posting", "internal_error after posting"])
@pytest.mark.parametrize("what", sorted(SAID))
def test_a_post_whose_answer_was_lost_is_found_and_not_posted_again(
    running: RunningBaton, fake_slack: FakeSlack, what: str, answer: str
) -> None:
    status, error = (500, None) if answer.startswith("500") else (200, "internal_error")
    fake_slack.inject(
        "chat.postMessage", status=status, error=error, effect=True, when=_in_channel(SAID[what])
    )
    resp = running.command("/incident", "P2 model-quality Refusals up", user_id=LEO)
    assert "Declared" in resp.text, resp.text
    channel = incident_channel(fake_slack)
    if what == "status update":
        settle(running)
        running.command("/incident", "status Rolling back prompt v42", user_id=MAYA, channel_id=channel.id)
    fake_slack.wait_for(
        lambda: any(m["text"].startswith(SAID[what]) for m in fake_slack.messages(channel.id)) or None
    )
    settle(running, timeout=10)  # the try that failed comes back after its backoff (1 s)

    said = [m for m in fake_slack.messages(channel.id) if m["text"].startswith(SAID[what])]
    assert len(said) == 1, [m["text"] for m in said]
    tries = [c for c in fake_slack.calls_to("chat.postMessage") if _in_channel(SAID[what])(c.params)]
    assert len(tries) == 1  # looked for (conversations.history), never posted blind a second time
    assert fake_slack.calls_to("conversations.history")
    if what == "opening card":
        assert channel.pins == {said[0]["ts"]} or list(channel.pins) == [said[0]["ts"]]
    with session(running.baton.engine) as s:
        assert s.exec(select(Job).where(col(Job.state) == "failed")).all() == []


def _paged_insert(sql: str, params: Any) -> bool:
    return (
        on_job_thread()
        and sql.lstrip().upper().startswith("INSERT INTO TIMELINE_EVENT")
        and "'paged'" in repr(params)
    )


@pytest.mark.parametrize("refusals", [1, 6])
def test_a_page_whose_record_the_database_refused_is_not_sent_again(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, refusals: int
) -> None:
    """Once: the record is tried again at once; six times: the job is retried (and its first
    failure told), and the retry records the DM it sent instead of sending another."""
    baton, ticker, clock = clocked
    with refusing(baton.engine, _paged_insert, times=refusals) as fault:
        incidents.declare(baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO)
        ticker.run_until_idle()
        for _ in range(8):  # past any backoff, and past the 5-minute lease
            clock.advance(timedelta(minutes=1))
            ticker.run_until_idle()
    assert fault.refused == refusals
    assert [c.params["channel"] for c in page_dms(fake_slack)] == [MAYA]
    (paged,) = _timeline(baton, "paged")
    assert paged.data["user"] == MAYA
    with session(baton.engine) as s:
        (page,) = s.exec(select(Job).where(col(Job.kind) == "page", col(Job.step) == 0)).all()
    assert page.state == "done" and page.delivery["dm"]["state"] == "sent"
    metrics = baton.metrics.render().decode()
    assert "baton_pages_sent_total 1.0" in metrics


def test_a_pager_event_whose_record_the_database_refused_is_not_sent_again(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ownership = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    ownership.write_text(
        text.replace(
            "    channel: C07MLTEAM",
            '    channel: C07MLTEAM\n    pager:\n      webhook: {url: "${ML_HOOK}"}',
            1,
        )
    )
    with webhook_server() as hook:
        monkeypatch.setenv("ML_HOOK", hook.url())
        settings = settings_for(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership))
        config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
        clock = FakeClock()
        baton = boot(settings, config, clock=clock)
        ticker = Ticker(
            baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure
        )
        try:
            sent = lambda sql, params: (  # noqa: E731
                on_job_thread() and "INSERT INTO TIMELINE_EVENT" in sql.upper() and "sent" in repr(params)
            )
            with refusing(baton.engine, sent, times=6) as fault:
                incidents.declare(
                    baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
                )
                for _ in range(8):
                    ticker.run_until_idle()
                    clock.advance(timedelta(minutes=1))
            assert fault.refused == 6
            events = [r.json()["event"] for r in hook.received()]
            assert events == ["trigger"]
            assert [e.text for e in _timeline(baton, "pager")] == ["webhook: trigger sent"]
        finally:
            ticker.shutdown()
            baton.engine.dispose()
