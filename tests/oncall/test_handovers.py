"""Shift handovers on an injected clock: every change of a rotating on-call
opens one receipt per area `handover` before it, the incoming person hears they are on call at
the change, unsigned receipts are flagged and nudged then; exactly once across replicas and
restarts; a rotation edit re-plans the changes to come. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.oncall import handovers
from bot.records import handoff_views, handoffs, verify
from bot.records.handoffs import HandoffError
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import OncallOverride, Receipt, ShiftChange
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, settings_for
from tests.records.test_chain import RECEIPT, refusals, tamper

MAYA, LI, OMAR, LEO = "U07MAYA001", "ULIE", "U07OMAR001", "U07LEO0002"
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
# The clock starts on Sunday 2026-11-22 09:00 UTC; London is on GMT (UTC+0) all of this.
# Shift 0 (maya) starts Monday 2026-11-23 09:00; maya is on call before it too, so the first
# change is maya -> li a week later.
CHANGE1 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # maya -> li
CHANGE2 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # li -> omar
CHANGE3 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)  # omar -> maya
CHANGE4 = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # maya -> li


def ownership_with(rotation: list[str]) -> str:
    """The shipped ownership.yaml with the ML Team's on-call a weekly rotation."""
    text = SHIPPED_OWNERSHIP.read_text()
    line = next(x for x in text.splitlines() if x.strip().startswith("oncall: maya"))
    block = (
        "    oncall:\n"
        f"      rotation: [{', '.join(rotation)}]\n"
        "      every: 1w\n"
        '      from: "2026-11-23T09:00"\n'
        "      handover: 1h"
    )
    return text.replace(line, block, 1)


@dataclass
class Replica:
    baton: Baton
    ticker: Ticker
    clock: FakeClock
    path: Path

    def sync(self) -> list[ShiftChange]:
        return handovers.sync(baton=self.baton)

    def to(self, when: datetime) -> None:
        self.clock.advance(when - self.clock.now())

    def rotate(self, rotation: list[str]) -> None:
        """Edit ownership.yaml's rotation and reload it, as `baton reload` does."""
        self.path.write_text(ownership_with(rotation))
        assert self.baton.reload() is None


def replica(fake: FakeSlack, db_url: str, path: Path, clock: FakeClock) -> Replica:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(path))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    baton = boot(settings, config, clock=clock)
    ticker = Ticker(baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure)
    return Replica(baton, ticker, clock, path)


@pytest.fixture
def ownership_file(tmp_path: Path) -> Path:
    path = tmp_path / "ownership.yaml"
    path.write_text(ownership_with(["maya", "li", "omar"]))
    return path


@pytest.fixture
def ml(fake_slack: FakeSlack, db_url: str, ownership_file: Path) -> Iterator[Replica]:
    """A Baton whose ML Team rotates weekly (maya, li, omar; handover 1h), on a fake clock."""
    r = replica(fake_slack, db_url, ownership_file, FakeClock())
    yield r
    r.ticker.shutdown()
    r.baton.engine.dispose()


def receipts(baton: Baton) -> list[Receipt]:
    with session(baton.engine) as s:
        return list(s.exec(select(Receipt).order_by(col(Receipt.id))).all())


def changes(baton: Baton) -> list[ShiftChange]:
    with session(baton.engine) as s:
        return list(s.exec(select(ShiftChange).order_by(col(ShiftChange.at))).all())


def change_at(baton: Baton, at: datetime) -> ShiftChange:
    (row,) = [r for r in changes(baton) if r.at.replace(tzinfo=UTC) == at]
    return row


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def dms(fake: FakeSlack, user: str, words: str) -> list[dict[str, Any]]:
    return [m for m in fake.dm_messages(user) if words in m["text"]]


def on_call(fake: FakeSlack, user: str) -> list[str]:
    return [m["text"] for m in dms(fake, user, "You are on call for")]


def nudges(fake: FakeSlack, user: str, receipt_id: int) -> list[dict[str, Any]]:
    return dms(fake, user, f"Handoff #{receipt_id} of the on-call of ML Team still needs your signature")


def test_a_weekly_change_opens_its_handover_an_hour_before_and_is_announced_at_the_change(
    ml: Replica, fake_slack: FakeSlack
) -> None:
    baton = ml.baton
    assert ml.sync() == []  # first sight: Baton starts watching the team
    assert [(c.state, c.origin) for c in changes(baton)] == [("armed", "armed")]
    inc = incidents.declare(
        baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
    )
    ml.ticker.run_until_idle()

    ml.to(CHANGE1 - HOUR - SECOND)
    assert ml.sync() == [] and receipts(baton) == []
    ml.to(CHANGE1 - HOUR)  # opens_at: exactly one receipt, for the one area ML is R for
    (opened,) = ml.sync()
    assert (opened.at, opened.outgoing, opened.incoming, opened.state) == (CHANGE1, "maya", "li", "open")
    (r,) = receipts(baton)
    assert (r.area, r.role, r.team, r.from_ref, r.from_user, r.to_ref, r.to_user) == (
        "model-quality",
        "oncall",
        "ml",
        "maya",
        MAYA,
        "li",
        LI,
    )
    assert (r.origin, r.started_by, r.state, r.note, r.outgoing_signed_at) == (
        "rotation",
        "baton",
        "pending",
        "",
        None,
    )
    assert [(i["number"], i["title"]) for i in r.snapshot["open_incidents"]] == [(inc.id, "Refusals up")]
    assert change_at(baton, CHANGE1).receipt_ids == [r.id]
    assert ml.sync() == [] and len(receipts(baton)) == 1  # every later sync: nothing new
    ml.ticker.run_until_idle()
    (ask,) = dms(fake_slack, MAYA, f"Handover #{r.id}")
    assert buttons(ask) == [("handover_note", str(r.id))]
    assert "you hand the on-call of ML Team to <@ULIE>" in ask["text"]
    (counter,) = dms(fake_slack, LI, f"Handover #{r.id}")
    assert buttons(counter) == [("handoff_sign", f"{r.id}:incoming")]
    assert f"#{inc.id} P2 Refusals up" in str(counter["blocks"])

    ml.to(CHANGE1 - SECOND)
    ml.sync()
    ml.ticker.run_until_idle()
    assert on_call(fake_slack, LI) == [] and nudges(fake_slack, MAYA, r.id) == []
    ml.to(CHANGE1)
    ml.sync()
    ml.sync()
    ml.ticker.run_until_idle()
    (told,) = on_call(fake_slack, LI)
    epoch = int(CHANGE2.timestamp())
    assert told.startswith(f":pager: You are on call for ML Team from now until <!date^{epoch}^")
    assert told.endswith(f"(<@{OMAR}>).")
    assert on_call(fake_slack, MAYA) == []
    # Unsigned at the change: flagged, on the card, and both missing signers nudged (once).
    assert change_at(baton, CHANGE1).flagged is True
    (nudged,) = nudges(fake_slack, MAYA, r.id)
    assert buttons(nudged) == [("handover_note", str(r.id))]
    (nudged,) = nudges(fake_slack, LI, r.id)
    assert buttons(nudged) == [("handoff_sign", f"{r.id}:incoming")]
    assert [x.id for x in handoff_views.card(baton=baton, area="model-quality").unsigned_at_change] == [r.id]
    # The daily reminder asks the outgoing person too.
    assert {user for user, _, _ in handoff_views.reminders(baton)} == {MAYA, LI}

    # The next change is signed in time: not flagged, nobody nudged.
    ml.to(CHANGE2 - HOUR)
    (opened,) = ml.sync()
    assert (opened.outgoing, opened.incoming) == ("li", "omar")
    r2 = receipts(baton)[-1]
    handoffs.sign(
        baton=baton,
        receipt_id=r2.id or 0,
        as_="outgoing",
        user=LI,
        note="Watch #1, call me at +44 20 7946 0958",
    )
    handoffs.sign(baton=baton, receipt_id=r2.id or 0, as_="incoming", user=OMAR)
    signed = receipts(baton)[-1]
    assert signed.state == "signed" and "Watch #1" in signed.note and "7946" not in signed.note
    ml.to(CHANGE2)
    ml.sync()
    ml.ticker.run_until_idle()
    assert change_at(baton, CHANGE2).flagged is False
    assert len(on_call(fake_slack, OMAR)) == 1
    assert nudges(fake_slack, LI, r2.id or 0) == [] and nudges(fake_slack, OMAR, r2.id or 0) == []
    card = handoff_views.card(baton=baton, area="model-quality")
    assert [x.id for x in card.unsigned_at_change] == [r.id]
    assert verify.verify(baton.engine) == []


def test_two_replicas_syncing_at_once_open_one_receipt_and_send_one_on_call_dm(
    fake_slack: FakeSlack, db_url: str, ownership_file: Path
) -> None:
    clock = FakeClock()
    a, b = (replica(fake_slack, db_url, ownership_file, clock) for _ in range(2))
    try:

        def all_at_once() -> list[list[ShiftChange]]:
            barrier = threading.Barrier(4)
            results: list[list[ShiftChange]] = []
            errors: list[BaseException] = []

            def run(r: Replica) -> None:
                barrier.wait()
                try:
                    results.append(r.sync())
                except BaseException as e:  # surfaced below
                    errors.append(e)

            threads = [threading.Thread(target=run, args=(r,)) for r in (a, b, a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            assert errors == []
            return results

        all_at_once()  # first sight, on all four at once
        assert [c.state for c in changes(a.baton)] in (["armed"], ["armed"] * 2, ["armed"] * 3, ["armed"] * 4)
        a.to(CHANGE1 - HOUR)
        opened = all_at_once()
        assert sorted(len(x) for x in opened) == [0, 0, 0, 1]
        assert [(x.from_ref, x.to_ref) for x in receipts(a.baton)] == [("maya", "li")]
        a.to(CHANGE1)
        all_at_once()
        for r in (a, b):
            r.ticker.run_until_idle()
        assert len(dms(fake_slack, MAYA, "Handover #1")) == 1
        assert len(dms(fake_slack, LI, "Handover #1")) == 1
        assert len(on_call(fake_slack, LI)) == 1
        assert len(nudges(fake_slack, LI, 1)) == 1
        assert verify.verify(a.baton.engine) == []
    finally:
        for r in (a, b):
            r.ticker.shutdown()
            r.baton.engine.dispose()


def test_a_change_while_baton_was_down_opens_once_and_only_the_latest_of_several(
    ml: Replica, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    baton = ml.baton
    ml.sync()
    ml.to(CHANGE1 + HOUR)  # down across the first change: never synced before it
    (opened,) = ml.sync()
    assert (opened.at, opened.outgoing, opened.incoming) == (CHANGE1, "maya", "li")
    assert ml.sync() == []
    ml.ticker.run_until_idle()
    assert [(r.from_ref, r.to_ref) for r in receipts(baton)] == [("maya", "li")]
    assert len(on_call(fake_slack, LI)) == 1
    assert len(dms(fake_slack, MAYA, "Handover #1")) == 1
    # Opened after the change, it had no time to be signed before it: not flagged, not nudged
    # on top of the request that just went out.
    assert change_at(baton, CHANGE1).flagged is False and nudges(fake_slack, LI, 1) == []

    caplog.set_level(logging.INFO, logger="bot.oncall.handovers")
    ml.to(CHANGE4 + HOUR)  # down across three changes: only the latest opens
    (opened,) = ml.sync()
    assert (opened.at, opened.outgoing, opened.incoming) == (CHANGE4, "maya", "li")
    assert ml.sync() == []
    ml.ticker.run_until_idle()
    assert [(r.from_ref, r.to_ref) for r in receipts(baton)] == [("maya", "li"), ("maya", "li")]
    assert [c.at.replace(tzinfo=UTC) for c in changes(baton) if c.state == "open"] == [CHANGE1, CHANGE4]
    assert "changed 2 more times while Baton was not watching" in caplog.text
    assert len(on_call(fake_slack, LI)) == 2
    assert on_call(fake_slack, OMAR) == [] and on_call(fake_slack, MAYA) == []


def first_handover(ml: Replica) -> Receipt:
    """Watch the team, move to the first change's handover time and open it: its receipt."""
    ml.sync()
    ml.to(CHANGE1 - HOUR)
    ml.sync()
    (first,) = receipts(ml.baton)
    return first


def test_a_rotation_edit_withdraws_unsigned_receipts_and_keeps_signed_ones(
    ml: Replica, fake_slack: FakeSlack
) -> None:
    baton = ml.baton
    first = first_handover(ml)
    assert (first.from_ref, first.to_ref) == ("maya", "li")

    ml.to(CHANGE1 - HOUR + 10 * SECOND)
    ml.rotate(["maya", "omar", "li"])  # omar now takes over from maya
    (replanned,) = ml.sync()
    assert (replanned.at, replanned.outgoing, replanned.incoming) == (CHANGE1, "maya", "omar")
    old, new = receipts(baton)
    assert (old.id, old.state) == (first.id, "withdrawn") and old.hash != first.hash
    assert (new.from_ref, new.to_ref, new.state, new.origin) == ("maya", "omar", "pending", "rotation")
    row = change_at(baton, CHANGE1)
    assert (row.outgoing, row.incoming, row.state, row.receipt_ids) == ("maya", "omar", "open", [new.id])
    with pytest.raises(HandoffError, match="withdrawn"):
        handoffs.sign(baton=baton, receipt_id=first.id or 0, as_="incoming", user=LI)
    ml.ticker.run_until_idle()
    assert len(dms(fake_slack, LI, f"Handover #{first.id} of the on-call of ML Team")) == 1  # withdrawn
    assert len(dms(fake_slack, OMAR, f"Handover #{new.id}")) == 1
    assert verify.verify(baton.engine) == []
    assert ml.sync() == []

    # Signed, then edited again: the signed receipt stays signed; the new pair gets its own.
    handoffs.sign(baton=baton, receipt_id=new.id or 0, as_="outgoing", user=MAYA, note="all quiet")
    handoffs.sign(baton=baton, receipt_id=new.id or 0, as_="incoming", user=OMAR)
    ml.rotate(["maya", "li", "omar"])
    (replanned,) = ml.sync()
    assert (replanned.outgoing, replanned.incoming) == ("maya", "li")
    assert [(x.id, x.state) for x in receipts(baton)] == [
        (first.id, "withdrawn"),
        (new.id, "signed"),
        (new.id + 1 if new.id else 0, "pending"),
    ]
    # An edit after which there is no change at that time any more: the change is withdrawn.
    ml.rotate(["maya"])
    assert ml.sync() == []
    assert [x.state for x in receipts(baton)] == ["withdrawn", "signed", "withdrawn"]
    assert change_at(baton, CHANGE1).state == "withdrawn"
    ml.to(CHANGE1)
    ml.sync()
    ml.ticker.run_until_idle()
    assert on_call(fake_slack, LI) == [] and on_call(fake_slack, OMAR) == []
    assert verify.verify(baton.engine) == []
    # Back to the first plan: the change is due again, claimed back and opened once.
    ml.rotate(["maya", "li", "omar"])
    ml.to(CHANGE2 - HOUR)
    (opened,) = ml.sync()
    assert (opened.at, opened.outgoing, opened.incoming) == (CHANGE2, "li", "omar")


def test_a_slack_override_opens_its_handover_at_once_and_its_end_one_handover_before(
    ml: Replica, fake_slack: FakeSlack
) -> None:
    baton = ml.baton
    start = ml.clock.now() - 10 * timedelta(minutes=1)  # added before Baton's first sync
    end = start + timedelta(days=2)
    with session(baton.engine) as s:
        s.add(
            OncallOverride(
                team="ml",
                who="omar",
                user=OMAR,
                starts_at=start,
                ends_at=end,
                note="",
                created_by=MAYA,
                created_at=start,
            )
        )
        s.commit()
    baton.refresh_overrides()
    assert baton.ownership.oncall("ml") == "omar"
    (opened,) = ml.sync()
    assert (opened.at, opened.outgoing, opened.incoming, opened.origin) == (start, "maya", "omar", "override")
    (r,) = receipts(baton)
    assert (r.from_ref, r.to_ref, r.origin, r.state) == ("maya", "omar", "override", "pending")
    ml.ticker.run_until_idle()
    (told,) = on_call(fake_slack, OMAR)
    assert "You are on call for ML Team from now until" in told and f"(<@{MAYA}>)" in told
    (ask,) = dms(fake_slack, MAYA, f"Handover #{r.id}")
    assert "to <@U07OMAR001> now" in ask["text"]
    assert change_at(baton, start).flagged is False

    ml.to(end - HOUR - SECOND)
    assert ml.sync() == []
    ml.to(end - HOUR)
    (ending,) = ml.sync()
    assert (ending.at, ending.outgoing, ending.incoming, ending.origin) == (end, "omar", "maya", "override")
    assert [(x.from_ref, x.to_ref) for x in receipts(baton)] == [("maya", "omar"), ("omar", "maya")]
    ml.to(end)
    baton.refresh_overrides()  # the override is over: it leaves the plan
    ml.sync()
    ml.ticker.run_until_idle()
    assert len(on_call(fake_slack, MAYA)) == 1
    assert ml.sync() == []
    assert verify.verify(baton.engine) == []


def test_a_team_without_rotation_or_override_costs_no_row(ml: Replica) -> None:
    ml.sync()
    assert {c.team for c in changes(ml.baton)} == {"ml"}


def test_a_replica_on_the_old_config_does_not_undo_the_new_plan(
    fake_slack: FakeSlack, db_url: str, ownership_file: Path, tmp_path: Path
) -> None:
    """Replicas reload one by one: until the second has the edit, it must not give the change
    back to the old pair (they would take turns withdrawing each other's receipts)."""
    clock = FakeClock()
    other_file = tmp_path / "other.yaml"
    other_file.write_text(ownership_file.read_text())
    a, b = replica(fake_slack, db_url, ownership_file, clock), replica(fake_slack, db_url, other_file, clock)
    try:
        a.sync(), b.sync()
        a.to(CHANGE1 - HOUR)
        assert len(a.sync()) == 1 and b.sync() == []
        a.rotate(["maya", "omar", "li"])
        (replanned,) = a.sync()
        assert (replanned.outgoing, replanned.incoming) == ("maya", "omar")
        assert b.sync() == [] and b.sync() == []  # still on the old rotation
        assert [(r.to_ref, r.state) for r in receipts(a.baton)] == [("li", "withdrawn"), ("omar", "pending")]
        row = change_at(a.baton, CHANGE1)
        assert (row.outgoing, row.incoming, row.state) == ("maya", "omar", "open")
        b.rotate(["maya", "omar", "li"])  # now it has the edit too: nothing left to change
        assert b.sync() == []
        assert [r.state for r in receipts(a.baton)] == ["withdrawn", "pending"]
    finally:
        for r in (a, b):
            r.ticker.shutdown()
            r.baton.engine.dispose()


def test_a_replica_whose_plan_lags_an_override_leaves_its_changes_alone(
    fake_slack: FakeSlack, db_url: str, ownership_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    a, b = (replica(fake_slack, db_url, ownership_file, clock) for _ in range(2))
    try:
        a.sync(), b.sync()
        monkeypatch.setattr(b.baton, "refresh_overrides", lambda: None)  # b has not seen it yet
        start = clock.advance(timedelta(minutes=1))
        end = start + timedelta(minutes=30)  # short: its end's handover is due at once too
        with session(a.baton.engine) as s:
            s.add(
                OncallOverride(
                    team="ml",
                    who="omar",
                    user=OMAR,
                    starts_at=start,
                    ends_at=end,
                    created_by=MAYA,
                    created_at=start,
                )
            )
            s.commit()
        a.baton.refresh_overrides()
        assert [(c.at, c.outgoing, c.incoming) for c in a.sync()] == [
            (start, "maya", "omar"),
            (end, "omar", "maya"),
        ]
        assert b.sync() == []  # its plan has no override: it leaves the end's change alone
        assert [r.state for r in receipts(a.baton)] == ["pending", "pending"]
        assert change_at(a.baton, end).state == "open"
        monkeypatch.undo()
        assert b.sync() == []  # sees the override now: the plan agrees
        assert [r.state for r in receipts(a.baton)] == ["pending", "pending"]
    finally:
        for r in (a, b):
            r.ticker.shutdown()
            r.baton.engine.dispose()


def test_on_the_night_the_clocks_go_forward_the_handover_and_the_pages_follow_the_wall_clock(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Daily 09:00 (Europe/London) changes: on 2027-03-28 the clocks go forward at 01:00, so that
    day's change is at 08:00 UTC and its handover opens at 07:00 UTC; a P1 declared between
    07:00 and 08:00 UTC (before the change) pages the outgoing on-call first, one after it the
    incoming one."""
    path = tmp_path / "ownership.yaml"
    text = ownership_with(["maya", "li"])
    path.write_text(
        text.replace("every: 1w", "every: 1d").replace('from: "2026-11-23T09:00"', 'from: "2027-03-26T09:00"')
    )
    r = replica(fake_slack, db_url, path, FakeClock(datetime(2027, 3, 27, 10, 0, tzinfo=UTC)))
    try:
        # 27 March 09:00 GMT = 09:00 UTC: li's shift; 28 March 09:00 BST = 08:00 UTC: maya's.
        assert r.sync() == []  # armed
        change = datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
        r.to(change - HOUR - SECOND)
        assert r.sync() == []
        r.to(change - HOUR)
        (opened,) = r.sync()
        assert (opened.at, opened.outgoing, opened.incoming) == (change, "li", "maya")

        def first_page(title: str) -> str:
            inc = incidents.declare(
                baton=r.baton, severity="P2", area="model-quality", title=title, reporter=LEO
            )
            return inc.policy.steps[0].notify[0].user

        r.to(change - 30 * 60 * SECOND)  # 07:30 UTC = 08:30 BST: still li's shift
        assert first_page("Before the change") == LI
        r.to(change)
        r.sync()
        r.ticker.run_until_idle()
        assert len(on_call(fake_slack, MAYA)) == 1
        assert first_page("After the change") == MAYA
    finally:
        r.ticker.shutdown()
        r.baton.engine.dispose()


def test_a_withdrawal_leaves_an_altered_receipt_as_it_is(
    ml: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    baton = ml.baton
    first = first_handover(ml)
    tamper(baton.engine, RECEIPT, first.id or 0, note="all quiet, nothing to hand over")
    ml.to(CHANGE1 - HOUR + 10 * SECOND)
    ml.rotate(["maya", "omar", "li"])  # re-planned: maya -> omar; the old receipt would be withdrawn
    ml.sync()
    old, new = receipts(baton)
    assert (old.id, old.state, old.hash) == (first.id, "pending", first.hash)
    assert (new.to_ref, new.state) == ("omar", "pending")
    assert refusals(caplog, f"receipt #{first.id} (model-quality, seq 1)")  # reported
    with pytest.raises(HandoffError, match="cannot be signed"):
        handoffs.sign(baton=baton, receipt_id=first.id or 0, as_="incoming", user=LI)
    (problem,) = verify.verify(baton.engine)
    assert problem.row_id == first.id


def test_an_hourly_rotation_hands_over_to_each_person_in_turn_on_the_night_the_clocks_go_forward(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Hourly shifts (maya, li, omar) in Europe/London on 2027-03-28, when 01:00 GMT becomes
    02:00 BST: every hour the next person is told they are on call, li included (counted in wall
    time, 01:00 and 02:00 would be one instant and li's shift would vanish)."""
    path = tmp_path / "ownership.yaml"
    path.write_text(
        ownership_with(["maya", "li", "omar"])
        .replace("every: 1w", "every: 1h")
        .replace("handover: 1h", "handover: 15m")
        .replace('from: "2026-11-23T09:00"', 'from: "2027-03-27T00:00"')
    )
    r = replica(fake_slack, db_url, path, FakeClock(datetime(2027, 3, 27, 23, 20, tzinfo=UTC)))
    try:
        assert r.sync() == []  # armed
        night = datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
        for minutes in range(0, 4 * 60 + 1, 5):
            r.to(night + timedelta(minutes=minutes))
            r.sync()
            r.ticker.run_until_idle()
        told = [
            c.params["channel"]
            for c in fake_slack.calls_to("chat.postMessage")
            if "You are on call for" in str(c.params.get("text"))
        ]
        assert told == [MAYA, LI, OMAR, MAYA, LI]  # 00:00, 01:00, 02:00, 03:00, 04:00 UTC
        rows = [(at, row.incoming) for row in changes(r.baton) if (at := row.at.replace(tzinfo=UTC)) >= night]
        assert rows == [(night + k * HOUR, who) for k, who in enumerate(["maya", "li", "omar", "maya", "li"])]
    finally:
        r.ticker.shutdown()
        r.baton.engine.dispose()
