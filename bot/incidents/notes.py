"""The incident note: a Markdown summary with timeline, evidence, who was paged when, and time
to acknowledge against the window (posted on resolve; `/incident note`; `baton export N`).

The facts are gathered once into an :class:`IncidentRecord`; the Markdown is rendered from it,
and `baton export --json` prints the same record, so Slack, the file and other tools never
disagree.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.config.fields import SEVERITIES, is_email, is_user_id
from bot.incidents.followup_items import FollowUpItem, follow_ups, item, markdown_line
from bot.incidents.messages import SOURCES, USER_ID
from bot.store.models import ActionRequest, Evidence, Incident, Job, TimelineEvent
from bot.store.policy import Policy
from bot.text.spans import format_duration

EVIDENCE_TEXT = 500  # characters of a piece of evidence in the Markdown; the JSON keeps it whole


@dataclass(frozen=True)
class Window:
    """One response window: the declaration starts one, so do a raise and a reopen that pages."""

    number: int  # 1, 2 … in order
    reason: str  # declared / raised / reopened
    severity: str
    started_at: datetime
    deadline: datetime  # a lowering while open moves it (the ladder is re-planned from then)
    window_seconds: int  # deadline - started_at, whole seconds


@dataclass(frozen=True)
class Page:
    """One DM page that went out, placed against the window it belonged to."""

    user: str
    step: int | None  # the escalation step (0 at the window's start)
    breach: bool  # the step at T, when the window is breached
    at: datetime  # when it was sent
    due_at: datetime | None  # when the ladder had it due
    window: int | None  # Window.number
    offset_seconds: int | None  # whole seconds after that window started
    window_seconds: int | None
    inside_window: bool | None  # sent before the deadline


@dataclass(frozen=True)
class EvidenceItem:
    at: datetime
    author: str  # who added it
    kind: str  # text / link / message
    text: str  # masked
    link: str | None  # the URL, or the Slack message's permalink
    message_author: str | None
    source_channel: str | None
    source_ts: str | None
    masked: dict[str, int]  # what masking hid: kind -> count


@dataclass(frozen=True)
class ActionItem:
    """One `/incident run` request (bot/actions/requests.py): its approval and its webhook call."""

    request: int
    action: str
    title: str
    params: dict[str, Any]  # masked
    approval: str  # none / accountable / two-person
    requested_by: str
    requested_at: datetime
    approvers: tuple[str, ...]  # Slack user IDs asked
    expires_at: datetime
    state: str  # pending / approved / called / failed / denied / expired
    decided_by: str | None  # "baton" for approval none
    decided_at: datetime | None
    attempts: int  # webhook calls made
    status: int | None  # the webhook's last HTTP status
    answer: str | None  # a short, masked excerpt of its body
    answered_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str  # a Slack user ID, or "baton"
    kind: str
    text: str


@dataclass(frozen=True)
class IncidentRecord:
    """Everything the note says about one incident, read from the database in one go."""

    number: int
    title: str
    area: str
    area_name: str
    severity: str
    level_name: str
    state: str
    backlog: bool
    commander: str | None
    declared_by: str
    declared_at: datetime
    response_time: str | None  # the current level's, as written in severity.yaml
    window_seconds: int | None  # the current window: deadline - window_started_at
    window_started_at: datetime | None
    deadline: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    time_to_acknowledge_seconds: float | None  # from the start of the window it answered
    acknowledged_inside_window: bool | None
    breached: bool
    breached_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    summary: str | None
    status: str | None
    channel_id: str | None
    channel_name: str | None
    runbook: str | None
    windows: tuple[Window, ...]
    pages: tuple[Page, ...]
    evidence: tuple[EvidenceItem, ...]
    timeline: tuple[Event, ...]
    people: dict[str, str]  # Slack user ID -> handle, as the incident's policy snapshot named them
    actions: tuple[ActionItem, ...] = ()  # requests to run the area's actions, oldest first
    follow_ups: tuple[FollowUpItem, ...] = ()  # `/incident follow-up`, oldest first


def _from_text(text: str) -> datetime:
    """A time a timeline event's data holds as text: UTC, naive in rows SQLite wrote before
    bot/store/columns.py (the job's due time as it was read back then)."""
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _seconds(delta: timedelta) -> int:
    """Whole seconds (the second a moment fell in), towards zero."""
    return int(delta.total_seconds())


@dataclass(frozen=True)
class _Ladder:
    """One scheduling of the escalation ladder, as its breach row recorded it."""

    created_at: datetime
    deadline: datetime
    breach_step: int | None


def gather(s: Session, inc: Incident) -> IncidentRecord:
    """The incident, its windows, pages, evidence and timeline, from one session."""
    assert inc.id is not None
    rows = s.exec(
        select(TimelineEvent)
        .where(col(TimelineEvent.incident_id) == inc.id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    ).all()
    # Each ladder written (declare, raise, reopen, a lowering's re-plan) has exactly one breach
    # row, due at that window's deadline: the history of windows, kept even once cancelled.
    breach_rows = s.exec(
        select(Job)
        .where(col(Job.incident_id) == inc.id, col(Job.kind) == "breach")
        .order_by(col(Job.created_at), col(Job.id))
    ).all()
    evidence_rows = s.exec(
        select(Evidence)
        .where(col(Evidence.incident_id) == inc.id)
        .order_by(col(Evidence.at), col(Evidence.id))
    ).all()

    action_rows = s.exec(
        select(ActionRequest)
        .where(col(ActionRequest.incident_id) == inc.id)
        .order_by(col(ActionRequest.requested_at), col(ActionRequest.id))
    ).all()

    policy = inc.policy
    ladders = [_Ladder(j.created_at, j.due_at, j.step) for j in breach_rows]
    if not ladders and inc.window_started_at is not None and inc.deadline is not None:
        ladders = [_Ladder(inc.window_started_at, inc.deadline, None)]
    windows = _windows(rows, ladders, first_level=_first_level(rows, inc.severity))
    pages = tuple(_page(e, windows, ladders) for e in rows if e.kind == "paged")

    started = inc.window_started_at or inc.declared_at
    deadline = inc.deadline
    acked = inc.acknowledged_at
    breaches = [e.at for e in rows if e.kind == "breached" and e.at >= started]
    return IncidentRecord(
        number=inc.id,
        title=inc.title,
        area=inc.area,
        area_name=policy.area_name or inc.area,
        severity=inc.severity,
        level_name=policy.level_name,
        state=inc.state,
        backlog=inc.backlog,
        commander=inc.commander,
        declared_by=inc.declared_by,
        declared_at=inc.declared_at,
        response_time=policy.response_time,
        window_seconds=_seconds(deadline - started) if deadline is not None else None,
        window_started_at=inc.window_started_at,
        deadline=deadline,
        acknowledged_by=inc.acknowledged_by,
        acknowledged_at=acked,
        time_to_acknowledge_seconds=round((acked - started).total_seconds(), 3) if acked else None,
        acknowledged_inside_window=inc.ack_within_window,
        breached=inc.breached,
        breached_at=breaches[-1] if inc.breached and breaches else None,
        resolved_by=inc.resolved_by,
        resolved_at=inc.resolved_at,
        summary=inc.summary,
        status=inc.status,
        channel_id=inc.channel_id,
        channel_name=inc.channel_name,
        runbook=policy.runbook,
        windows=tuple(windows),
        pages=pages,
        evidence=tuple(
            EvidenceItem(
                at=e.at,
                author=e.author,
                kind=e.kind,
                text=e.text,
                link=e.link,
                message_author=e.message_author,
                source_channel=e.source_channel,
                source_ts=e.source_ts,
                masked={str(k): int(v) for k, v in (e.masked or {}).items()},
            )
            for e in evidence_rows
        ),
        timeline=tuple(Event(at=e.at, actor=e.actor, kind=e.kind, text=e.text) for e in rows),
        people=handles(policy),
        actions=tuple(_action(a) for a in action_rows),
        follow_ups=tuple(item(f) for f in follow_ups(s, inc.id)),
    )


def _action(a: ActionRequest) -> ActionItem:
    assert a.id is not None
    return ActionItem(
        request=a.id,
        action=a.action,
        title=a.title,
        params=dict(a.params),
        approval=a.approval,
        requested_by=a.requested_by,
        requested_at=a.requested_at,
        approvers=tuple(a.approvers),
        expires_at=a.expires_at,
        state=a.state,
        decided_by=a.decided_by,
        decided_at=a.decided_at,
        attempts=a.attempts,
        status=a.status,
        answer=a.answer,
        answered_at=a.answered_at,
        error=a.error,
    )


def _first_level(events: Sequence[TimelineEvent], current: str) -> str:
    """The level declared: the first severity change says what it was changed from."""
    for e in events:
        if e.kind == "severity" and e.data.get("old"):
            return str(e.data["old"])
    return current


def _lowered(e: TimelineEvent) -> bool:
    old, new = e.data.get("old"), e.data.get("new")
    return old in SEVERITIES and new in SEVERITIES and SEVERITIES.index(new) > SEVERITIES.index(old)


def _windows(events: Sequence[TimelineEvent], ladders: list[_Ladder], *, first_level: str) -> list[Window]:
    """Windows from the ladders: a lowering's re-plan moves the deadline of the window it is in
    (the acknowledgement is still timed from that window's start); any other ladder starts one."""
    lowered = {e.at for e in events if e.kind == "severity" and _lowered(e)}
    why = {"declared": "declared", "severity": "raised", "reopened": "reopened"}
    reasons = {e.at: why[e.kind] for e in events if e.kind in why}
    changes = [(e.at, str(e.data["new"])) for e in events if e.kind == "severity" and e.data.get("new")]
    windows: list[Window] = []
    for ladder in ladders:
        if ladder.created_at in lowered and windows:
            last = windows[-1]
            windows[-1] = replace(
                last, deadline=ladder.deadline, window_seconds=_seconds(ladder.deadline - last.started_at)
            )
            continue
        level = next((new for at, new in reversed(changes) if at <= ladder.created_at), first_level)
        windows.append(
            Window(
                number=len(windows) + 1,
                reason=reasons.get(ladder.created_at, "started"),
                severity=level,
                started_at=ladder.created_at,
                deadline=ladder.deadline,
                window_seconds=_seconds(ladder.deadline - ladder.created_at),
            )
        )
    return windows


def _latest(items: list[Any], when: datetime, key: Any) -> Any:
    """The last of `items` (in time order) that began at or before `when`, or None."""
    i = bisect.bisect_right([key(x) for x in items], when)
    return items[i - 1] if i else None


def _page(e: TimelineEvent, windows: list[Window], ladders: list[_Ladder]) -> Page:
    at = e.at
    due_text = e.data.get("due_at")
    due = _from_text(due_text) if isinstance(due_text, str) else None
    # A page belongs to the window (and ladder) it was due in, even if it went out a bit later.
    when = due or at
    window: Window | None = _latest(windows, when, lambda w: w.started_at)
    ladder: _Ladder | None = _latest(ladders, when, lambda x: x.created_at)
    step = e.data.get("step")
    step = int(step) if step is not None else None
    if window is None or ladder is None:
        return Page(str(e.data.get("user") or ""), step, False, at, due, None, None, None, None)
    offset = _seconds(at - window.started_at)
    length = _seconds(ladder.deadline - window.started_at)
    return Page(
        user=str(e.data.get("user") or ""),
        step=step,
        breach=step is not None and step == ladder.breach_step,
        at=at,
        due_at=due,
        window=window.number,
        offset_seconds=offset,
        window_seconds=length,
        inside_window=offset < length,
    )


def handles(policy: Policy) -> dict[str, str]:
    """Handles of the people the policy snapshot pages (ownership.yaml as it stood then)."""
    names: dict[str, str] = {}
    for step in policy.steps:
        for person in step.notify:
            ref, user = person.ref, person.user
            if user and ref and not is_user_id(ref) and not is_email(ref):
                names.setdefault(user, ref)
    return names


# -- Markdown ---------------------------------------------------------------------------------


def _t(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts else "—"


def _span(seconds: int | float) -> str:
    return format_duration(timedelta(seconds=round(seconds)))


def _item(text: str) -> str:
    """A list item's text: later lines indented so they stay in the item."""
    return text.replace("\n", "\n  ")


def render(record: IncidentRecord) -> str:
    """The incident note in Markdown."""

    def who(user: str | None) -> str:
        if not user or not USER_ID.fullmatch(user):  # "baton", "alertmanager": no person
            return SOURCES.get(user, user) if user else "—"
        handle = record.people.get(user)
        return f"{handle} <@{user}>" if handle else f"<@{user}>"

    r = record
    lines = [
        f"# Incident #{r.number}: {r.title}",
        "",
        f"- Severity: {r.severity} ({r.level_name})",
        f"- Area: {r.area_name} ({r.area})",
        f"- State: {r.state}",
        f"- Declared: {_t(r.declared_at)} by {who(r.declared_by)}",
        f"- Commander: {who(r.commander)}",
    ]
    if r.channel_name:
        lines.append(f"- Channel: #{r.channel_name}")
    if r.runbook:
        lines.append(f"- Runbook: {r.runbook}")
    if r.deadline is not None:
        lines.append(
            f"- Response window: {r.response_time or _span(r.window_seconds or 0)}, "
            f"from {_t(r.window_started_at or r.declared_at)} until {_t(r.deadline)}"
        )
    elif r.backlog:
        lines.append("- Response window: none (backlog: nobody is paged)")
    if r.acknowledged_at is not None:
        took = _span(r.time_to_acknowledge_seconds or 0)
        verdict = "inside" if r.acknowledged_inside_window else "outside"
        window = f" the {_span(r.window_seconds)} window" if r.window_seconds is not None else " the window"
        lines.append(
            f"- Acknowledged: {_t(r.acknowledged_at)} by {who(r.acknowledged_by)}, "
            f"after {took} ({verdict}{window})"
        )
    else:
        lines.append("- Acknowledged: never")
    breach = f"yes, at {_t(r.breached_at)}" if r.breached and r.breached_at else "yes" if r.breached else "no"
    lines.append(f"- Window breached: {breach}")
    if r.resolved_at is not None:
        lines.append(f"- Resolved: {_t(r.resolved_at)} by {who(r.resolved_by)}")
    if r.status:
        lines.append(f"- Latest status: {_item(r.status)}")
    if r.summary:
        lines += ["", "## Summary", "", r.summary]
    if r.follow_ups:  # next to the summary: the note posted on resolve shows its first lines
        done = sum(f.state == "done" for f in r.follow_ups)
        lines += ["", f"## Follow-ups ({len(r.follow_ups)}, {done} done)", ""]
        lines += [markdown_line(f, who, _t) for f in r.follow_ups]

    lines += ["", "## Who was paged when", ""]
    lines += _pages(r, who)

    lines += ["", f"## Evidence ({len(r.evidence)})", ""]
    for ev in r.evidence:
        source = f" from {who(ev.message_author)}" if ev.kind == "message" and ev.message_author else ""
        text = ev.text if len(ev.text) <= EVIDENCE_TEXT else ev.text[: EVIDENCE_TEXT - 1] + "…"
        link = f" ({ev.link})" if ev.link and ev.link != ev.text else ""
        hidden = ", ".join(f"{n} {kind}" for kind, n in sorted(ev.masked.items()) if n)
        masked = f" (masked: {hidden})" if hidden else ""
        lines.append(f"- {_t(ev.at)} {who(ev.author)} {ev.kind}{source}: {_item(text)}{link}{masked}")
    if not r.evidence:
        lines.append("- none")

    if r.actions:
        lines += ["", f"## Actions ({len(r.actions)})", ""]
        lines += [_action_line(a, who) for a in r.actions]

    lines += ["", "## Timeline", ""]
    lines += [f"- {_t(e.at)} {who(e.actor)} {e.kind}: {_item(e.text)}" for e in r.timeline]
    return "\n".join(lines) + "\n"


def _action_line(a: ActionItem, who: Any) -> str:
    """`- #3 rollback-prompt (version=v41), approval accountable, asked by li <@…> at …: approved
    by maya <@…> at …; webhook HTTP 200 at …`."""
    params = ", ".join(f"{k}={v}" for k, v in a.params.items())
    head = f"- #{a.request} {a.action}" + (f" ({params})" if params else "")
    head += f", approval {a.approval}, asked by {who(a.requested_by)} at {_t(a.requested_at)}"
    asked = ", ".join(who(u) for u in a.approvers) or "nobody"
    if a.state == "pending":
        return f"{head}: pending, waiting for {asked} until {_t(a.expires_at)}"
    if a.state == "expired":
        why = f": {a.error}" if a.error else ""  # resolved, or its config changed (bot/actions/ending.py)
        return f"{head}: expired at {_t(a.expires_at)}, nobody decided (asked: {asked}){why}"
    decided = f"{a.state if a.state == 'denied' else 'approved'} by {who(a.decided_by)} at {_t(a.decided_at)}"
    if a.state == "denied":
        return f"{head}: {decided}"
    if a.status is not None:
        failed = " (failed)" if a.state == "failed" else ""
        call = f"webhook answered HTTP {a.status} at {_t(a.answered_at)}{failed}"
    elif a.state == "failed":
        call = f"webhook failed: {a.error or 'no answer'}"
    elif a.error:
        call = f"webhook not answered yet: {a.error}"
    else:
        call = "webhook not called yet"
    tries = f" ({a.attempts} tries)" if a.attempts > 1 else ""
    return f"{head}: {decided}; {call}{tries}"


def page_line(page: Page, who: str) -> str:
    """`- +30m maya <@U…> (step 1), inside the 1h window`."""
    step = f"step {page.step}" if page.step is not None else "step ?"
    if page.breach:
        step += ", breach"
    if page.offset_seconds is None or page.window_seconds is None:
        return f"- {_t(page.at)} {who} ({step})"
    window = f"the {_span(page.window_seconds)} window"
    if page.offset_seconds < page.window_seconds:
        where = f"inside {window}"
    elif page.offset_seconds == page.window_seconds:
        where = f"at the end of {window}"
    else:
        where = f"after {window}"
    return f"- +{_span(page.offset_seconds)} {who} ({step}), {where}"


def _pages(r: IncidentRecord, who: Any) -> list[str]:
    if not r.pages:
        return ["- nobody"]
    if len(r.windows) <= 1:
        return [page_line(p, who(p.user)) for p in r.pages]
    # Several windows (a raise, a reopen): each page counts from the start of its own.
    lines: list[str] = [page_line(p, who(p.user)) for p in r.pages if p.window is None]
    for w in r.windows:
        mine = [page_line(p, who(p.user)) for p in r.pages if p.window == w.number]
        if lines:
            lines.append("")
        span = _span(w.window_seconds)
        lines += [f"Window {w.number}: {w.severity}, {span} from {_t(w.started_at)} ({w.reason})", ""]
        lines += mine or ["- nobody"]
    return lines


def incident_note(s: Session, inc: Incident) -> str:
    """The note as Slack shows it (resolve, `/incident note`) and `baton export` prints it."""
    return render(gather(s, inc))
