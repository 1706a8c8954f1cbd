"""The weekly failure review: per area, the week's incidents with their time to
acknowledge against their windows, breaches and evidence counts; what is still open (incidents
of any age, handoff receipts waiting for signatures); and the failure cases the product reported
(counts by kind, a few masked examples). Drills are never counted with the incidents: the
week's drills are listed apart, as "Drills" (bot/readiness/drills.py).

`review(baton, now=…)` reads it (the 7 days up to `now`); `Review.markdown()` is what
`baton nudge review` prints; `posts(baton, found)` are the per-area Slack messages (to the
responsible team's channel, else the accountable person by DM); `run(baton)` is the scheduled
`failure_review` nudge, which queues them as durable post jobs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.followups import messages as follow_ups
from bot.followups.services import OpenFollowUp, open_all
from bot.incidents.messages import USER_ID
from bot.monitoring.feedback import example_line, kinds_text
from bot.nudges.keeping import Kept, combined, gather
from bot.readiness.drills import Drill, between
from bot.store.clock import slack_time
from bot.store.db import session
from bot.store.models import Evidence, FailureCase, Incident, Receipt
from bot.store.outbox import Blocks, Post, destination, queue
from bot.store.runtime import Baton
from bot.text.blocks import context, header, section
from bot.text.mrkdwn import clip, escape, within
from bot.text.spans import format_duration

WEEK = timedelta(days=7)
EXAMPLES = 3  # failure cases quoted per area
SECTION = 2900  # characters of one Block Kit section (Slack's limit is 3,000)


# -- what the review holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentLine:
    """One incident as the review shows it."""

    number: int
    severity: str
    title: str  # masked when it was stored
    declared_at: datetime
    state: str  # open / acknowledged / resolved
    window: str | None  # the response time as written ("1h"); None: a backlog item, no window
    time_to_ack: timedelta | None
    within: bool | None  # acknowledged inside the window
    breached: bool
    evidence: int
    channel: str | None = None  # the incident channel's ID, once it exists

    def response(self) -> str:
        """ "acknowledged after 12m, inside the 1h window", "not acknowledged (4h window, breached)"."""
        if self.window is None:
            return "backlog: no response window"
        if self.time_to_ack is not None:
            took = format_duration(timedelta(seconds=round(self.time_to_ack.total_seconds())))
            verdict = "inside" if self.within else "outside"
            return f"acknowledged after {took}, {verdict} the {self.window} window"
        breach = ", breached" if self.breached else ""
        if self.state == "resolved":
            return f"resolved without an acknowledgement ({self.window} window{breach})"
        return f"not acknowledged yet ({self.window} window{breach})"

    def evidence_text(self) -> str:
        return f"{self.evidence} evidence" if self.evidence else "no evidence"


@dataclass(frozen=True)
class Handoff:
    """A handoff receipt still waiting for a signature."""

    receipt: int
    role: str
    from_ref: str
    to_ref: str
    started_at: datetime
    waiting_for: tuple[tuple[str, str | None], ...]  # (as the config names them, Slack user ID)


@dataclass(frozen=True)
class Failures:
    """The failure cases the product reported for an area this week."""

    counts: dict[str, int]  # kind -> how many
    examples: tuple[str, ...]  # plain text lines (masked, mentions as text), newest first

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class AreaReview:
    area: str
    name: str
    incidents: tuple[IncidentLine, ...]  # declared this week
    still_open: tuple[IncidentLine, ...]  # not resolved, of any age
    handoffs: tuple[Handoff, ...]  # pending receipts
    failures: Failures
    drills: tuple[Drill, ...] = ()  # declared this week; never among the incidents
    follow_ups: tuple[OpenFollowUp, ...] = ()  # open, of any age (drills' too), oldest first
    kept: Kept = Kept()  # missed status updates, reviews overdue and done (bot/nudges/keeping.py)

    @property
    def breaches(self) -> int:
        return sum(i.breached for i in self.incidents)

    @property
    def quiet(self) -> bool:
        busy = self.incidents or self.still_open or self.handoffs or self.failures.total or self.drills
        return not (busy or self.follow_ups) and self.kept.empty

    def summary(self) -> str:
        """ "2 incidents (1 breached), 1 still open, 14 failure cases, 1 drill" (or "a quiet week")."""
        found = (self.incidents, self.breaches, self.still_open, self.handoffs, self.failures.total)
        return _summary(*found, len(self.drills), self.kept.parts())


@dataclass(frozen=True)
class Review:
    start: datetime
    end: datetime
    areas: tuple[AreaReview, ...]

    def area(self, key: str) -> AreaReview:
        return next(a for a in self.areas if a.area == key)

    def summary(self) -> str:
        """Across every area, one line."""
        return _summary(
            [i for a in self.areas for i in a.incidents],
            sum(a.breaches for a in self.areas),
            [i for a in self.areas for i in a.still_open],
            [h for a in self.areas for h in a.handoffs],
            sum(a.failures.total for a in self.areas),
            sum(len(a.drills) for a in self.areas),
            combined(a.kept for a in self.areas).parts(),
        )

    def markdown(self) -> str:
        """The review as Markdown, for `baton nudge review` (text as stored: masked)."""
        out = [
            f"# Weekly failure review, {_utc(self.start)} – {_utc(self.end)}",
            "",
            f"All areas: {self.summary()}.",
        ]
        for a in self.areas:
            out += ["", f"## {a.name} ({a.area}): {a.summary()}"]
            if a.quiet:
                continue
            out.append("")
            out.append(f"### This week: {_count(len(a.incidents), 'incident')}, {a.breaches} breached")
            out += [f"- {_incident_md(i)}" for i in a.incidents] or ["- none"]
            out += ["", "### Still open"]
            out += [f"- {_incident_md(i, since=True)}" for i in a.still_open] or ["- nothing"]
            out += ["", "### Unsigned handoffs"]
            out += [f"- {_handoff_md(h)}" for h in a.handoffs] or ["- none"]
            out += ["", f"### Failure cases from the product: {_failures_head(a.failures)}"]
            out += [f"- {e}" for e in a.failures.examples]
            out += a.kept.markdown(_utc)
            if a.drills:
                out += ["", f"### Drills (not counted above): {len(a.drills)}"]
                out += [f"- {d.line(_utc)}" for d in a.drills]
            out += _follow_ups_md(a)
        return "\n".join(out) + "\n"


def _follow_ups_md(a: AreaReview) -> list[str]:
    if not a.follow_ups:
        return []
    return [
        "",
        f"### Open follow-ups: {follow_ups.overdue_count(a.follow_ups)}",
        *(f"- {follow_ups.review_markdown(f)}" for f in a.follow_ups),
    ]


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _summary(
    incidents: Iterable[object],
    breaches: int,
    still_open: Iterable[object],
    handoffs: Iterable[object],
    cases: int,
    drills: int = 0,
    kept: list[str] | None = None,
) -> str:
    incidents, still_open, handoffs = list(incidents), list(still_open), list(handoffs)
    parts = []
    if incidents:
        parts.append(_count(len(incidents), "incident") + (f" ({breaches} breached)" if breaches else ""))
    if still_open:
        parts.append(f"{len(still_open)} still open")
    if handoffs:
        parts.append(_count(len(handoffs), "unsigned handoff"))
    if cases:
        parts.append(_count(cases, "failure case"))
    if drills:
        parts.append(_count(drills, "drill"))
    parts += kept or []
    return ", ".join(parts) if parts else "a quiet week"


def _utc(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


def _failures_head(f: Failures) -> str:
    return f"{f.total} ({kinds_text(f.counts)})" if f.total else "none"


def _incident_md(i: IncidentLine, *, since: bool = False) -> str:
    when = f"open since {_utc(i.declared_at)}" if since else f"declared {_utc(i.declared_at)}"
    title = " ".join(i.title.split())
    return f"#{i.number} {i.severity} {title} · {when} · {i.response()} · {i.state} · {i.evidence_text()}"


def _handoff_md(h: Handoff) -> str:
    waiting = ", ".join(ref for ref, _ in h.waiting_for) or "nobody"
    return (
        f"receipt #{h.receipt}: {h.role}, {h.from_ref} → {h.to_ref}, started {_utc(h.started_at)}; "
        f"waiting for {waiting}"
    )


# -- reading it --------------------------------------------------------------------------------


def review(baton: Baton, *, now: datetime | None = None) -> Review:
    """The 7 days up to `now` (default: the clock's now), per area of ownership.yaml (and any
    area no longer in it that still has something to show)."""
    end = now or baton.clock.now()
    start = end - WEEK
    with session(baton.engine) as s:
        week = _incidents(s, col(Incident.declared_at) > start, col(Incident.declared_at) <= end)
        still_open = _incidents(s, col(Incident.state) != "resolved")
        drills = between(s, start, end)
        kept = gather(s, start, end)
        receipts = list(
            s.exec(select(Receipt).where(col(Receipt.state) == "pending").order_by(col(Receipt.id))).all()
        )
        cases = list(
            s.exec(
                select(FailureCase)
                .where(col(FailureCase.received_at) > start, col(FailureCase.received_at) <= end)
                .order_by(col(FailureCase.received_at).desc(), col(FailureCase.id).desc())
            ).all()
        )
    opened = open_all(baton=baton, now=end)
    names = {key: a.name for key, a in baton.config.ownership.areas.items()}
    seen = [*(f.area for f in week + still_open), *(r.area for r in receipts), *(c.area for c in cases)]
    seen += [d.area for d in drills] + [f.incident.area for f in opened] + list(kept)
    keys = [*names, *dict.fromkeys(k for k in seen if k not in names)]
    areas = []
    for key in keys:
        mine = [c for c in cases if c.area == key]
        failures = Failures(
            counts=dict(Counter(c.kind for c in mine)),
            examples=tuple(example_line(c) for c in [c for c in mine if c.text][:EXAMPLES]),
        )
        areas.append(
            AreaReview(
                area=key,
                name=names.get(key, key),
                incidents=tuple(f.line for f in week if f.area == key),
                still_open=tuple(f.line for f in still_open if f.area == key),
                handoffs=tuple(_handoff(r) for r in receipts if r.area == key),
                failures=failures,
                drills=tuple(d for d in drills if d.area == key),
                follow_ups=tuple(f for f in opened if f.incident.area == key),
                kept=kept.get(key, Kept()),
            )
        )
    return Review(start, end, tuple(areas))


def _incidents(s: Session, *where: Any) -> list[_Found]:
    """Incidents only: drills are never counted with them."""
    found = select(Incident).where(col(Incident.drill).is_(False), *where)
    rows = list(s.exec(found.order_by(col(Incident.declared_at), col(Incident.id))).all())
    ids = [r.id for r in rows]
    counts: dict[int, int] = {}
    if ids:
        query = (
            select(Evidence.incident_id, func.count())
            .where(col(Evidence.incident_id).in_(ids))
            .group_by(col(Evidence.incident_id))
        )
        counts = {inc_id: n for inc_id, n in s.exec(query).all()}
    return [_Found(r.area, _line(r, counts.get(r.id or 0, 0))) for r in rows]


@dataclass(frozen=True)
class _Found:
    area: str
    line: IncidentLine


def _line(inc: Incident, evidence: int) -> IncidentLine:
    assert inc.id is not None
    started = inc.window_started_at or inc.declared_at
    took = inc.acknowledged_at - started if inc.acknowledged_at is not None else None
    return IncidentLine(
        number=inc.id,
        severity=inc.severity,
        title=inc.title,
        declared_at=inc.declared_at,
        state=inc.state,
        window=None if inc.backlog else inc.policy.response_time,
        time_to_ack=took,
        within=inc.ack_within_window,
        breached=inc.breached,
        evidence=evidence,
        channel=inc.channel_id,
    )


def _handoff(r: Receipt) -> Handoff:
    assert r.id is not None
    waiting: list[tuple[str, str | None]] = []
    if r.outgoing_signed_at is None:
        waiting.append((r.from_ref, r.from_user))
    if r.incoming_signed_at is None:
        waiting.append((r.to_ref, r.to_user))
    if r.peer_user and r.peer_signed_at is None:
        waiting.append((r.peer_user, r.peer_user))
    return Handoff(r.id, r.role, r.from_ref, r.to_ref, r.started_at, tuple(waiting))


# -- the posts -----------------------------------------------------------------------------------


def _who(ref: str, user: str | None) -> str:
    return f"<@{user}>" if user and USER_ID.fullmatch(user) else escape(ref)


def _incident_mrkdwn(i: IncidentLine, *, since: bool = False) -> str:
    when = f"open since {slack_time(i.declared_at)}" if since else f"declared {slack_time(i.declared_at)}"
    flag = ":red_circle: " if i.breached else ""
    title = escape(clip(" ".join(i.title.split()), 150))
    what = f"{i.response()} · {i.state} · {i.evidence_text()}"
    where = f" <#{i.channel}>" if i.channel else ""
    return f"• {flag}#{i.number}{where} {i.severity} {title} · {when} · {what}"


def _handoff_mrkdwn(h: Handoff) -> str:
    waiting = ", ".join(_who(ref, user) for ref, user in h.waiting_for) or "nobody"
    return (
        f"• Receipt #{h.receipt} ({escape(h.role)}, {escape(h.from_ref)} → {escape(h.to_ref)}), "
        f"started {slack_time(h.started_at)}: waiting for {waiting}"
    )


def message(found: Review, a: AreaReview) -> tuple[str, Blocks]:
    """One area's review: fallback text and Block Kit (everything the product or people typed
    escaped; the product's mentions shown as text)."""
    title = f"Weekly failure review · {a.name}"
    week = f"*This week*: {_count(len(a.incidents), 'incident')}, {a.breaches} breached"
    still = f"*Still open*: {len(a.still_open)}"
    handoffs = f"*Unsigned handoffs*: {len(a.handoffs)}"
    cases = f"*Failure cases from the product*: {escape(_failures_head(a.failures))}"
    if a.quiet:
        sections = ["A quiet week: no incidents, nothing open, no unsigned handoffs, no failure cases."]
    else:
        sections = [within([week, *(_incident_mrkdwn(i) for i in a.incidents)], SECTION)]
        if a.still_open:
            sections.append(
                within([still, *(_incident_mrkdwn(i, since=True) for i in a.still_open)], SECTION)
            )
        if a.handoffs:
            sections.append(within([handoffs, *(_handoff_mrkdwn(h) for h in a.handoffs)], SECTION))
        if a.failures.total:
            sections.append(within([cases, *(f"> {escape(e)}" for e in a.failures.examples)], SECTION))
        if a.drills:
            drills = f"*Drills* (not counted above): {len(a.drills)}"
            sections.append(within([drills, *(f"• {d.line(slack_time)}" for d in a.drills)], SECTION))
        if a.follow_ups:
            head = f"*Open follow-ups*: {follow_ups.overdue_count(a.follow_ups)}"
            sections.append(within([head, *(follow_ups.review_mrkdwn(f) for f in a.follow_ups)], SECTION))
        if not a.kept.empty:
            sections.append(within(a.kept.mrkdwn(slack_time), SECTION))
    period = f"{slack_time(found.start)} – {slack_time(found.end)}"
    note = f"Week {period} · all areas: {found.summary()} · `baton nudge review` prints it all"
    blocks: Blocks = [
        header(title),
        *(section(s) for s in sections),
        context(note),
    ]
    return f"{title}: {a.summary()}", blocks


def posts(baton: Baton, found: Review) -> list[Post]:
    """Each area of ownership.yaml's review, with where it goes (not sent: `run` queues them,
    `baton nudge review` posts them itself)."""
    out = []
    for a in found.areas:
        if a.area not in baton.config.ownership.areas:
            continue  # an area since removed from ownership.yaml: in the Markdown, nobody to send it to
        text, blocks = message(found, a)
        target, where, tell = destination(baton, a.area)
        out.append(Post(a.area, target, where, text, blocks, tell))
    return out


def digest(baton: Baton, *, now: datetime | None = None) -> list[Post]:
    """The review of the week up to `now`, as per-area posts."""
    return posts(baton, review(baton, now=now))


def run(baton: Baton) -> Review:
    """The scheduled `failure_review` nudge: the week's review, its posts queued for the ticker."""
    found = review(baton)
    queue(baton, posts(baton, found), what="the failure review")
    return found
