"""Two countersignatures of one role at once, through two areas and two replicas.

A team's on-call can have a pending Slack handoff in each area the team is R for. Whichever of
the two is countersigned first takes the role, and the other is withdrawn in the same
transaction: it is never countersigned by someone whose outgoing signer no longer held it.

The interleaving is made by pausing the real code where it waits anyway, not by sleeping: the
injected clock holds one countersignature after it read who holds the role and before its
transaction, and a pool event holds the other right after its transaction committed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import col, select

from bot.records import handoffs, verify
from bot.slack.standin import FakeSlack
from bot.store.clock import Clock
from bot.store.db import make_engine, session
from bot.store.models import OwnerOverride, Receipt
from bot.store.runtime import Baton
from tests.conftest import FAST_SEVERITY, SHIPPED_OWNERSHIP, RunningBaton, start_baton
from tests.handlers.test_handoff_holders import wait_withdrawn_told
from tests.handlers.test_handoffs import click_sign, owner, sign_request
from tests.handlers.test_incident_command import LI, MAYA, OMAR

GUARD = 60.0  # against a hang only: each wait ends when the other side arrives


class Gate:
    """Holds the first thread that reaches it until released."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = threading.Event()
        self.released = threading.Event()

    def hold(self) -> None:
        self.armed = False
        self.reached.set()
        assert self.released.wait(GUARD), "the gate was never released"

    def wait_reached(self, what: str) -> None:
        assert self.reached.wait(GUARD), f"{what} never reached its gate"


def _inside(code: Any, *, not_in: Any = None) -> bool:
    frame = sys._getframe(1)
    found = False
    while frame is not None:
        if frame.f_code is not_in:
            return False
        found = found or frame.f_code is code
        frame = frame.f_back  # type: ignore[assignment]
    return found


class HeldBeforeTransaction:
    """A clock that holds a countersignature at the time it takes just before its transaction,
    after it read who holds the role."""

    def __init__(self, inner: Clock, gate: Gate) -> None:
        self.inner, self.gate = inner, gate

    def now(self) -> datetime:
        if self.gate.armed and sys._getframe(1).f_code is handoffs.sign.__code__:
            self.gate.hold()
        return self.inner.now()


def hold_after_commit(baton: Baton, gate: Gate) -> Callable[..., None]:
    """Hold a countersignature when its transaction's connection goes back to the pool: it has
    committed, and whatever it does next has not started."""

    def checkin(*_: Any) -> None:
        if gate.armed and _inside(handoffs.sign.__code__, not_in=Baton.refresh_overrides.__code__):
            gate.hold()

    event.listen(baton.engine, "checkin", checkin)
    return checkin


def two_replicas(fake: FakeSlack, url: str, tmp_path: Path) -> tuple[RunningBaton, RunningBaton]:
    """Two replicas on one database; the ML Team is R of model-quality and user-experience.
    maya has handed its on-call to omar through model-quality (#1) and to li through
    user-experience (#2); both are asked to countersign."""
    path = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    ux = text.index("  user-experience:")
    path.write_text(text[:ux] + text[ux:].replace("    responsible: product\n", "    responsible: ml\n", 1))
    env = {"BATON_OWNERSHIP_FILE": str(path), "BATON_SEVERITY_FILE": str(FAST_SEVERITY)}
    a = start_baton(fake, url, **env)
    b = start_baton(fake, url, **env)
    assert "Handoff #1" in owner(a, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)["text"]
    assert "Handoff #2" in owner(a, f"handoff user-experience oncall <@{LI}|li>", MAYA)["text"]
    sign_request(a, OMAR, 1)
    sign_request(a, LI, 2)
    return a, b


@pytest.fixture
def replicas(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> Iterator[tuple[RunningBaton, RunningBaton]]:
    a, b = two_replicas(fake_slack, db_url, tmp_path)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture
def pg_replicas(
    fake_slack: FakeSlack, pg_url: str, tmp_path: Path
) -> Iterator[tuple[RunningBaton, RunningBaton]]:
    a, b = two_replicas(fake_slack, pg_url, tmp_path)
    yield a, b
    a.stop()
    b.stop()


def state(rb: RunningBaton) -> tuple[list[tuple[int | None, str]], list[tuple[str, str, int]]]:
    """(receipt id, state) of every receipt, and (role key, holder, receipt) of every override."""
    with session(rb.baton.engine) as s:
        found = [(r.id, r.state) for r in s.exec(select(Receipt).order_by(col(Receipt.id))).all()]
        held = [(o.key, o.ref, o.receipt_id) for o in s.exec(select(OwnerOverride)).all()]
    return found, held


def test_two_countersignatures_of_one_on_call_at_once_make_one_holder(
    replicas: tuple[RunningBaton, RunningBaton],
) -> None:
    """maya hands the ML on-call to omar through model-quality (#1) and to li through
    user-experience (#2). li countersigns on replica B, having read that maya holds it, and is
    held there; omar countersigns on replica A and is held right after his commit; then li goes
    on. Before the fix both receipts were signed and li held the role through maya, who no longer
    held it."""
    a, b = replicas
    before, after = Gate(), Gate()
    b.baton.clock = HeldBeforeTransaction(b.baton.clock, before)
    listener = hold_after_commit(a.baton, after)
    said: dict[str, dict[str, Any]] = {}

    def click(rb: RunningBaton, user: str, value: str) -> None:
        said[user] = click_sign(rb, user, value, dm_of=user)

    li = threading.Thread(target=click, args=(b, LI, "2:incoming"))
    omar = threading.Thread(target=click, args=(a, OMAR, "1:incoming"))
    try:
        before.armed = True
        li.start()
        before.wait_reached("li's countersignature")
        after.armed = True
        omar.start()
        after.wait_reached("omar's countersignature")
        before.released.set()
        li.join(GUARD)
        assert not li.is_alive()
    finally:
        before.released.set()
        after.released.set()
        li.join(GUARD)
        omar.join(GUARD)
        event.remove(a.baton.engine, "checkin", listener)

    assert sorted(said) == sorted([LI, OMAR]), "each countersignature was answered (none failed)"
    assert state(a) == ([(1, "signed"), (2, "withdrawn")], [("team:ml:oncall", "omar", 1)])
    assert "You hold the role from now on" in said[OMAR]["text"]
    assert said[LI]["text"] == (
        ":warning: Handoff #2 was withdrawn (the role changed hands before it was countersigned)."
    )
    told = wait_withdrawn_told(a.fake, 2, MAYA, LI)
    assert f"is withdrawn: <@{OMAR}> took it over through handoff #1" in told[MAYA]
    assert f"is withdrawn: <@{OMAR}> took it over through handoff #1" in told[LI]
    b.baton.refresh_overrides()
    assert a.baton.ownership.oncall("ml") == "omar" and b.baton.ownership.oncall("ml") == "omar"
    assert verify.verify(a.baton.engine) == []


def _waiting_behind(conn: Any, pid: int) -> set[int]:
    """The backends waiting, directly or through another, for a lock `pid` holds."""
    rows = conn.execute(
        text("SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    ).all()
    conn.rollback()  # pg_stat_activity holds still within a transaction: the next look sees anew
    behind, grew = set(), True
    while grew:
        more = {p for p, by in rows if p not in behind and ({pid} | behind) & set(by)}
        behind |= more
        grew = bool(more)
    return behind


def test_two_countersignatures_of_one_on_call_in_overlapping_transactions_make_one_holder(
    pg_replicas: tuple[RunningBaton, RunningBaton], pg_url: str
) -> None:
    """PostgreSQL, where the two transactions can overlap: another session holds the head of
    user-experience's chain; li's countersignature (replica B) waits for it, then omar's
    (replica A) starts. Before the fix omar's committed and li's, queued first on the head, still
    read maya as the holder and committed too (or, with the withdrawal moved into the
    transaction but no lock on the role, the two deadlocked). With the role locked first, omar's
    waits for li's, finds #1 withdrawn and takes nothing."""
    a, b = pg_replicas
    blocker = make_engine(pg_url)
    said: dict[str, dict[str, Any]] = {}

    def click(rb: RunningBaton, user: str, value: str) -> None:
        said[user] = click_sign(rb, user, value, dm_of=user)

    li = threading.Thread(target=click, args=(b, LI, "2:incoming"))
    omar = threading.Thread(target=click, args=(a, OMAR, "1:incoming"))
    try:
        with blocker.connect() as conn, blocker.connect() as watch:
            tx = conn.begin()
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            held = "SELECT name FROM chain_head WHERE name = 'receipts:user-experience' FOR UPDATE"
            assert conn.execute(text(held)).all() == [("receipts:user-experience",)]
            li.start()
            a.fake.wait_for(lambda: len(_waiting_behind(watch, pid)) == 1, timeout=GUARD, message="li waits")
            omar.start()
            a.fake.wait_for(
                lambda: len(_waiting_behind(watch, pid)) == 2, timeout=GUARD, message="omar waits"
            )
            tx.rollback()
        li.join(GUARD)
        omar.join(GUARD)
    finally:
        blocker.dispose()
    assert not li.is_alive() and not omar.is_alive()
    assert sorted(said) == sorted([LI, OMAR]), "each countersignature was answered (none failed)"
    assert state(a) == ([(1, "withdrawn"), (2, "signed")], [("team:ml:oncall", "li", 2)])
    assert "You hold the role from now on" in said[LI]["text"]
    assert said[OMAR]["text"] == (
        ":warning: Handoff #1 was withdrawn (the role changed hands before it was countersigned)."
    )
    told = wait_withdrawn_told(a.fake, 1, MAYA, OMAR)
    assert f"is withdrawn: <@{LI}> took it over through handoff #2" in told[MAYA]
    assert f"is withdrawn: <@{LI}> took it over through handoff #2" in told[OMAR]
    a.baton.refresh_overrides()
    assert a.baton.ownership.oncall("ml") == "li" and b.baton.ownership.oncall("ml") == "li"
    assert verify.verify(a.baton.engine) == []
