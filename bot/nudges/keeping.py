"""What the weekly review (bot/nudges/review.py) says of keeping people told and following
through, per area: the status updates that were due and missed (the update cadence's posts,
bot/incidents/cadence.py), the reviews overdue and the reviews done this week
(bot/incidents/reviews.py). Drills are left out of every figure here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.incidents.cadence import missed
from bot.store.models import Incident
from bot.text.mrkdwn import clip, escape


@dataclass(frozen=True)
class ReviewLine:
    number: int
    severity: str
    title: str  # masked when it was stored
    due_at: datetime
    reviewed_at: datetime | None = None
    link: str | None = None

    def text(self, when: Callable[[datetime], str], *, slack: bool = False) -> str:
        title = " ".join(self.title.split())
        title = escape(clip(title, 150)) if slack else title
        head = f"#{self.number} {self.severity} {title}"
        if self.reviewed_at is None:
            return f"{head} · due {when(self.due_at)}"
        link = escape(self.link or "") if slack else (self.link or "")
        return f"{head} · reviewed {when(self.reviewed_at)}: {link}"


@dataclass(frozen=True)
class Kept:
    missed_updates: int = 0  # "status update due" posts this week
    overdue: tuple[ReviewLine, ...] = ()  # reviews past their due date, not recorded
    reviewed: tuple[ReviewLine, ...] = ()  # reviews recorded this week

    @property
    def empty(self) -> bool:
        return not (self.missed_updates or self.overdue or self.reviewed)

    def parts(self) -> list[str]:
        """For the summary line: "3 missed status updates, 1 review overdue"."""
        out = []
        if self.missed_updates:
            out.append(f"{self.missed_updates} missed status update{'' if self.missed_updates == 1 else 's'}")
        if self.overdue:
            out.append(f"{len(self.overdue)} review{'' if len(self.overdue) == 1 else 's'} overdue")
        if self.reviewed:
            out.append(f"{len(self.reviewed)} review{'' if len(self.reviewed) == 1 else 's'} done")
        return out

    def markdown(self, when: Callable[[datetime], str]) -> list[str]:
        if self.empty:
            return []
        return [
            "",
            f"### Keeping people told: {self.missed_updates} missed status updates",
            "",
            f"### Reviews overdue: {len(self.overdue)}",
            *([f"- {r.text(when)}" for r in self.overdue] or ["- none"]),
            "",
            f"### Reviews done: {len(self.reviewed)}",
            *([f"- {r.text(when)}" for r in self.reviewed] or ["- none"]),
        ]

    def mrkdwn(self, when: Callable[[datetime], str]) -> list[str]:
        """The lines of its Slack section (empty: no section)."""
        if self.empty:
            return []
        return [
            f"*Missed status updates*: {self.missed_updates}",
            f"*Reviews overdue*: {len(self.overdue)}",
            *(f"• {r.text(when, slack=True)}" for r in self.overdue),
            f"*Reviews done*: {len(self.reviewed)}",
            *(f"• {r.text(when, slack=True)}" for r in self.reviewed),
        ]


def combined(kept: Iterable[Kept]) -> Kept:
    found = list(kept)
    return Kept(
        sum(k.missed_updates for k in found),
        tuple(r for k in found for r in k.overdue),
        tuple(r for k in found for r in k.reviewed),
    )


def _line(inc: Incident) -> ReviewLine:
    assert inc.id is not None and inc.review_due_at is not None
    return ReviewLine(inc.id, inc.severity, inc.title, inc.review_due_at, inc.reviewed_at, inc.review_link)


def gather(s: Session, start: datetime, end: datetime) -> dict[str, Kept]:
    """Per area (incidents only, never drills), as of `end`."""
    misses = missed(s, start, end)
    rows = s.exec(
        select(Incident)
        .where(col(Incident.drill).is_(False), col(Incident.review_due_at).is_not(None))
        .where(
            (col(Incident.reviewed_at).is_(None) & (col(Incident.review_due_at) <= end))
            | ((col(Incident.reviewed_at) > start) & (col(Incident.reviewed_at) <= end))
        )
        .order_by(col(Incident.review_due_at), col(Incident.id))
    ).all()
    overdue = [r for r in rows if r.reviewed_at is None and r.state == "resolved"]
    done = [r for r in rows if r.reviewed_at is not None]
    areas = dict.fromkeys([*misses, *(r.area for r in overdue), *(r.area for r in done)])
    return {
        area: Kept(
            misses.get(area, 0),
            tuple(_line(r) for r in overdue if r.area == area),
            tuple(_line(r) for r in done if r.area == area),
        )
        for area in areas
    }
