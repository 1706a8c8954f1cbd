"""The response window of one incident as plain data: who was paged at which second, who
acknowledged when, the ladder's step times (T/2, T) and whether the window was breached.

Read from the database alone (the incident row and its timeline), so `baton export --html`, a
drill's score card and its picture (bot/records/picture.py) all tell the same story. Seconds
count from the start of the incident's current window (`window_started_at`: the declaration, a
raise or a reopen that pages again); pages of an earlier window are left out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from bot.incidents.notes import handles
from bot.store.models import Incident, TimelineEvent


@dataclass(frozen=True)
class Mark:
    """One page that went out: its second from the window's start and its ladder step."""

    second: float
    step: int | None
    breach: bool  # the step at T, paged because nobody acknowledged


@dataclass(frozen=True)
class Person:
    """One row of the picture: a person paged at least once in this window."""

    user: str  # Slack user ID
    name: str  # the handle the policy snapshot (or `names`) gave; the user ID when none
    marks: tuple[Mark, ...]  # in time order


@dataclass(frozen=True)
class Ack:
    user: str
    name: str
    second: float  # from the window's start
    inside: bool | None  # within the window (None: the incident has no window)


@dataclass(frozen=True)
class StepTime:
    """One rung of the ladder as planned: T/2 and T are the usual ones after step 0."""

    index: int
    second: float  # the policy's `after`
    breach: bool
    label: str  # "0", "T/2", "T", or the time ("20m") when it is neither


@dataclass(frozen=True)
class Paging:
    """Who a step paged, and at which second."""

    user: str
    name: str
    second: float


@dataclass(frozen=True)
class StepSummary:
    """A step as it ran, for a score card: who it paged when, and the acknowledgement when it
    came while this step was the latest to have fired."""

    index: int
    planned: float  # seconds after the window's start
    breach: bool
    paged: tuple[Paging, ...]  # empty when the step never fired (acknowledged before it)
    acknowledged: Ack | None


@dataclass(frozen=True)
class ResponseWindow:
    """One incident's (current) response window."""

    number: int
    title: str  # masked when it was stored
    severity: str
    area: str
    state: str
    drill: bool
    started_at: datetime
    window: float | None  # T in seconds; None for a backlog level (nobody paged)
    steps: tuple[StepTime, ...]
    people: tuple[Person, ...]  # in the order they were first paged, then by name
    ack: Ack | None
    breached: bool
    breached_second: float | None
    summary: tuple[StepSummary, ...]

    @property
    def end(self) -> float:
        """The last second the picture must show: T, or a later page or acknowledgement."""
        seconds = [self.window or 0.0, *(s.second for s in self.steps)]
        seconds += [m.second for p in self.people for m in p.marks]
        if self.ack is not None:
            seconds.append(self.ack.second)
        if self.breached_second is not None:
            seconds.append(self.breached_second)
        return max(seconds) or 1.0


def read(s: Session, inc: Incident, *, names: Mapping[str, str] | None = None) -> ResponseWindow:
    """`inc`'s response window from session `s`. `names` (Slack user ID -> display name) adds to
    or overrides the handles of the incident's policy snapshot."""
    assert inc.id is not None
    events = s.exec(
        select(TimelineEvent)
        .where(col(TimelineEvent.incident_id) == inc.id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    ).all()
    shown = {**handles(inc.policy), **(names or {})}
    started = inc.window_started_at or inc.declared_at
    window = (inc.deadline - started).total_seconds() if inc.deadline is not None else None
    steps = tuple(_step_time(st.index, st.after, st.breach, window) for st in inc.policy.steps)
    breach_steps = {st.index for st in steps if st.breach}

    marks: dict[str, list[Mark]] = {}
    for e in events:
        if e.kind != "paged" or not e.data.get("user"):
            continue
        due = _due(e)
        if (due or e.at) < started:
            continue  # a page of an earlier window
        step = e.data.get("step")
        step = int(step) if step is not None else None
        mark = Mark(_since(started, e.at), step, step in breach_steps)
        marks.setdefault(str(e.data["user"]), []).append(mark)
    people = tuple(
        sorted(
            (Person(u, shown.get(u, u), tuple(m)) for u, m in marks.items()),
            key=lambda p: (p.marks[0].second, p.marks[0].step or 0, p.name, p.user),
        )
    )

    ack = None
    if inc.acknowledged_by and inc.acknowledged_at is not None and inc.acknowledged_at >= started:
        who = inc.acknowledged_by
        ack = Ack(who, shown.get(who, who), _since(started, inc.acknowledged_at), inc.ack_within_window)
    breaches = [e.at for e in events if e.kind == "breached" and e.at >= started]
    breached_second = _since(started, breaches[-1]) if inc.breached and breaches else None
    return ResponseWindow(
        number=inc.id,
        title=inc.title,
        severity=inc.severity,
        area=inc.area,
        state=inc.state,
        drill=inc.drill,
        started_at=started,
        window=window,
        steps=steps,
        people=people,
        ack=ack,
        breached=inc.breached,
        breached_second=breached_second,
        summary=_summary(steps, people, ack),
    )


def load(s: Session, number: int, *, names: Mapping[str, str] | None = None) -> ResponseWindow | None:
    """Incident `number`'s response window, or None when there is no such incident."""
    inc = s.get(Incident, number)
    return read(s, inc, names=names) if inc is not None else None


def _summary(
    steps: tuple[StepTime, ...], people: tuple[Person, ...], ack: Ack | None
) -> tuple[StepSummary, ...]:
    fired: dict[int, list[Paging]] = {}
    for p in people:
        for m in p.marks:
            if m.step is not None:
                fired.setdefault(m.step, []).append(Paging(p.user, p.name, m.second))
    # The acknowledgement belongs to the last step that had fired by then.
    answered = None
    if ack is not None:
        before = [
            st.index
            for st in steps
            if st.index in fired and min(x.second for x in fired[st.index]) <= ack.second
        ]
        answered = before[-1] if before else (steps[0].index if steps else None)
    return tuple(
        StepSummary(
            index=st.index,
            planned=st.second,
            breach=st.breach,
            paged=tuple(sorted(fired.get(st.index, []), key=lambda x: (x.second, x.name))),
            acknowledged=ack if st.index == answered else None,
        )
        for st in steps
    )


def _step_time(index: int, after: float, breach: bool, window: float | None) -> StepTime:
    if after == 0:
        label = "0"
    elif window and after == window:
        label = "T"
    elif window and after * 2 == window:
        label = "T/2"
    else:
        label = span(after)
    return StepTime(index, after, breach, label)


def span(seconds: float) -> str:
    """`45s`, `20m`, `1h`, `1h 30m`: a time on the picture's axis and in its labels."""
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec and not h else ""]
    return " ".join(p for p in parts if p) or "0s"


def _since(start: datetime, at: datetime) -> float:
    return round((at - start).total_seconds(), 3)


def _due(e: TimelineEvent) -> datetime | None:
    text = e.data.get("due_at")
    if not isinstance(text, str):
        return None
    ts = datetime.fromisoformat(text)
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
