"""The incident note: a Markdown summary with timeline, who was paged when, and time to
acknowledge against the window (posted on resolve; `/incident note`)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.config.durations import format_duration
from bot.store.models import Evidence, Incident, TimelineEvent


def _t(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts else "—"


def _who(user: str | None) -> str:
    return f"<@{user}>" if user and user != "baton" else (user or "—")


def incident_note(s: Session, inc: Incident) -> str:
    events = s.exec(
        select(TimelineEvent)
        .where(col(TimelineEvent.incident_id) == inc.id)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    ).all()
    policy = inc.policy
    lines = [
        f"# Incident #{inc.id}: {inc.title}",
        "",
        f"- Severity: {inc.severity} ({policy.get('level_name', '')})",
        f"- Area: {policy.get('area_name', inc.area)} ({inc.area})",
        f"- State: {inc.state}",
        f"- Declared: {_t(inc.declared_at)} by {_who(inc.declared_by)}",
        f"- Commander: {_who(inc.commander)}",
    ]
    if inc.deadline is not None:
        lines.append(f"- Response window: {policy.get('response_time')} (until {_t(inc.deadline)})")
    if inc.acknowledged_at is not None:
        took = format_duration(inc.acknowledged_at - inc.declared_at)
        verdict = "inside" if inc.ack_within_window else "outside"
        lines.append(
            f"- Acknowledged: {_t(inc.acknowledged_at)} by {_who(inc.acknowledged_by)}, "
            f"after {took} ({verdict} the window)"
        )
    else:
        lines.append("- Acknowledged: never")
    lines.append(f"- Window breached: {'yes' if inc.breached else 'no'}")
    if inc.resolved_at is not None:
        lines.append(f"- Resolved: {_t(inc.resolved_at)} by {_who(inc.resolved_by)}")
    if inc.summary:
        lines += ["", "## Summary", "", inc.summary]
    pages = [e for e in events if e.kind == "paged"]
    lines += ["", "## Who was paged when", ""]
    lines += [f"- {_t(e.at)} {_who(e.data.get('user'))} (step {e.data.get('step')})" for e in pages] or [
        "- nobody"
    ]
    evidence = s.exec(
        select(Evidence).where(col(Evidence.incident_id) == inc.id).order_by(col(Evidence.id))
    ).all()
    lines += ["", f"## Evidence ({len(evidence)})", ""]
    lines += [
        f"- {_t(e.at)} {_who(e.author)} {e.kind}: {e.text[:500]}" + (f" ({e.link})" if e.link else "")
        for e in evidence
    ] or ["- none"]
    lines += ["", "## Timeline", ""]
    lines += [f"- {_t(e.at)} {_who(e.actor)} {e.kind}: {e.text}" for e in events]
    return "\n".join(lines) + "\n"


def chunks(text: str, size: int) -> list[str]:
    """Split at line ends into pieces of at most `size` characters (Slack's block limits)."""
    out, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:  # a single very long line (a 3,000-character title)
            if current:
                out.append(current)
                current = ""
            cut = _cut(line, size)
            out.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) > size:
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return out


def _cut(line: str, size: int) -> int:
    """Where to cut a line longer than `size`: not inside an entity such as `&lt;`."""
    amp = line.rfind("&", max(0, size - 5), size)
    return amp if amp > 0 and line.find(";", amp, size) == -1 else size
