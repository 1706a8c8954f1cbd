"""Whatever a job sends goes out once, however often the job is tried: a post
whose answer Slack lost (it posted, then failed) is looked for before it is sent again; a page
DM, or a pager event, whose record the database refused is not sent again when the job is
retried. Through a running Baton (signed HTTP) and an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlmodel import col, select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.slack.chat import make_client
from bot.slack.standin import FakeSlack
from bot.store import delivery, jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Job, TimelineEvent
from bot.store.runtime import Baton
from tests import crashworker
from tests.conftest import (
    SHIPPED_OWNERSHIP,
    RunningBaton,
    incident_channel,
    page_dms,
    settings_for,
    settle,
)
from tests.dbfaults import on_job_thread, refusing
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


# A call Slack carried out whose answer was lost: a 5xx, an ok: false internal_error, the
# connection closed without an answer (status 0).
LOST = {
    "500 after posting": (500, None),
    "internal_error after posting": (200, "internal_error"),
    "connection dropped after posting": (0, None),
}


@pytest.mark.parametrize("answer", sorted(LOST))
@pytest.mark.parametrize("what", sorted(SAID))
def test_a_post_whose_answer_was_lost_is_found_and_not_posted_again(
    running: RunningBaton, fake_slack: FakeSlack, what: str, answer: str
) -> None:
    status, error = LOST[answer]
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


def _page(params: Any) -> bool:
    return str(params.get("channel", "")).startswith("U") and "incident_ack" in str(params.get("blocks"))


@pytest.mark.parametrize("answer", sorted(LOST))
def test_a_page_whose_answer_was_lost_is_found_in_the_dm_and_not_sent_again(
    running: RunningBaton, fake_slack: FakeSlack, answer: str
) -> None:
    """slack_sdk sent a post again by itself after a 5xx or a dropped connection, and a DM was
    never looked for: the page reached Maya twice."""
    status, error = LOST[answer]
    fake_slack.inject("chat.postMessage", status=status, error=error, effect=True, when=_page)
    resp = running.command("/incident", "P2 model-quality Refusals up", user_id=LEO)
    assert "Declared" in resp.text, resp.text
    fake_slack.wait_for(lambda: fake_slack.calls_to("conversations.history") or None, timeout=15)
    settle(running, timeout=10)
    pages = [m for m in fake_slack.dm_messages(MAYA) if "incident_ack" in str(m.get("blocks"))]
    assert len(pages) == 1, [m["text"] for m in pages]
    assert len(page_dms(fake_slack)) == 1  # one try reached Slack; the retry looked instead
    dm = fake_slack.dm_channel(MAYA)
    assert [c.params["users"] for c in fake_slack.calls_to("conversations.open")] == [MAYA]
    assert [c.params["channel"] for c in fake_slack.calls_to("conversations.history")] == [dm]
    (paged,) = _timeline(running.baton, "paged")
    assert paged.data["user"] == MAYA
    with session(running.baton.engine) as s:
        (page,) = s.exec(select(Job).where(col(Job.kind) == "page", col(Job.step) == 0)).all()
    assert page.state == "done" and page.delivery["dm"] == {
        "state": "sent",
        "ts": pages[0]["ts"],
        "at": page.delivery["dm"]["at"],
    }


@pytest.mark.parametrize("step", ["dm", "post"])
def test_a_send_whose_process_died_before_its_record_is_found_and_not_sent_again(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, db_url: str, step: str
) -> None:
    """A Baton (tests/crashworker.py) dies the moment it goes to record that Slack took the page
    DM ("dm") or the channel's paging notice ("post"); this one runs the job again after the
    lease and finds the message instead of sending it again."""
    baton, ticker, clock = clocked
    incidents.declare(baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO)
    died = crashworker.die_at(step, slack=fake_slack, db_url=db_url, ownership=SHIPPED_OWNERSHIP)
    assert died.returncode == crashworker.DIED, died.stderr
    said = SAID["paging notice"]
    sent = lambda: (  # noqa: E731
        [m for m in fake_slack.dm_messages(MAYA) if "incident_ack" in str(m.get("blocks"))]
        if step == "dm"
        else [m for m in fake_slack.messages(incident_channel(fake_slack).id) if m["text"].startswith(said)]
    )
    assert len(sent()) == 1  # Slack took it; its record never reached the database
    clock.advance(jobs.LEASE + timedelta(seconds=1))
    ticker.run_until_idle()
    assert len(sent()) == 1, [m["text"] for m in sent()]
    assert fake_slack.calls_to("conversations.history")
    with session(baton.engine) as s:
        assert s.exec(select(Job).where(col(Job.state).in_(["running", "failed"]))).all() == []
        marks = [j.delivery[step] for j in s.exec(select(Job)).all() if step in j.delivery]
    assert sent()[0]["ts"] in [m["ts"] for m in marks]
    assert len(_timeline(baton, "paged")) == 1


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


def test_the_apps_own_client_never_posts_twice_but_retries_what_is_safe(fake_slack: FakeSlack) -> None:
    """make_client is Bolt's client too (replies, say()): a post whose connection dropped after
    Slack took it surfaces; a read after a 500 and a post after a 429 are tried again."""
    client = make_client(token=fake_slack.bot_token, base_url=fake_slack.url)
    fake_slack.inject("chat.postMessage", status=0, effect=True)
    with pytest.raises(ConnectionError):
        client.chat_postMessage(channel=MAYA, text="once")
    fake_slack.inject("chat.postMessage", status=503, effect=True)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel=MAYA, text="once more")
    assert [m["text"] for m in fake_slack.dm_messages(MAYA)] == ["once", "once more"]
    fake_slack.inject("chat.postMessage", status=429, retry_after=0)
    assert client.chat_postMessage(channel=MAYA, text="after a 429")["ok"]
    fake_slack.inject("users.info", status=500)
    assert client.users_info(user=MAYA)["ok"]
    assert [c.http_status for c in fake_slack.calls_to("users.info")] == [500, 200]


@pytest.mark.parametrize("what", ["page DM", "paging notice"])
def test_a_retry_long_after_a_lost_answer_still_finds_the_message(
    fake_slack: FakeSlack, db_url: str, what: str
) -> None:
    """The look goes back from the time the step was marked sending (kept with the mark),
    less a margin for Slack's clock, however long the retry comes after: here 40 minutes (the
    database down, a lease, backoff), on a clock that starts at Slack's time."""
    settings = settings_for(fake_slack, db_url)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock(datetime.now(UTC))
    baton = boot(settings, config, clock=clock)
    ticker = Ticker(baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure)
    when = _page if what == "page DM" else _in_channel(SAID["paging notice"])
    try:
        fake_slack.inject("chat.postMessage", status=500, effect=True, when=when)
        incidents.declare(baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO)
        ticker.run_until_idle()
        sent = lambda: [c for c in fake_slack.calls_to("chat.postMessage") if when(c.params)]  # noqa: E731
        assert [c.http_status for c in sent()] == [500]  # Slack took it; Baton heard a 500
        clock.advance(timedelta(minutes=40))
        ticker.run_until_idle()
        assert [c.http_status for c in sent()] == [500]  # looked for and found, not sent again
        if what == "page DM":
            (message,) = [m for m in fake_slack.dm_messages(MAYA) if "incident_ack" in str(m.get("blocks"))]
        else:
            channel = incident_channel(fake_slack).id
            (message,) = [m for m in fake_slack.messages(channel) if m["text"].startswith(SAID[what])]
        history = fake_slack.calls_to("conversations.history")
        assert history and float(history[-1].params["oldest"]) < float(message["ts"])
        step = "dm" if what == "page DM" else "post"
        with session(baton.engine) as s:
            marks = [j.delivery.get(step) or {} for j in s.exec(select(Job)).all()]
        assert [m.get("ts") for m in marks if m.get("ts") == message["ts"]] == [message["ts"]]
    finally:
        ticker.shutdown()
        baton.engine.dispose()


def test_a_try_held_up_past_its_lease_sends_nothing_once_another_has_claimed_the_job(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """The first try is claimed, then held up (a pause, a stalled database) until its lease runs
    out; a second worker claims the page and sends it. When the first goes on, its own claim is
    stale: it must not send the page a second time."""
    baton, _, clock = clocked
    number = incidents.declare(baton=baton, severity="P1", area="model", title="Slow", reporter=LEO).id
    first = [
        j for j in jobs.claim_due(baton.engine, worker="a", now=clock.now(), limit=50) if j.kind == "page"
    ]
    assert first, "step 0's pages are due"
    clock.advance(jobs.LEASE + timedelta(seconds=1))
    second = [
        j for j in jobs.claim_due(baton.engine, worker="b", now=clock.now(), limit=50) if j.kind == "page"
    ]
    assert {j.id for j in second} == {j.id for j in first}
    page = next(j for j in second if j.payload.get("user") == MAYA)
    stale = next(j for j in first if j.id == page.id)
    paging.HANDLERS["page"](baton, page)  # the try that holds the job sends it
    with pytest.raises(delivery.Superseded):
        paging.HANDLERS["page"](baton, stale)
    dms = [c for c in page_dms(fake_slack) if c.params["channel"] == MAYA]
    assert len(dms) == 1
    paged = [e for e in _timeline(baton, "paged") if e.incident_id == number and e.data["user"] == MAYA]
    assert len(paged) == 1


def test_a_try_held_up_past_its_lease_sends_nothing_after_its_own_worker_claimed_and_deferred_the_job(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """One process (SQLite has one worker): try A is held up past its lease; the same worker
    claims the job again (try B), which defers, giving back the try it counted. Worker and try
    count are A's again; A's lease is not: A sends nothing."""
    baton, _, clock = clocked
    incidents.declare(baton=baton, severity="P1", area="model", title="Slow", reporter=LEO)
    first = [
        j for j in jobs.claim_due(baton.engine, worker="w", now=clock.now(), limit=50) if j.kind == "page"
    ]
    stale = next(j for j in first if j.payload.get("user") == MAYA)
    clock.advance(jobs.LEASE + timedelta(seconds=1))
    again = [
        j for j in jobs.claim_due(baton.engine, worker="w", now=clock.now(), limit=50) if j.id == stale.id
    ]
    assert again and again[0].attempts == stale.attempts + 1
    assert jobs.reschedule(
        baton.engine,
        stale.id or 0,
        worker="w",
        retry_at=clock.now() + timedelta(seconds=1),
        error=None,
        count=False,
    )
    with session(baton.engine) as s:
        row = s.get(Job, stale.id)
        assert row is not None and (row.claimed_by, row.attempts) == (stale.claimed_by, stale.attempts)
    with pytest.raises(delivery.Superseded):
        paging.HANDLERS["page"](baton, stale)
    assert [c for c in page_dms(fake_slack) if c.params["channel"] == MAYA] == []
