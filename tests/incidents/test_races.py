"""Two replicas racing on one incident, on SQLite and PostgreSQL: each state
change is taken by exactly one of them or applied one after the other, never half of each, and
a ladder is never doubled."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlmodel import col, select

from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Incident, Job, TimelineEvent
from tests.conftest import FAST_SEVERITY, RunningBaton, start_baton
from tests.handlers.test_incident_command import (
    EVERYONE,
    LEO,
    LI,
    MAYA,
    OMAR,
    SAM,
    page_dms,
    paged_users,
)

JONAS = "U07JONAS01"  # admin


@pytest.fixture
def replicas(fake_slack: FakeSlack, db_url: str) -> Iterator[tuple[RunningBaton, RunningBaton]]:
    a = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    b = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    yield a, b
    a.stop()
    b.stop()


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Send the requests together, one per thread, released by one barrier."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def command(rb: RunningBaton, text: str, user: str, channel: str) -> Callable[[], httpx.Response]:
    return lambda: rb.command("/incident", text, user_id=user, channel_id=channel)


def declared(rb: RunningBaton, text: str = "P1 model-quality Refusals up") -> str:
    resp = rb.command("/incident", text, user_id=LEO)
    assert "Declared" in resp.text, resp.text
    fake = rb.fake
    channel = fake.wait_for(
        lambda: next((c for c in fake.channels.values() if c.name.startswith("inc-") and c.pins), None)
    )
    fake.wait_for(lambda: len(page_dms(fake)) >= 3, message="step 0")
    return str(channel.id)


def kinds(rb: RunningBaton, kind: str) -> list[TimelineEvent]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == kind)).all())


def incident(rb: RunningBaton) -> Incident:
    with session(rb.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None
        return inc


def ladder(rb: RunningBaton) -> Counter[tuple[str, int | None]]:
    """Pending pages per (person, step): a doubled ladder shows as a count of 2."""
    with session(rb.baton.engine) as s:
        rows = s.exec(
            select(Job).where(col(Job.kind) == "page", col(Job.state) == "pending", col(Job.incident_id) == 1)
        ).all()
    return Counter((str(j.payload["user"]), j.step) for j in rows)


def texts(answers: list[httpx.Response]) -> list[str]:
    return sorted(a.json()["text"] if a.content.strip() else "" for a in answers)


def test_two_acknowledgements_at_once(replicas: tuple[RunningBaton, RunningBaton]) -> None:
    a, b = replicas
    channel = declared(a)
    answers = at_once(command(a, "ack", MAYA, channel), command(b, "ack", LI, channel))
    assert [t.split(" by ")[0] for t in texts(answers)] == ["", "#1 was already acknowledged"]
    assert len(kinds(a, "acknowledged")) == 1 and incident(a).state == "acknowledged"
    assert ladder(a) == Counter()


def test_two_resolutions_at_once(replicas: tuple[RunningBaton, RunningBaton]) -> None:
    a, b = replicas
    channel = declared(a)
    answers = at_once(
        command(a, "resolve Reverted", MAYA, channel), command(b, "resolve Fixed", JONAS, channel)
    )
    said = texts(answers)
    assert said[0] == "" and "already resolved" in said[1], said
    assert len(kinds(a, "resolved")) == 1 and incident(a).state == "resolved"
    a.fake.wait_for(
        lambda: len([m for m in a.fake.messages(channel) if "Who was paged when" in m["text"]]) == 1
    )


def test_two_raises_at_once_plan_one_ladder(replicas: tuple[RunningBaton, RunningBaton]) -> None:
    a, b = replicas
    channel = declared(a)
    answers = at_once(command(a, "sev P0", LEO, channel), command(b, "sev P0", MAYA, channel))
    said = texts(answers)
    assert said[0] == "" and "already P0" in said[1], said
    assert len(kinds(a, "severity")) == 1
    # One P0 ladder: everyone once at T/2 and once at T, nobody twice.
    assert set(ladder(a).values()) == {1} and {u for u, _ in ladder(a)} == EVERYONE
    a.fake.wait_for(lambda: paged_users(page_dms(a.fake)) >= EVERYONE, message="P0 pages")


def test_a_raise_racing_an_acknowledgement_ends_consistent(
    replicas: tuple[RunningBaton, RunningBaton],
) -> None:
    a, b = replicas
    channel = declared(a)
    at_once(command(a, "sev P0", LEO, channel), command(b, "ack", MAYA, channel))
    inc = incident(a)
    if inc.state == "open":  # ack first, then the raise re-opened it with a new ladder
        assert inc.acknowledged_by is None and set(ladder(a).values()) == {1} and ladder(a)
    else:  # the raise first, then the ack stopped its ladder
        assert inc.state == "acknowledged" and ladder(a) == Counter()
    assert inc.severity == "P0"


def test_two_commander_handovers_at_once_apply_one_after_the_other(
    replicas: tuple[RunningBaton, RunningBaton],
) -> None:
    a, b = replicas
    channel = declared(a)
    at_once(
        command(a, f"commander <@{SAM}|sam>", MAYA, channel),
        command(b, f"commander <@{OMAR}|omar>", JONAS, channel),
    )
    changes = sorted(kinds(a, "commander"), key=lambda e: e.id or 0)
    assert len(changes) == 2
    # No lost update: the second saw the first's result.
    assert changes[0].data["old"] == MAYA and changes[1].data["old"] == changes[0].data["new"]
    assert incident(a).commander == changes[1].data["new"]


def test_two_reopens_at_once_start_one_ladder(replicas: tuple[RunningBaton, RunningBaton]) -> None:
    a, b = replicas
    channel = declared(a)
    assert a.command("/incident", "resolve Reverted", user_id=MAYA, channel_id=channel).status_code == 200
    answers = at_once(command(a, "reopen", MAYA, channel), command(b, "reopen", JONAS, channel))
    said = texts(answers)
    assert said[0] == "" and "not resolved" in said[1], said
    assert len(kinds(a, "reopened")) == 1 and incident(a).state == "open"
    assert set(ladder(a).values()) == {1}
