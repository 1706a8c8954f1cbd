"""SQLModel tables. Schema changes go through Alembic revisions in bot/store/migrations/versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, PrimaryKeyConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.columns import UtcDateTime
from bot.store.policy import Policy, PolicyJSON


class PersonCache(SQLModel, table=True):
    """A person given as an e-mail in ownership.yaml, resolved through users.lookupByEmail."""

    __tablename__ = "person_cache"

    email: str = Field(primary_key=True, max_length=320)
    user_id: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=200)
    resolved_at: datetime = Field(sa_type=UtcDateTime)


def _json() -> Any:
    return Column(JSON, nullable=False, default=dict)


class Incident(SQLModel, table=True):
    """One incident; its id is the number people see (`inc-20261122-7-…`, `baton export 7`)."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_type=Text)
    area: str = Field(max_length=100, index=True)
    severity: str = Field(max_length=4)
    state: str = Field(default="open", max_length=16, index=True)  # open / acknowledged / resolved
    backlog: bool = False  # a backlog level: recorded and posted, nobody paged
    # A rehearsal: the real ladder, said as DRILL, never in the figures.
    drill: bool = Field(default=False, index=True)
    commander: str | None = Field(default=None, max_length=32)
    declared_by: str = Field(max_length=32)
    declared_at: datetime = Field(sa_type=UtcDateTime)
    deadline: datetime | None = Field(
        default=None, sa_type=UtcDateTime
    )  # end of the response window; None for backlog
    window_started_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime
    )  # start of that window: declared, raised or reopened
    # What was decided at declaration: level, window, the ladder with user IDs. Editing the YAML
    # later does not change a running escalation.
    policy: Policy = Field(default_factory=Policy, sa_column=Column(PolicyJSON, nullable=False, default=dict))
    acknowledged_by: str | None = Field(default=None, max_length=32)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ack_within_window: bool | None = None
    breached: bool = False
    status: str | None = Field(default=None, sa_type=Text)
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    summary: str | None = Field(default=None, sa_type=Text)
    channel_id: str | None = Field(default=None, max_length=32, index=True)
    channel_name: str | None = Field(default=None, max_length=80)
    opening_ts: str | None = Field(default=None, max_length=32)
    # Channel set-up steps done (create, invite, topic, post, pin): a retry resumes after them.
    setup_done: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    channel_error: str | None = Field(default=None, sa_type=Text)  # set-up gave up: why
    scored_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # a drill's score card queued
    # The announcement (ownership.yaml `announce:`): where and which message, edited in place.
    announce_channel: str | None = Field(default=None, max_length=32)
    announce_ts: str | None = Field(default=None, max_length=32)
    last_status_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # the update cadence's clock
    review_due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # severity.yaml `review:`
    review_link: str | None = Field(default=None, sa_type=Text)
    reviewed_by: str | None = Field(default=None, max_length=32)
    reviewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class FollowUp(SQLModel, table=True):
    """Work an incident leaves behind (`/incident follow-up`), and its issue in a tracker."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    text: str = Field(sa_type=Text)  # masked when stored
    owner: str | None = Field(default=None, max_length=32)  # a Slack user ID
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime)
    state: str = Field(default="open", max_length=16, index=True)  # open / done
    done_by: str | None = Field(default=None, max_length=32)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The tracker's issue: which tracker ("github" / "jira"), its state (pending / created /
    # failed), its key and URL once made, and the marker a retry looks the issue up by.
    tracker: str | None = Field(default=None, max_length=16)
    tracker_state: str | None = Field(default=None, max_length=16)
    tracker_key: str | None = Field(default=None, max_length=64)
    tracker_url: str | None = Field(default=None, sa_type=Text)
    tracker_error: str | None = Field(default=None, sa_type=Text)
    marker: str = Field(default="", max_length=64)


class TimelineEvent(SQLModel, table=True):
    """Everything that happened to an incident, with who and when."""

    __tablename__ = "timeline_event"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=32)  # a Slack user ID, or "baton"
    kind: str = Field(max_length=32)
    text: str = Field(sa_type=Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class Job(SQLModel, table=True):
    """Durable work with a due time: escalation pages, channel set-up, messages, pager events.

    A job is written in the same transaction as the change that needs it, so a crash never
    loses one; the ticker claims due jobs (one replica each) and runs them.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    incident_id: int | None = Field(default=None, foreign_key="incident.id", index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    due_at: datetime = Field(
        sa_type=UtcDateTime
    )  # when it was owed; kept through retries (lateness, order in the channel)
    retry_at: datetime | None = Field(
        default=None, sa_type=UtcDateTime
    )  # after a failure or a deferral: not before this
    state: str = Field(default="pending", max_length=16)  # pending / running / done / cancelled / failed
    ladder: bool = False  # part of the escalation: an acknowledgement cancels it
    step: int | None = None
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UtcDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # What the job has sent, per step ("dm", "post", "pager", "opening"): {"state": "sent",
    # "ts": …}; a retry reads it before sending (bot/store/delivery.py).
    delivery: dict[str, Any] = Field(default_factory=dict, sa_column=_json())

    __table_args__ = (Index("ix_job_state_due", "state", "due_at"),)


class Evidence(SQLModel, table=True):
    """Something that shows what happened: a note, a link, a Slack message. Masked before storage."""

    __table_args__ = (
        UniqueConstraint("incident_id", "source_channel", "source_ts", name="uq_evidence_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    author: str = Field(max_length=32)  # who added it
    kind: str = Field(max_length=16)  # text / link / message
    text: str = Field(sa_type=Text)  # PII and secrets masked (bot/text/masking.py)
    link: str | None = Field(default=None, sa_type=Text)  # a URL, or the Slack message's permalink
    source_channel: str | None = Field(default=None, max_length=32)  # the Slack message it came from
    source_ts: str | None = Field(default=None, max_length=32)
    message_author: str | None = Field(default=None, max_length=32)
    masked: dict[str, Any] = Field(default_factory=dict, sa_column=_json())  # kind -> count
    # Chained per incident (bot/records/chain.py): rewriting one shows in `baton verify`.
    seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class EvidenceDraft(SQLModel, table=True):
    """A message picked with the evidence shortcut outside an incident channel, kept while its
    author chooses the incident: its text may be longer than a modal's private_metadata."""

    __tablename__ = "evidence_draft"

    id: str = Field(primary_key=True, max_length=32)
    created_at: datetime = Field(sa_type=UtcDateTime)
    user: str = Field(max_length=32)  # who used the shortcut
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    message_author: str | None = Field(default=None, max_length=32)
    text: str = Field(sa_type=Text)
    # The message's permalink, asked for when the shortcut is used: the modal's submission must
    # be answered within Slack's 3 s, so it makes no Slack call of its own.
    link: str | None = Field(default=None, sa_type=Text)


class Receipt(SQLModel, table=True):
    """A handoff receipt: who handed which role of an area to whom, what the area
    looked like then, and who signed when. Hash-chained per area (bot/records/chain.py)."""

    __table_args__ = (UniqueConstraint("area", "seq", name="uq_receipt_area_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    area: str = Field(max_length=100, index=True)
    seq: int  # 1, 2, 3 … within the area: the chain's order
    role: str = Field(max_length=16)  # accountable / responsible / oncall
    team: str | None = Field(default=None, max_length=100)  # the team whose on-call it is
    from_ref: str = Field(max_length=320)  # as the config names people (handle, ID or e-mail)
    from_user: str | None = Field(default=None, max_length=32)
    to_ref: str = Field(max_length=320)
    to_user: str | None = Field(default=None, max_length=32)
    peer_user: str | None = Field(default=None, max_length=32)  # an optional witness
    note: str = Field(default="", sa_type=Text)  # masked
    origin: str = Field(max_length=16)  # slack (/owner handoff) or config (an edit of ownership.yaml)
    started_by: str = Field(max_length=32)  # a Slack user ID, or "baton" for a config edit
    started_at: datetime = Field(sa_type=UtcDateTime)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    outgoing_signed_by: str | None = Field(default=None, max_length=32)
    outgoing_signed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    incoming_signed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    peer_signed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    state: str = Field(default="pending", max_length=16, index=True)  # pending / signed
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class ChainHead(SQLModel, table=True):
    """The last link of a hash chain ("receipts:<area>", "evidence:<incident>"): appending locks
    it, so two replicas never fork a chain, and a deleted last link shows."""

    __tablename__ = "chain_head"

    name: str = Field(primary_key=True, max_length=160)
    seq: int
    hash: str = Field(max_length=64)


class ChainSeal(SQLModel, table=True):
    """Which key seals the hash chains (bot/records/seal.py): its fingerprint, never the key.
    One row (id 1), written the first time Baton runs with a key; no row: the chains are plain
    SHA-256. From then on a link without the key is a `baton verify` problem, never re-sealed."""

    __tablename__ = "chain_seal"

    id: int = Field(primary_key=True)
    key_fingerprint: str = Field(max_length=64)
    sealed_at: datetime = Field(sa_type=UtcDateTime)
    resealed: int = 0  # links re-sealed under the key then (0: keyed from the first link)


class Holder(SQLModel, table=True):
    """Who the config last named for a role ("area:<key>:accountable", "area:<key>:responsible",
    "team:<key>:oncall"): an edit that changes it opens a handoff receipt."""

    key: str = Field(primary_key=True, max_length=240)
    ref: str = Field(max_length=320)
    seen_at: datetime = Field(sa_type=UtcDateTime)


class OwnerOverride(SQLModel, table=True):
    """A role handed over in Slack and countersigned: effective at once, until ownership.yaml is
    edited to match (then it retires by itself)."""

    __tablename__ = "owner_override"

    key: str = Field(primary_key=True, max_length=240)
    ref: str = Field(max_length=320)
    user: str | None = Field(default=None, max_length=32)
    receipt_id: int = Field(foreign_key="receipt.id")
    since: datetime = Field(sa_type=UtcDateTime)


class NudgeRun(SQLModel, table=True):
    """One run of a scheduled nudge at one due time: the row is the claim, with a lease, so
    across replicas and crashes each due time runs once (bot/nudges/schedule.py)."""

    __tablename__ = "nudge_run"
    __table_args__ = (PrimaryKeyConstraint("name", "due_at", name="pk_nudge_run"),)

    name: str = Field(max_length=40)
    due_at: datetime = Field(sa_type=UtcDateTime)
    claimed_by: str = Field(max_length=64)
    claimed_at: datetime = Field(sa_type=UtcDateTime)
    state: str = Field(default="running", max_length=16)  # running / pending (a retry) / done / failed
    attempts: int = 1
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    retry_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class MonitorLink(SQLModel, table=True):
    """The incident an outside signal belongs to while it is open: an Alertmanager group
    ("alertmanager", groupKey), an SLO breach ("slo", "<area>:<sli>") or an area's failure cases
    ("feedback", "<area>"). The row is locked while deciding, so replicas and resends never
    declare twice. `key` is the SHA-256 of the signal's key, whatever its length (a groupKey has
    no limit); `name` is the key as it came, masked, for people."""

    __tablename__ = "monitor_link"
    __table_args__ = (PrimaryKeyConstraint("source", "key", name="pk_monitor_link"),)

    source: str = Field(max_length=32)
    key: str = Field(max_length=512)  # bot/monitoring/links.py digest()
    name: str = Field(sa_type=Text)
    incident_id: int | None = Field(default=None, foreign_key="incident.id")
    state: dict[str, Any] = Field(default_factory=dict, sa_column=_json())  # e.g. firing fingerprints
    updated_at: datetime = Field(sa_type=UtcDateTime)


class SlackSignature(SQLModel, table=True):
    """A Slack request signature Baton has taken: the same signed request sent again
    within Slack's 5-minute window is refused, by whichever replica it reaches. A row is kept
    until its signature's timestamp is out of the window (no request can carry it after that),
    then pruned."""

    __tablename__ = "slack_signature"
    __table_args__ = (Index("ix_slack_signature_expires_at", "expires_at"),)

    signature: str = Field(primary_key=True, max_length=80)  # "v0=" and 64 hex digits, checked
    expires_at: datetime = Field(sa_type=UtcDateTime)


class ReadinessTick(SQLModel, table=True):
    """A readiness checklist item ticked for an area: who, when and an
    optional link. Unticking deletes the row; items the config proves are never stored."""

    __tablename__ = "readiness_tick"
    __table_args__ = (PrimaryKeyConstraint("area", "item", name="pk_readiness_tick"),)

    area: str = Field(max_length=100)
    item: str = Field(max_length=40)
    ticked_by: str = Field(max_length=32)  # a Slack user ID
    ticked_at: datetime = Field(sa_type=UtcDateTime)
    link: str | None = Field(default=None, sa_type=Text)


class FailureCase(SQLModel, table=True):
    """A failure case the AI product reported through POST /feedback: a thumbs
    down, a low-confidence answer, a hand-over to a human. The text is masked before storage."""

    __tablename__ = "failure_case"
    __table_args__ = (Index("ix_failure_case_area_received", "area", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    area: str = Field(max_length=100)
    kind: str = Field(max_length=32)  # thumbs_down / low_confidence / handed_to_human / other
    text: str = Field(default="", sa_type=Text)  # masked (bot/text/masking.py)
    confidence: float | None = None
    ref: str | None = Field(default=None, max_length=512)  # the product's own id for the case
    masked: dict[str, Any] = Field(default_factory=dict, sa_column=_json())  # kind -> count
    received_at: datetime = Field(sa_type=UtcDateTime)


class OncallOverride(SQLModel, table=True):
    """`/owner oncall <team> @someone <duration> [note]`: `who` is the team's on-call from
    `starts_at` to `ends_at`, over the rotation."""

    __tablename__ = "oncall_override"
    __table_args__ = (Index("ix_oncall_override_team_ends", "team", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team: str = Field(max_length=100)
    who: str = Field(max_length=320)  # a ref, as the config names people
    user: str | None = Field(default=None, max_length=32)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    note: str = Field(default="", sa_type=Text)  # masked
    created_by: str = Field(max_length=32)  # a Slack user ID
    created_at: datetime = Field(sa_type=UtcDateTime)


class ShiftChange(SQLModel, table=True):
    """One change of a team's on-call (a shift change of its rotation, or an override starting or
    ending): the row is the claim that opens its handover receipts, so across replicas and
    restarts each change opens them once. `announced_at` is the same claim for the DM at the
    change itself. A row with state "armed" only marks where Baton started watching the team."""

    __tablename__ = "shift_change"
    __table_args__ = (PrimaryKeyConstraint("team", "at", name="pk_shift_change"),)

    team: str = Field(max_length=100)
    at: datetime = Field(sa_type=UtcDateTime)
    outgoing: str = Field(max_length=320)  # refs
    incoming: str = Field(max_length=320)
    origin: str = Field(max_length=16)  # rotation / override / armed
    state: str = Field(default="open", max_length=16)  # open / withdrawn (re-planned) / armed
    receipt_ids: list[int] = Field(default_factory=list, sa_column=_json())
    opened_at: datetime = Field(sa_type=UtcDateTime)
    announced_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    flagged: bool = False  # a receipt was still unsigned at the change


class ActionRequest(SQLModel, table=True):
    """`/incident run <action> [k=v …]`: one request to run
    an area's action for an incident, its approval and its webhook call. The state moves
    pending → approved → called (answered 2xx) or failed, or pending → denied / expired;
    approval "none" starts at approved. A request also expires (pending) or fails (approved, not
    yet called) when its incident is resolved or its action's config changes first; `error` says
    which. Decisions are conditional UPDATEs on `state`, so the first decision counts and a second
    click changes nothing; the call is a durable job."""

    __tablename__ = "action_request"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True)
    area: str = Field(max_length=100)
    action: str = Field(max_length=64)
    title: str = Field(default="", sa_type=Text)  # the action's title when requested
    params: dict[str, Any] = Field(default_factory=dict, sa_column=_json())  # masked: what is shown
    # What the webhook gets: the values as typed, masked only where the action's config says so
    # (`{name: …, mask: true}`). Kept only until the request ends (then {}); never shown, logged
    # or exported, and not in repr().
    call_params: dict[str, Any] = Field(default_factory=dict, sa_column=_json(), repr=False)
    # The action's config when asked, so a later edit cannot change what is approved: its rule,
    # which params the webhook gets masked, and a salted digest of its URL (the URL itself may
    # carry a token and is never stored). None for requests made before these were kept.
    approval: str = Field(max_length=16)  # none / accountable / two-person
    masked: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    url_digest: str | None = Field(default=None, max_length=64)
    approvers: list[str] = Field(default_factory=list, sa_column=_json())  # Slack user IDs asked
    requested_by: str = Field(max_length=32)
    requested_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    state: str = Field(default="pending", max_length=16, index=True)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    idempotency_key: str = Field(max_length=64)  # sent with every try of the call
    attempts: int = 0  # webhook calls made
    status: int | None = None  # the webhook's last HTTP status
    answer: str | None = Field(default=None, sa_type=Text)  # a short, masked excerpt of its body
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Why the last try failed; or, once it ended without running, why (resolved, config changed).
    error: str | None = Field(default=None, sa_type=Text)
