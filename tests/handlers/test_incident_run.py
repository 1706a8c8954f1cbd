"""`/incident run` and the Approve / Deny buttons through the real path:
Slack-signed requests to /slack/events of a running Baton on an injected clock, its ownership.yaml
carrying actions under model-quality, and what the fake Slack saw. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.actions.messages import APPROVE, DENY
from bot.app.runner import Runner, boot
from bot.config.loader import load_config
from bot.slack.standin import Channel, FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import ActionRequest, Job, TimelineEvent
from handlers.app import create_app
from tests.actions.test_action_requests import APPROVED, JONAS, LEO, LI, MAYA, OMAR, SAM, write_ownership
from tests.conftest import RunningBaton, settings_for
from tests.handlers.test_incident_command import channel_of, in_channel, posted, reply
from tests.slack_signing import block_actions_body
from tests.webhookserver import WebhookServer, webhook_server

GENERAL = "C07GENERAL"


@dataclass
class App:
    rb: RunningBaton
    clock: FakeClock
    ownership: Path
    db_url: str


def start(fake: FakeSlack, db_url: str, ownership: Path, clock: FakeClock) -> RunningBaton:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    baton = boot(settings, config, clock=clock)
    runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
    runner.start()
    return RunningBaton(baton=baton, runner=runner, fake=fake)


def _release_turns(stop: threading.Event, app: App) -> None:
    """A channel job that deferred for its turn just after the job ahead of it ended waits for
    its retry time, 100 ms on the injected clock, which only moves when a test moves it: let it
    go, as the ticker does when the job ahead ends (and as 100 ms of real time would)."""
    while not stop.wait(0.05):
        baton = app.rb.baton
        now = baton.clock.now()
        try:
            with session(baton.engine) as s:
                waiting = s.exec(
                    select(Job.incident_id).where(
                        col(Job.state) == "pending",
                        col(Job.due_at) <= now,
                        col(Job.retry_at) > now,
                        col(Job.kind).in_(jobs.CHANNEL_KINDS),
                        col(Job.last_error).is_(None),  # deferred, not retrying after an error
                    )
                ).all()
            for number in {n for n in waiting if n is not None}:
                if jobs.release_waiting(baton.engine, incident_id=number, now=now):
                    baton.wake()
        except Exception:  # the engine is being replaced (a restart): try again next round
            continue


@pytest.fixture
def app(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[App]:
    """A running Baton on an injected clock; ownership.yaml has actions under model-quality."""
    fake_slack.add_channel("general", channel_id=GENERAL)
    ownership = write_ownership(tmp_path)
    clock = FakeClock()
    found = App(start(fake_slack, db_url, ownership, clock), clock, ownership, db_url)
    stop = threading.Event()
    releaser = threading.Thread(target=_release_turns, args=(stop, found), daemon=True)
    releaser.start()
    yield found
    stop.set()
    releaser.join()
    found.rb.stop()


def incident(app: App) -> Channel:
    """Incident #1, P1 in model-quality declared by leo, with its channel set up."""
    body = reply(app.rb.command("/incident", "P1 model-quality Refusals up on checkout", user_id=LEO))
    assert "Declared" in body["text"], body
    return channel_of(app.rb.fake)


def run(app: App, channel: Channel, text: str, user: str) -> str:
    """`/incident run …` in the incident channel; the ephemeral answer."""
    return str(reply(in_channel(app.rb, channel, f"run {text}", user=user))["text"])


def elsewhere(app: App, text: str, user: str) -> str:
    body = reply(app.rb.command("/incident", text, user_id=user, channel_id=GENERAL, channel_name="general"))
    return str(body["text"])


def requests_(app: App) -> list[ActionRequest]:
    with session(app.rb.baton.engine) as s:
        return list(s.exec(select(ActionRequest).order_by(col(ActionRequest.id))).all())


def calls(app: App) -> list[Job]:
    with session(app.rb.baton.engine) as s:
        return list(s.exec(select(Job).where(col(Job.kind) == "action_call")).all())


def action_events(app: App) -> list[tuple[str, str]]:
    with session(app.rb.baton.engine) as s:
        return [
            (e.kind, e.actor)
            for e in s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.kind).startswith("action"))
                .order_by(col(TimelineEvent.id))
            ).all()
        ]


def approval_dm(app: App, user: str, request_id: int) -> dict[str, Any]:
    """The DM asking `user` to decide request #request_id (waits for it)."""
    return app.rb.fake.wait_for(
        lambda: next(
            (
                m
                for m in app.rb.fake.dm_messages(user)
                if f'"value": "{request_id}"' in json.dumps(m.get("blocks"))
                and APPROVE in json.dumps(m["blocks"])
            ),
            None,
        ),
        message=f"approval request #{request_id} to {user}",
    )


def buttons(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (e["text"]["text"], e["action_id"], e["value"])
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def click(
    app: App, action_id: str, request_id: int, *, user: str, dm_of: str, ts: str | None = None
) -> dict[str, Any]:
    """Press Approve or Deny in `dm_of`'s DM (the message `ts`, already replaced, if given) as
    `user`; what respond() said."""
    fake = app.rb.fake
    ts = ts or approval_dm(app, dm_of, request_id)["ts"]
    dm = fake.dm_channel(dm_of)
    url = fake.response_url(dm, user, ts)
    body = block_actions_body(
        action_id, str(request_id), user_id=user, channel_id=dm, message_ts=ts, response_url=url
    )
    resp = app.rb.post(body)
    assert resp.status_code == 200, resp.text
    return fake.wait_for(lambda: fake.responses(url)[-1], message="respond()").body


def dm_now(app: App, user: str, ts: str) -> dict[str, Any]:
    return next(m for m in app.rb.fake.dm_messages(user) if m["ts"] == ts)


# -- accountable -------------------------------------------------------------------------------------


def test_the_accountable_person_alone_decides_and_the_first_decision_counts(app: App) -> None:
    fake = app.rb.fake
    channel = incident(app)
    answer = run(app, channel, "rollback-prompt version=v41", LI)
    assert f"Asked <@{MAYA}> to approve `rollback-prompt` (version=v41) (request #1)" in answer
    assert "Nothing runs until they approve; unless someone decides by <!date^" in answer
    dm = approval_dm(app, MAYA, 1)
    assert buttons(dm) == [("Approve", APPROVE, "1"), ("Deny", DENY, "1")]
    shown = json.dumps(dm["blocks"])
    assert f"<@{LI}> asks to run `rollback-prompt` (version=v41)" in shown and "*#1* P1" in shown
    assert "Decide by <!date^" in shown
    posted(
        fake,
        channel.id,
        f"<@{LI}> asks to run `rollback-prompt` (version=v41): waiting for approval by <@{MAYA}>",
    )

    # The requester may not approve their own request, nor may anyone not asked: nothing changes.
    mine = click(app, APPROVE, 1, user=LI, dm_of=MAYA)
    assert mine["replace_original"] is False and "someone else must decide" in mine["text"]
    other = click(app, APPROVE, 1, user=OMAR, dm_of=MAYA)
    assert (
        other["replace_original"] is False
        and f"Only the approvers asked (<@{MAYA}>) can approve or deny request #1" in other["text"]
    )
    admin = click(app, DENY, 1, user=JONAS, dm_of=MAYA)
    assert f"Only the approvers asked (<@{MAYA}>)" in admin["text"]
    (req,) = requests_(app)
    assert (req.state, req.decided_by) == ("pending", None) and calls(app) == []
    assert buttons(dm_now(app, MAYA, dm["ts"])) != []

    approved = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA)
    assert approved["replace_original"] is True and "You approved request #1" in approved["text"]
    assert buttons(dm_now(app, MAYA, dm["ts"])) == []  # the DM was replaced: nothing left to click
    (req,) = requests_(app)
    assert req.state in APPROVED and req.decided_by == MAYA
    (call,) = calls(app)
    assert (call.payload, call.incident_id) == ({"request": 1}, 1)
    assert action_events(app)[:2] == [("action requested", LI), ("action approved", MAYA)]
    posted(fake, channel.id, f"<@{MAYA}> approved <@{LI}>'s request to run `rollback-prompt`")

    # A second click, by anyone, changes nothing and says so.
    for user in (MAYA, OMAR):
        again = click(app, DENY, 1, user=user, dm_of=MAYA, ts=dm["ts"])  # a stale copy of the DM
        assert f"already approved by <@{MAYA}> at <!date^" in again["text"], again
    (req,) = requests_(app)
    assert req.state in APPROVED and req.decided_by == MAYA and len(calls(app)) == 1
    assert [k for k, _ in action_events(app)].count("action approved") == 1


def test_run_from_elsewhere_with_the_number_bad_input_and_who_may(app: App) -> None:
    incident(app)
    assert "`run <action> [k=v …]`" in elsewhere(app, "help", LEO)
    nope = elsewhere(app, "run #1 nope", LI)
    assert "There is no action `nope` in `model-quality`" in nope
    assert all(f"`{a}`" in nope for a in ("rollback-prompt", "disable-feature", "flush-cache"))
    assert "needs `version`" in elsewhere(app, "run #1 rollback-prompt", LI)
    assert "its parameters are `version`" in elsewhere(app, "run #1 rollback-prompt versoin=v1", LI)
    assert "works inside an incident channel" in elsewhere(app, "run flush-cache", LI)
    refused = elsewhere(app, "run #1 flush-cache", LEO)
    assert "can run an action on #1" in refused and f"<@{MAYA}>" in refused
    assert requests_(app) == [] and calls(app) == []

    # approval: none runs at once: approved by Baton, the call queued, nobody asked.
    answer = elsewhere(app, "run #1 flush-cache", OMAR)
    assert "`flush-cache` needs no approval: Baton calls it now (request #1)" in answer
    (req,) = requests_(app)
    assert req.state in APPROVED and (req.decided_by, req.approvers) == ("baton", [])
    (call,) = calls(app)
    assert call.payload == {"request": 1}
    assert action_events(app)[:2] == [("action requested", OMAR), ("action approved", "baton")]
    assert not any(
        APPROVE in json.dumps(m.get("blocks")) for u in (MAYA, LI, JONAS) for m in app.rb.fake.dm_messages(u)
    )


def test_the_accountable_person_asking_is_decided_by_an_admin(app: App) -> None:
    channel = incident(app)
    answer = run(app, channel, "rollback-prompt version=v40", MAYA)
    assert f"Asked <@{JONAS}>" in answer
    dm = approval_dm(app, JONAS, 1)
    assert "as an admin" in json.dumps(dm["blocks"])
    own = click(app, APPROVE, 1, user=MAYA, dm_of=JONAS)  # the accountable person, who asked
    assert "someone else must decide" in own["text"]
    assert click(app, APPROVE, 1, user=JONAS, dm_of=JONAS)["replace_original"] is True
    (req,) = requests_(app)
    assert req.decided_by == JONAS and len(calls(app)) == 1


# -- two-person --------------------------------------------------------------------------------------


def test_two_person_asks_everyone_allowed_and_two_clicks_at_once_make_one_decision(app: App) -> None:
    channel = incident(app)
    answer = run(app, channel, "disable-feature", LI)
    for user in (MAYA, OMAR, JONAS):  # R (the ML Team), A (maya, also commander), the admin
        assert f"<@{user}>" in answer
        approval_dm(app, user, 1)
    assert f"<@{LI}>" not in answer and f"<@{SAM}>" not in answer
    assert not any(APPROVE in json.dumps(m.get("blocks")) for m in app.rb.fake.dm_messages(LI))

    answers: dict[str, dict[str, Any]] = {}
    barrier = threading.Barrier(2)

    def press(user: str) -> None:
        barrier.wait()
        answers[user] = click(app, APPROVE, 1, user=user, dm_of=user)

    threads = [threading.Thread(target=press, args=(u,)) for u in (MAYA, OMAR)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (req,) = requests_(app)
    assert req.decided_by in (MAYA, OMAR) and req.state in APPROVED
    loser = OMAR if req.decided_by == MAYA else MAYA
    assert "You approved request #1" in answers[req.decided_by]["text"]
    assert f"already approved by <@{req.decided_by}>" in answers[loser]["text"]
    assert len(calls(app)) == 1
    assert [k for k, _ in action_events(app)].count("action approved") == 1


# -- deny, expiry, restart ---------------------------------------------------------------------------


def test_deny_runs_nothing_and_a_request_nobody_decides_expires(app: App) -> None:
    fake = app.rb.fake
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    denied = click(app, DENY, 1, user=MAYA, dm_of=MAYA)
    assert "You denied request #1" in denied["text"]
    posted(fake, channel.id, f"<@{MAYA}> denied <@{LI}>'s request to run `rollback-prompt`")
    assert requests_(app)[0].state == "denied" and calls(app) == []

    run(app, channel, "rollback-prompt version=v42", LI)
    app.clock.advance(timedelta(minutes=60))  # P1's window
    app.rb.baton.wake()
    expired = posted(fake, channel.id, "Nobody decided")
    assert f"<@{LI}>'s request to run `rollback-prompt` (version=v42) within the 1h window" in expired
    assert f"(asked: <@{MAYA}>)" in expired
    assert [r.state for r in requests_(app)] == ["denied", "expired"]
    late = click(app, APPROVE, 2, user=MAYA, dm_of=MAYA)
    assert "expired at" in late["text"] and "nothing ran" in late["text"]
    assert [r.state for r in requests_(app)] == ["denied", "expired"] and calls(app) == []
    assert [k for k, _ in action_events(app)] == [
        "action requested",
        "action denied",
        "action requested",
        "action expired",
    ]
    note = reply(in_channel(app.rb, channel, "note", user=LEO))
    shown = json.dumps(note["blocks"])
    assert "## Actions (2)" in shown and "denied by maya" in shown and "expired at" in shown


def test_a_pending_request_survives_a_restart(app: App, fake_slack: FakeSlack) -> None:
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    approval_dm(app, MAYA, 1)
    app.rb.stop()
    app.rb = start(fake_slack, app.db_url, app.ownership, app.clock)  # a new Baton, the same database
    approved = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA)
    assert "You approved request #1" in approved["text"]
    (req,) = requests_(app)
    assert req.state in APPROVED and req.decided_by == MAYA and len(calls(app)) == 1


# -- end to end: the click through Slack, then the webhook -------------------------------------------


HOOK_PATH = "/rollback?token=s3cret"


@contextmanager
def hooked_app(
    fake: FakeSlack, db_url: str, tmp_path: Path, edit: Callable[[str], str] = lambda text: text
) -> Iterator[tuple[App, WebhookServer]]:
    """A running Baton whose rollback-prompt POSTs to a local webhook server; `edit` changes its
    ownership.yaml first."""
    from tests.actions.test_action_requests import NEVER

    with webhook_server() as hook:
        fake.add_channel("general", channel_id=GENERAL)
        ownership = write_ownership(tmp_path)
        ownership.write_text(edit(ownership.read_text().replace(NEVER, hook.url(HOOK_PATH), 1)))
        clock = FakeClock()
        found = App(start(fake, db_url, ownership, clock), clock, ownership, db_url)
        stop = threading.Event()
        releaser = threading.Thread(target=_release_turns, args=(stop, found), daemon=True)
        releaser.start()
        try:
            yield found, hook
        finally:
            stop.set()
            releaser.join()
            found.rb.stop()


@pytest.fixture
def hooked(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[App, WebhookServer]]:
    """`app`, with rollback-prompt's url pointing at a local webhook server."""
    with hooked_app(fake_slack, db_url, tmp_path) as found:
        yield found


def test_only_the_approval_clicked_in_slack_posts_the_webhook_once_and_it_is_on_the_record(
    hooked: tuple[App, WebhookServer],
) -> None:
    app, hook = hooked
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    dm = approval_dm(app, MAYA, 1)
    assert hook.received() == []  # asked, not approved: nothing is called
    click(app, DENY, 1, user=OMAR, dm_of=MAYA)  # refused: not asked
    assert hook.received() == []

    click(app, APPROVE, 1, user=MAYA, dm_of=MAYA)
    (got,) = hook.wait_for(lambda: hook.received() or None)
    (req,) = requests_(app)
    assert got.json() == {
        "action": "rollback-prompt",
        "area": "model-quality",
        "incident": 1,
        "requested_by": LI,
        "approved_by": MAYA,
        "params": {"version": "v41"},
        "idempotency_key": req.idempotency_key,
    }
    assert got.headers.get("idempotency-key") == req.idempotency_key
    app.rb.fake.wait_for(lambda: requests_(app)[0].state == "called" or None, message="called")
    (req,) = requests_(app)
    assert (req.status, req.attempts) == (200, 1)
    kinds = [k for k, _ in action_events(app)]
    assert kinds == ["action requested", "action approved", "action called", "action answered"]
    posted(app.rb.fake, channel.id, "Action `rollback-prompt` (version=v41) for #1 ran")
    # Another click changes nothing: still one POST.
    click(app, APPROVE, 1, user=MAYA, dm_of=MAYA, ts=dm["ts"])
    assert len(hook.received()) == 1
    # The note (and so `baton export`) has every step; the url's token is nowhere in Slack.
    note = str(reply(in_channel(app.rb, channel, "note", user=LI)))
    for kind in kinds:
        assert kind in note
    assert "s3cret" not in json.dumps([c.params for c in app.rb.fake.calls], default=str)
