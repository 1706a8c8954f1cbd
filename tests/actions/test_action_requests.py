"""Action requests in process: who is asked by each approval rule, what
is refused and says what would work, the first decision counting when approvers decide at
once, expiry at the incident's window on an injected clock, and the incident note and export.
On SQLite and PostgreSQL. The signed-HTTP path is tests/handlers/test_incident_run.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import actions
from bot.access.rule import NotAllowed
from bot.actions import requests
from bot.actions.messages import APPROVE, DENY
from bot.actions.requests import ActionError, Decision
from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.incidents import notes, paging, rooms
from bot.incidents import services as incidents
from bot.records.export import to_json
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import ActionRequest, Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from bot.text.errors import Refused
from tests.conftest import SHIPPED_OWNERSHIP, settings_for

# The shipped ownership.yaml's people, with the IDs tests/conftest.add_people gives them.
MAYA, LI, OMAR = "U07MAYA001", "ULIE", "U07OMAR001"  # ML Team, R of model-quality; maya is its A
JONAS = "U07JONAS01"  # the admin
SAM = "U07SAM0001"  # Platform Team: nothing to do with model-quality
DANA = "U07DANA001"
LEO = "U07LEO0002"  # in no team: the reporter
NEVER = "http://127.0.0.1:9/never"  # nothing listens there; the webhook engineer's job calls it

ACTIONS = f"""    actions:
      rollback-prompt:
        title: Roll back to the last approved prompt version
        url: "{NEVER}"
        approval: accountable
        params: [version]
      disable-feature:
        title: Switch the assistant off for all users
        url: "{NEVER}"
        approval: two-person
      flush-cache:
        title: Flush the answer cache
        url: "{NEVER}"
        approval: none
"""
# States a request may be in once approved (the webhook's job moves it on to called or failed).
APPROVED = {"approved", "called", "failed"}


def write_ownership(tmp_path: Path, *, admins: str = "[jonas]", solo: bool = False) -> Path:
    """The shipped ownership.yaml with actions under model-quality (and `solo`, an area whose R,
    A and only admin are dana, if asked)."""
    text = SHIPPED_OWNERSHIP.read_text()
    assert "\n  infra-deploy:\n" in text and "admins: [jonas]" in text
    text = text.replace("\n  infra-deploy:\n", "\n" + ACTIONS + "  infra-deploy:\n", 1)
    text = text.replace("admins: [jonas]", f"admins: {admins}", 1)
    if solo:
        text = text.replace(
            "\n  data:\n    name: Data\n",
            "\n  solo:\n    name: Solo\n    responsible: dana\n    accountable: dana\n"
            "    actions:\n      restart:\n        title: Restart the indexer\n"
            f'        url: "{NEVER}"\n        approval: two-person\n'
            "  data:\n    name: Data\n",
            1,
        )
    path = tmp_path / "ownership.yaml"
    path.write_text(text)
    return path


@dataclass
class Acting:
    """A Baton on an injected clock on the ownership.yaml with actions, its ticker run by hand."""

    baton: Baton
    ticker: Ticker
    clock: FakeClock
    fake: FakeSlack

    def run(self) -> None:
        """Run what is due, until nothing is. run_until_idle can return while a job it just
        released (one that deferred for its turn) is due again, and a job that deferred just
        after the one ahead ended would wait for the injected clock to move: both run here."""
        for _ in range(50):
            self.ticker.run_until_idle()
            now = self.clock.now()
            with session(self.baton.engine) as s:
                pending = s.exec(
                    select(Job.incident_id, Job.retry_at, Job.kind, Job.last_error).where(
                        col(Job.state) == "pending", col(Job.due_at) <= now
                    )
                ).all()
            due = [p for p in pending if p.retry_at is None or p.retry_at <= now]
            # Deferred for their turn (not retrying after an error): released, as the ticker does
            # when the job ahead ends.
            waiting = {
                p.incident_id
                for p in pending
                if p not in due and p.kind in jobs.CHANNEL_KINDS and p.last_error is None
            }
            if not due and not waiting - {None}:
                return
            for number in waiting - {None}:
                assert number is not None
                jobs.release_waiting(self.baton.engine, incident_id=number, now=now)
        raise AssertionError("jobs still due after 50 rounds")


def acting_baton(fake: FakeSlack, db_url: str, ownership: Path, clock: FakeClock) -> Acting:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    baton = boot(settings, config, clock=clock)
    handlers = {**paging.HANDLERS, **rooms.HANDLERS, **actions.HANDLERS}
    return Acting(baton, Ticker(baton, handlers=handlers, on_failure=rooms.report_failure), clock, fake)


@pytest.fixture
def make_acting(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[Callable[..., Acting]]:
    made: list[Acting] = []

    def make(**options: Any) -> Acting:
        acting = acting_baton(fake_slack, db_url, write_ownership(tmp_path, **options), FakeClock())
        made.append(acting)
        return acting

    yield make
    for a in made:
        a.ticker.shutdown()
        a.baton.engine.dispose()


@pytest.fixture
def acting(make_acting: Callable[..., Acting]) -> Acting:
    return make_acting()


def declare(a: Acting, severity: str = "P1", area: str = "model-quality") -> int:
    inc = incidents.declare(baton=a.baton, severity=severity, area=area, title="Refusals up", reporter=LEO)
    a.run()  # the channel and step 0's pages
    assert inc.id is not None
    return inc.id


def rows(a: Acting) -> list[ActionRequest]:
    with session(a.baton.engine) as s:
        return list(s.exec(select(ActionRequest).order_by(col(ActionRequest.id))).all())


def row(a: Acting, request_id: int | None) -> ActionRequest:
    with session(a.baton.engine) as s:
        found = s.get(ActionRequest, request_id)
        assert found is not None
        return found


def calls(a: Acting, request_id: int | None = None) -> list[Job]:
    with session(a.baton.engine) as s:
        jobs = s.exec(select(Job).where(col(Job.kind) == "action_call").order_by(col(Job.id))).all()
    return [j for j in jobs if request_id is None or j.payload == {"request": request_id}]


def kinds(a: Acting, number: int) -> list[str]:
    with session(a.baton.engine) as s:
        return list(
            s.exec(
                select(TimelineEvent.kind)
                .where(col(TimelineEvent.incident_id) == number, col(TimelineEvent.kind).startswith("action"))
                .order_by(col(TimelineEvent.id))
            ).all()
        )


def channel_texts(a: Acting, number: int) -> list[str]:
    with session(a.baton.engine) as s:
        inc = s.get(Incident, number)
        assert inc is not None and inc.channel_id is not None
    return [m.get("text", "") for m in a.fake.messages(inc.channel_id)]


def approval_dms(a: Acting, user: str) -> list[dict[str, Any]]:
    return [m for m in a.fake.dm_messages(user) if APPROVE in json.dumps(m.get("blocks"))]


# -- who is asked ---------------------------------------------------------------------------------


def test_accountable_asks_the_accountable_person_with_approve_and_deny(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    assert (req.state, req.approvers, req.approval, req.params) == (
        "pending",
        [MAYA],
        "accountable",
        {"version": "v41"},
    )
    assert req.expires_at == acting.clock.now() + timedelta(hours=1)  # P1's window
    assert len(req.idempotency_key) == 32 and int(req.idempotency_key, 16) >= 0
    acting.run()
    (dm,) = approval_dms(acting, MAYA)
    blocks = json.dumps(dm["blocks"])
    assert f"<@{LI}> asks to run `rollback-prompt` (version=v41)" in blocks and f"#{number}" in blocks
    assert "Roll back to the last approved prompt version" in blocks and "Decide by" in blocks
    buttons = next(b for b in dm["blocks"] if b["type"] == "actions")["elements"]
    assert [(b["text"]["text"], b["action_id"], b["value"]) for b in buttons] == [
        ("Approve", APPROVE, str(req.id)),
        ("Deny", DENY, str(req.id)),
    ]
    assert approval_dms(acting, LI) == [] and approval_dms(acting, OMAR) == []
    assert any(
        f"<@{LI}> asks to run `rollback-prompt` (version=v41): waiting for approval by <@{MAYA}>" in t
        for t in channel_texts(acting, number)
    )
    assert kinds(acting, number) == ["action requested"]
    # The expiry is a durable job due at the end of the window.
    with session(acting.baton.engine) as s:
        (expiry,) = s.exec(select(Job).where(col(Job.kind) == "action_expire")).all()
    assert expiry.payload == {"request": req.id} and expiry.due_at == req.expires_at
    assert calls(acting) == []


def test_the_accountable_person_asking_is_approved_by_an_admin(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=MAYA
    )
    assert req.approvers == [JONAS]
    acting.run()
    (dm,) = approval_dms(acting, JONAS)
    assert "as an admin" in json.dumps(dm["blocks"]) and approval_dms(acting, MAYA) == []
    # The requester may not decide their own request, though they are the accountable person.
    with pytest.raises(NotAllowed, match=f"someone else must decide, <@{JONAS}>"):
        requests.decide(baton=acting.baton, request_id=req.id or 0, approve=True, user=MAYA)
    assert row(acting, req.id).state == "pending"


def test_nobody_left_to_approve_is_refused_saying_who_could(make_acting: Callable[..., Acting]) -> None:
    a = make_acting(admins="[]", solo=True)
    number = declare(a)
    with pytest.raises(ActionError) as refused:
        requests.request(
            baton=a.baton, number=number, action="rollback-prompt", args=["version=v1"], user=MAYA
        )
    assert f"the accountable person for `model-quality` (<@{MAYA}>), who is the one asking" in str(
        refused.value
    )
    assert "`admins:` in ownership.yaml" in str(refused.value)
    # Two-person where the requester is R, A, commander and no admin is configured.
    solo = declare(a, area="solo")
    with pytest.raises(ActionError, match="Nobody besides you can approve `restart`"):
        requests.request(baton=a.baton, number=solo, action="restart", args=[], user=DANA)
    assert rows(a) == [] and kinds(a, number) == kinds(a, solo) == []


def test_two_person_asks_everyone_allowed_but_the_requester(acting: Acting) -> None:
    number = declare(acting)
    incidents.set_commander(baton=acting.baton, number=number, commander=SAM, user=MAYA)
    req = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
    # R (the ML Team), A, the commander and the admins; each once, never the requester.
    assert sorted(req.approvers) == sorted([MAYA, OMAR, SAM, JONAS])
    acting.run()
    for user in (MAYA, OMAR, SAM, JONAS):
        assert len(approval_dms(acting, user)) == 1, user
    assert approval_dms(acting, LI) == []
    post = next(t for t in channel_texts(acting, number) if "asks to run `disable-feature`" in t)
    assert "waiting for approval by one of" in post


def test_none_is_approved_at_once_and_its_call_queued(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(baton=acting.baton, number=number, action="flush-cache", args=[], user=OMAR)
    assert (req.state, req.decided_by, req.approvers) == ("approved", "baton", [])
    assert [j.incident_id for j in calls(acting, req.id)] == [number]
    assert kinds(acting, number) == ["action requested", "action approved"]
    acting.run()
    assert all(approval_dms(acting, u) == [] for u in (MAYA, LI, OMAR, JONAS))


# -- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "args", "expected", "lists_actions"),
    [
        ("rolback-prompt", [], "Did you mean `rollback-prompt`?", True),
        ("nope", [], "There is no action `nope` in `model-quality`", True),
        ("", [], "Name the action to run", True),
        ("rollback-prompt", ["versoin=v1"], "its parameters are `version`", False),
        (
            "rollback-prompt",
            [],
            "`rollback-prompt` needs `version`: every parameter it lists is required",
            False,
        ),
        ("rollback-prompt", ["v41"], "write `name=value`", False),
        ("rollback-prompt", ["version="], "Give `version` a value", False),
        ("rollback-prompt", ["version=1", "version=2"], "`version` is given twice", False),
        ("flush-cache", ["force=yes"], "it takes no parameters", False),
    ],
)
def test_bad_input_says_what_exists(
    acting: Acting, action: str, args: list[str], expected: str, lists_actions: bool
) -> None:
    number = declare(acting)
    with pytest.raises(Refused) as refused:
        requests.request(baton=acting.baton, number=number, action=action, args=args, user=LI)
    assert expected in str(refused.value)
    if lists_actions:
        for name in ("rollback-prompt", "disable-feature", "flush-cache"):
            assert f"`{name}`" in str(refused.value)
    assert rows(acting) == [] and kinds(acting, number) == []


def test_an_area_without_actions_says_where_they_are_configured(acting: Acting) -> None:
    number = declare(acting, area="data")
    with pytest.raises(
        ActionError,
        match=r"has no actions\. They are configured in ownership\.yaml under `areas\.data\.actions`",
    ):
        requests.request(baton=acting.baton, number=number, action="reindex", args=[], user=DANA)


def test_only_those_who_may_acknowledge_may_ask_and_resolved_incidents_take_none(acting: Acting) -> None:
    number = declare(acting)
    with pytest.raises(NotAllowed) as refused:
        requests.request(baton=acting.baton, number=number, action="flush-cache", args=[], user=LEO)
    assert f"can run an action on #{number}" in str(refused.value) and f"<@{MAYA}>" in str(refused.value)
    incidents.resolve(baton=acting.baton, number=number, summary="Rolled back", user=MAYA)
    with pytest.raises(ActionError, match="is resolved"):
        requests.request(baton=acting.baton, number=number, action="flush-cache", args=[], user=MAYA)
    with pytest.raises(ActionError, match="There is no incident #99"):
        requests.request(baton=acting.baton, number=99, action="flush-cache", args=[], user=MAYA)
    assert rows(acting) == []


def test_values_are_masked_before_storage_and_escaped_when_shown(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton,
        number=number,
        action="rollback-prompt",
        args=["version=jane.doe@example.com<!channel>"],
        user=LI,
    )
    assert "jane.doe@example.com" not in json.dumps(row(acting, req.id).params)
    acting.run()
    (dm,) = approval_dms(acting, MAYA)
    shown = json.dumps(dm)
    assert "jane.doe" not in shown and "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert not any("<!channel>" in t for t in channel_texts(acting, number))


# -- deciding --------------------------------------------------------------------------------------


def test_only_those_asked_decide_and_the_first_decision_counts(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    assert req.id is not None
    for user in (LI, OMAR, JONAS):  # the requester; an owner and an admin not asked
        with pytest.raises(NotAllowed, match=f"<@{MAYA}>"):
            requests.decide(baton=acting.baton, request_id=req.id, approve=True, user=user)
    assert row(acting, req.id).state == "pending" and calls(acting) == []
    decided = requests.decide(baton=acting.baton, request_id=req.id, approve=True, user=MAYA)
    assert not decided.already and decided.request.state == "approved" and decided.request.decided_by == MAYA
    assert len(calls(acting, req.id)) == 1
    again = requests.decide(baton=acting.baton, request_id=req.id, approve=False, user=MAYA)
    assert again.already and again.request.decided_by == MAYA
    by_anyone = requests.decide(baton=acting.baton, request_id=req.id, approve=False, user=LEO)
    assert by_anyone.already
    assert row(acting, req.id).state in APPROVED and len(calls(acting, req.id)) == 1
    assert kinds(acting, number) == ["action requested", "action approved"]
    with pytest.raises(ActionError, match="no action request #404"):
        requests.decide(baton=acting.baton, request_id=404, approve=True, user=MAYA)


def test_deny_queues_no_call(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
    denied = requests.decide(baton=acting.baton, request_id=req.id or 0, approve=False, user=OMAR)
    assert (denied.already, denied.request.state, denied.request.decided_by) == (False, "denied", OMAR)
    acting.run()
    assert calls(acting) == [] and kinds(acting, number) == ["action requested", "action denied"]
    assert any(
        f"<@{OMAR}> denied <@{LI}>'s request to run `disable-feature`" in t
        for t in channel_texts(acting, number)
    )


def at_once(baton: Baton, request_id: int, clicks: list[tuple[str, bool]]) -> dict[str, Decision]:
    """Each (user, approve) decides from its own thread, released together."""
    barrier = threading.Barrier(len(clicks))
    results: dict[str, Decision] = {}
    errors: list[BaseException] = []

    def click(user: str, approve: bool) -> None:
        try:
            barrier.wait()
            results[user] = requests.decide(baton=baton, request_id=request_id, approve=approve, user=user)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=click, args=c) for c in clicks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_approvers_deciding_at_once_make_one_decision(acting: Acting) -> None:
    """Three approvers click in the same instant, on each of several requests: one decision and
    at most one call each (a row lock or SQLite's single writer, and the conditional UPDATE)."""
    number = declare(acting)
    for round_ in range(4):
        req = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
        assert req.id is not None
        # Every other round one of them denies: whichever decision counts, it is the only one.
        clicks = [(MAYA, True), (OMAR, round_ % 2 == 0), (JONAS, True)]
        results = at_once(acting.baton, req.id, clicks)
        winners = [u for u, d in results.items() if not d.already]
        assert len(winners) == 1, results
        final = row(acting, req.id)
        assert final.decided_by == winners[0] and final.state == (
            "approved" if dict(clicks)[winners[0]] else "denied"
        )
        assert all(d.request.decided_by == winners[0] for d in results.values())
        assert len(calls(acting, req.id)) == (1 if final.state == "approved" else 0)
    decisions = [k for k in kinds(acting, number) if k in ("action approved", "action denied")]
    assert len(decisions) == 4


# -- expiry ----------------------------------------------------------------------------------------


def test_a_request_nobody_decides_expires_at_the_window(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    acting.clock.advance(timedelta(minutes=59))
    acting.run()
    assert row(acting, req.id).state == "pending"
    acting.clock.advance(timedelta(minutes=1))
    acting.run()
    assert row(acting, req.id).state == "expired"
    assert kinds(acting, number) == ["action requested", "action expired"]
    post = next(t for t in channel_texts(acting, number) if "Nobody decided" in t)
    assert f"<@{LI}>'s request to run `rollback-prompt` (version=v41) within the 1h window" in post
    assert f"(asked: <@{MAYA}>)" in post
    late = requests.decide(baton=acting.baton, request_id=req.id or 0, approve=True, user=MAYA)
    assert late.already and late.request.state == "expired" and calls(acting) == []


def test_a_decided_request_does_not_expire_and_a_backlog_item_gets_an_hour(acting: Acting) -> None:
    number = declare(acting)
    req = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
    requests.decide(baton=acting.baton, request_id=req.id or 0, approve=False, user=JONAS)
    acting.clock.advance(timedelta(hours=2))
    acting.run()
    assert row(acting, req.id).state == "denied" and "action expired" not in kinds(acting, number)

    backlog = declare(acting, severity="P3")
    req = requests.request(baton=acting.baton, number=backlog, action="disable-feature", args=[], user=MAYA)
    # A backlog item has no window: its requests get BACKLOG_WINDOW, and no channel to hear in.
    assert req.expires_at == acting.clock.now() + requests.BACKLOG_WINDOW
    acting.run()
    assert any("asks to run `disable-feature`" in m.get("text", "") for m in acting.fake.dm_messages(MAYA))


# -- durable -----------------------------------------------------------------------------------------


def test_a_pending_request_survives_a_restart(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, acting: Acting
) -> None:
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    acting.ticker.shutdown()
    acting.baton.engine.dispose()
    again = acting_baton(fake_slack, db_url, tmp_path / "ownership.yaml", acting.clock)
    try:
        decided = requests.decide(baton=again.baton, request_id=req.id or 0, approve=True, user=MAYA)
        assert not decided.already and decided.request.state == "approved"
        assert len(calls(again, req.id)) == 1
    finally:
        again.ticker.shutdown()
        again.baton.engine.dispose()


# -- the record ----------------------------------------------------------------------------------------


def test_the_note_and_export_list_every_request_and_its_steps(acting: Acting) -> None:
    number = declare(acting)
    approved = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    requests.decide(baton=acting.baton, request_id=approved.id or 0, approve=True, user=MAYA)
    denied = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
    requests.decide(baton=acting.baton, request_id=denied.id or 0, approve=False, user=OMAR)
    requests.request(baton=acting.baton, number=number, action="flush-cache", args=[], user=LI)
    with session(acting.baton.engine) as s:
        inc = s.get(Incident, number)
        assert inc is not None
        record = notes.gather(s, inc)
        note = notes.render(record)
    assert "## Actions (3)" in note
    assert f"- #{approved.id} rollback-prompt (version=v41), approval accountable" in note
    assert f"approved by maya <@{MAYA}> at 2026-11-22 09:00:00 UTC" in note
    assert f"- #{denied.id} disable-feature, approval two-person" in note and "denied by omar" in note
    assert "flush-cache, approval none" in note and "approved by Baton" in note
    timeline = note.split("## Timeline")[1]
    for kind in ("action requested", "action approved", "action denied"):
        assert kind in timeline
    data = json.loads(to_json(record))
    # Nothing ran the calls here, so the approved requests are still "approved".
    assert [(a["action"], a["state"], a["decided_by"]) for a in data["actions"]] == [
        ("rollback-prompt", "approved", MAYA),
        ("disable-feature", "denied", OMAR),
        ("flush-cache", "approved", "baton"),
    ]
    assert data["actions"][0]["params"] == {"version": "v41"} and data["actions"][0]["approvers"] == [MAYA]


# -- what is approved is what was asked; a resolved incident's requests end ------------------


def test_a_click_where_the_config_changed_voids_the_request_instead_of_deciding(acting: Acting) -> None:
    """A replica that read the edit but has not ended the requests yet (or another replica's
    config): the click itself finds the action changed and voids the request."""
    number = declare(acting)
    req = requests.request(
        baton=acting.baton, number=number, action="rollback-prompt", args=["version=v41"], user=LI
    )
    path = Path(acting.baton.settings.ownership_file)
    path.write_text(
        path.read_text().replace("        approval: accountable\n", "        approval: none\n", 1)
    )
    assert acting.baton.reload() is None  # no Runner here: nothing ended the request on reload
    decided = requests.decide(baton=acting.baton, request_id=req.id or 0, approve=True, user=MAYA)
    assert decided.already and decided.request.state == "expired"
    why = "its approval rule (accountable → none) changed in ownership.yaml since it was asked"
    assert decided.request.error == why
    assert calls(acting) == [] and kinds(acting, number) == ["action requested", "action voided"]
    acting.run()
    assert any(
        f"Your request #{req.id} to run `rollback-prompt`" in m["text"] for m in acting.fake.dm_messages(LI)
    )


def test_a_resolved_incident_ends_its_requests_and_the_expiry_says_nothing_more(acting: Acting) -> None:
    number = declare(acting)
    pending = requests.request(baton=acting.baton, number=number, action="disable-feature", args=[], user=LI)
    none = requests.request(baton=acting.baton, number=number, action="flush-cache", args=[], user=OMAR)
    # A call row a buggy version wrote for this incident: resolving passes it by (its job gives it up).
    now = acting.clock.now()
    with session(acting.baton.engine) as s:
        jobs.enqueue(s, kind="action_call", incident_id=number, due_at=now, now=now, payload={"req": 5})
        s.commit()
    incidents.resolve(baton=acting.baton, number=number, summary="Rolled back", user=MAYA)
    assert row(acting, pending.id).state == "expired"
    # Its call job refuses it (tests/actions/test_action_webhook.py).
    assert row(acting, none.id).state == "approved"
    acting.clock.advance(timedelta(hours=2))
    acting.run()
    called = row(acting, none.id)
    assert (called.state, called.attempts) == ("failed", 0)
    assert called.error == "flush-cache: not called: incident #1 was resolved before Baton called it"
    assert kinds(acting, number).count("action expired") == 1
    assert not any("Nobody decided" in t for t in channel_texts(acting, number))
    for user in (MAYA, OMAR, JONAS):  # everyone asked hears it ended
        assert any("ended: incident #1 was resolved" in m["text"] for m in acting.fake.dm_messages(user)), (
            user
        )
