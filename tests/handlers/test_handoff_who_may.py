"""Who may put whom on call, through a handoff of the on-call role as through an override:
someone from outside the team only by an admin, checked when
the handoff is started and again when the incoming person countersigns. Signed requests to a
running Baton, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import RunningBaton
from tests.handlers.test_handoffs import JONAS, click_sign, owner, receipts
from tests.handlers.test_incident_command import LI, MAYA, OMAR, SAM

ML_MEMBERS = f"(<@{MAYA}>, <@{LI}>, <@{OMAR}>)"


def only_admins(person: str, members: str = ML_MEMBERS) -> str:
    return (
        f"<@{person}> is not a member of ML Team {members}: only an admin (<@{JONAS}>) can put someone "
        "from outside the team on call for it. Name one of its members, or ask an admin."
    )


def test_a_member_cannot_hand_the_on_call_to_someone_outside_the_team(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, _ = editable
    refused = owner(rb, f"handoff model-quality oncall <@{SAM}|sam> covering", MAYA)
    assert refused["text"] == ":warning: " + only_admins(SAM)
    assert receipts(rb) == []
    assert rb.baton.ownership.oncall("ml") == "maya"
    # The override path says the same, from the same rule.
    assert owner(rb, f"oncall ml <@{SAM}|sam> 2h", MAYA)["text"] == ":warning: " + only_admins(SAM)


def test_an_admin_may_hand_the_on_call_to_someone_outside_the_team(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, _ = editable
    assert "Handoff #1" in owner(rb, f"handoff model-quality oncall <@{SAM}|sam>", JONAS)["text"]
    done = click_sign(rb, SAM, "1:incoming", dm_of=SAM)
    assert "You hold the role from now on" in done["text"], done
    assert receipts(rb)[0].state == "signed"
    assert rb.baton.ownership.oncall("ml") == "sam"


def test_a_countersign_by_someone_no_longer_in_the_team_is_refused(
    editable: tuple[RunningBaton, Path],
) -> None:
    """Checked again at countersign: omar left the team after maya started the handoff."""
    rb, path = editable
    assert "Handoff #1" in owner(rb, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)["text"]
    path.write_text(path.read_text().replace("members: [maya, li, omar]", "members: [maya, li]"))
    assert rb.baton.reload() is None
    refused = click_sign(rb, OMAR, "1:incoming", dm_of=OMAR)
    reason = only_admins(OMAR, f"(<@{MAYA}>, <@{LI}>)").rstrip(".")
    assert f"{reason}. It cannot be countersigned" in refused["text"], refused
    (receipt,) = receipts(rb)
    assert receipt.state == "withdrawn" and receipt.incoming_signed_at is None
    assert rb.baton.ownership.oncall("ml") == "maya"
