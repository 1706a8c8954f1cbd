"""A Slack handoff takes a role only from someone who still holds it:
whatever changes the holder first (an edit of ownership.yaml seen on reload or at start, another
countersigned handoff of the same on-call, an on-call override, a shift change) withdraws the
role's handoffs still waiting for their countersignature, tells both and seals the withdrawal in
the chain; and the countersignature itself checks the holder. Through signed HTTP requests to a
running Baton (and, where weeks must pass, an injected clock), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.records import handoffs, verify
from bot.records.handoffs import HandoffError
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import OwnerOverride, Receipt
from bot.store.runtime import Baton
from tests.conftest import FAST_SEVERITY, SHIPPED_OWNERSHIP, RunningBaton, start_baton
from tests.handlers.test_handoffs import click_sign, owner, receipts, shown
from tests.handlers.test_incident_command import LEO, LI, MAYA, OMAR
from tests.oncall.test_handovers import CHANGE1, HOUR, replica

ACCOUNTABLE = ("    accountable: maya  ", "    accountable: omar  ")


def withdrawn_dms(fake: FakeSlack, user: str, receipt_id: int) -> list[str]:
    return [
        m["text"]
        for m in fake.dm_messages(user)
        if f"Handoff #{receipt_id} " in m["text"] and "withdrawn" in m["text"]
    ]


def wait_withdrawn_told(fake: FakeSlack, receipt_id: int, *users: str) -> dict[str, str]:
    """The withdrawal notice each of `users` got by DM (waits for them)."""
    return {
        user: fake.wait_for(
            lambda u=user: (withdrawn_dms(fake, u, receipt_id) or [None])[0],  # type: ignore[misc]
            message=f"withdrawal of #{receipt_id} told to {user}",
        )
        for user in users
    }


def overrides(rb: RunningBaton) -> list[tuple[str, str]]:
    with session(rb.baton.engine) as s:
        return [(o.key, o.ref) for o in s.exec(select(OwnerOverride)).all()]


def start(fake: FakeSlack, db_url: str, path: Path) -> RunningBaton:
    return start_baton(fake, db_url, BATON_OWNERSHIP_FILE=str(path), BATON_SEVERITY_FILE=str(FAST_SEVERITY))


@pytest.mark.parametrize("seen", ["reload", "restart"])
def test_an_edit_that_moves_the_role_withdraws_its_pending_handoff(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, seen: str
) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(SHIPPED_OWNERSHIP.read_text())
    rb = start(fake_slack, db_url, path)
    try:
        assert "Handoff #1" in owner(rb, f"handoff model-quality <@{LI}|li>", MAYA)["text"]
        path.write_text(path.read_text().replace(*ACCOUNTABLE))
        if seen == "reload":
            assert rb.baton.reload() is None
        else:  # edited while Baton was down: seen at start
            rb.stop()
            rb = start(fake_slack, db_url, path)
        first, edit = receipts(rb)
        assert (first.id, first.state) == (1, "withdrawn")
        assert (edit.origin, edit.from_ref, edit.to_ref, edit.state) == ("config", "maya", "omar", "pending")
        told = wait_withdrawn_told(fake_slack, 1, MAYA, LI)
        assert told[LI] == (
            f":wastebasket: Handoff #1 of the accountable role of Model / Prompt (<@{MAYA}> → <@{LI}>) is "
            f"withdrawn: ownership.yaml now gives it to <@{OMAR}>, so there is nothing to sign. It stays on "
            "the record."
        )
        # The countersignature the stale request still offers takes nothing.
        refused = click_sign(rb, LI, "1:incoming", dm_of=LI)
        assert refused["text"] == (
            ":warning: Handoff #1 was withdrawn (the role changed hands before it was countersigned)."
        )
        assert rb.baton.ownership.raci("model-quality").accountable == "omar"
        assert overrides(rb) == []
        assert "withdrawn: the role changed hands before it was countersigned" in shown(
            owner(rb, "history model-quality", LEO)
        )
        assert verify.verify(rb.baton.engine) == []  # the withdrawal is sealed in the chain
    finally:
        rb.stop()


def test_an_edit_that_leaves_the_role_alone_keeps_the_handoff(editable: tuple[RunningBaton, Path]) -> None:
    rb, path = editable
    owner(rb, f"handoff model-quality <@{LI}|li>", MAYA)
    path.write_text(path.read_text().replace("    accountable: dana\n", "    accountable: kenji\n"))
    assert rb.baton.reload() is None
    assert [(r.area, r.state) for r in receipts(rb)] == [("model-quality", "pending"), ("data", "pending")]
    assert "You hold the role from now on" in click_sign(rb, LI, "1:incoming", dm_of=LI)["text"]
    assert rb.baton.ownership.raci("model-quality").accountable == "li"


@pytest.fixture
def two_areas(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[RunningBaton]:
    """The ML Team is R of model-quality and of user-experience: its one on-call, two areas."""
    path = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    ux = text.index("  user-experience:")
    path.write_text(text[:ux] + text[ux:].replace("    responsible: product\n", "    responsible: ml\n", 1))
    rb = start(fake_slack, db_url, path)
    yield rb
    rb.stop()


def test_a_countersigned_handoff_withdraws_another_pending_one_of_the_same_on_call(
    two_areas: RunningBaton,
) -> None:
    rb = two_areas
    assert "Handoff #1" in owner(rb, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)["text"]
    assert "Handoff #2" in owner(rb, f"handoff user-experience oncall <@{LI}|li>", MAYA)["text"]
    assert "You hold the role from now on" in click_sign(rb, OMAR, "1:incoming", dm_of=OMAR)["text"]
    told = wait_withdrawn_told(rb.fake, 2, MAYA, LI)
    assert f"is withdrawn: <@{OMAR}> took it over through handoff #1" in told[MAYA]
    assert [(r.id, r.state) for r in receipts(rb)] == [(1, "signed"), (2, "withdrawn")]
    assert "was withdrawn" in click_sign(rb, LI, "2:incoming", dm_of=LI)["text"]
    assert rb.baton.ownership.oncall("ml") == "omar"
    assert overrides(rb) == [("team:ml:oncall", "omar")]
    assert verify.verify(rb.baton.engine) == []


def test_an_on_call_override_withdraws_a_pending_handoff_of_that_on_call(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, _ = editable
    assert "Handoff #1" in owner(rb, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)["text"]
    assert "override #1" in owner(rb, f"oncall ml <@{LI}|li> 4h", MAYA)["text"]
    told = wait_withdrawn_told(rb.fake, 1, MAYA, OMAR)
    assert f"is withdrawn: <@{LI}> is on call from" in told[OMAR]
    (handoff,) = [r for r in receipts(rb) if r.origin == "slack"]
    assert handoff.state == "withdrawn"
    assert "was withdrawn" in click_sign(rb, OMAR, "1:incoming", dm_of=OMAR)["text"]
    assert rb.baton.ownership.oncall("ml") == "li" and overrides(rb) == []
    assert verify.verify(rb.baton.engine) == []


# -- on an injected clock: the on-call starts to rotate, and its first shift change comes --------


@pytest.mark.parametrize("first", ["shift change", "countersignature"])
def test_a_shift_change_takes_the_on_call_from_a_pending_handoffs_signer(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, first: str
) -> None:
    """maya hands the ML on-call to omar; before omar countersigns, ownership.yaml makes it a
    rotation (maya, li, omar) that still has maya on call, so the edit changes no holder; at the
    first shift change li is on call. Whichever comes first, the shift change (Baton watching it)
    or omar's countersignature (a change Baton has not seen yet), the handoff is withdrawn."""
    path = tmp_path / "ownership.yaml"
    path.write_text(SHIPPED_OWNERSHIP.read_text())
    r = replica(fake_slack, db_url, path, FakeClock(CHANGE1 - 3 * HOUR))
    try:
        baton = r.baton
        handoff = handoffs.start(
            baton=baton, area="model-quality", role="oncall", to="omar", peer=None, note="", user=MAYA
        )
        r.rotate(["maya", "li", "omar"])
        assert baton.ownership.oncall("ml") == "maya"
        assert [x.state for x in _receipts(baton)] == ["pending"]
        if first == "shift change":
            r.sync()  # Baton watches the team's changes from now
            r.to(CHANGE1)
            r.sync()
            assert [x.state for x in _receipts(baton) if x.id == handoff.id] == ["withdrawn"]
            with pytest.raises(HandoffError, match=f"Handoff #{handoff.id} was withdrawn"):
                handoffs.sign(baton=baton, receipt_id=handoff.id or 0, as_="incoming", user=OMAR)
        else:
            r.to(CHANGE1)  # no sync: the change has not been seen
            with pytest.raises(HandoffError) as refused:
                handoffs.sign(baton=baton, receipt_id=handoff.id or 0, as_="incoming", user=OMAR)
            assert str(refused.value) == (
                f"Handoff #{handoff.id} is withdrawn: <@{MAYA}> no longer holds the on-call of ML Team; "
                f"<@{LI}> does. It cannot be countersigned, and nothing changed hands; its holder can start "
                "a new handoff."
            )
            assert [x.state for x in _receipts(baton)] == ["withdrawn"]
        r.ticker.run_until_idle()
        assert withdrawn_dms(fake_slack, MAYA, handoff.id or 0) and withdrawn_dms(
            fake_slack, OMAR, handoff.id or 0
        )
        assert baton.ownership.oncall("ml") == "li"
        with session(baton.engine) as s:
            assert s.exec(select(OwnerOverride)).all() == []
        assert verify.verify(baton.engine) == []
    finally:
        r.ticker.shutdown()
        r.baton.engine.dispose()


def _receipts(baton: Baton) -> list[Receipt]:
    """The Slack handoffs (not the shift change's own handover receipts)."""
    with session(baton.engine) as s:
        return list(s.exec(select(Receipt).where(col(Receipt.origin) == "slack")).all())
