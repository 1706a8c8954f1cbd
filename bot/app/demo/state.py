"""What the demo's page shows: the stand-in's workspace and the escalation steps Baton keeps.

The workspace is read from the stand-in (channels, DMs, ephemeral messages, open modals); the
steps from Baton's database, read-only, as `baton export` reads it. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from bot.store.db import normalize_url
from bot.store.models import Incident, Job

# The newest messages of a conversation the page shows (a long demo keeps the page light).
KEEP = 150
# Incidents whose steps the page lists, newest first.
INCIDENTS = 8
# A PNG's first eight bytes: only a file that starts so is served (and shown) as an image.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_png(content: bytes) -> bool:
    return content.startswith(PNG_SIGNATURE)


def read_only_engine(db_url: str) -> Engine:
    """An engine that cannot write: SQLite opened with mode=ro; PostgreSQL in read-only sessions."""
    url = make_url(normalize_url(db_url))
    if url.get_backend_name() == "sqlite" and url.database:
        return create_engine(f"sqlite:///file:{url.database}?mode=ro&uri=true")
    # Kept: options the URL gives already (a search_path, say).
    given = url.query.get("options", "")
    options = " ".join(
        [*(given if isinstance(given, tuple) else (given,)), "-c default_transaction_read_only=on"]
    )
    return create_engine(url.difference_update_query(["options"]), connect_args={"options": options.strip()})


def message(raw: dict[str, Any], content: Callable[[str], bytes | None] | None = None) -> dict[str, Any]:
    """The fields of a message the page renders; a shared file as its id, title and whether it
    is a PNG (`content` gives a shared file's bytes, the page loads them from /files/<id>)."""
    out: dict[str, Any] = {
        k: raw[k] for k in ("ts", "user", "text", "blocks", "thread_ts", "edited") if k in raw
    }
    out.setdefault("user", raw.get("bot_id") and "UBATONBOT")
    files = []
    for f in raw.get("files") or []:
        body = content(str(f.get("id"))) if content is not None else None
        if body is not None:
            title = str(f.get("title") or f.get("name") or "")
            files.append({"id": f["id"], "title": title, "image": is_png(body)})
    if files:
        out["files"] = files
    return out


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _grouped(ladder: list[Job]) -> list[dict[str, Any]]:
    """One line per step of the ladder (a step pages several people, one job each)."""
    groups: dict[tuple[str, int | None, str | None], list[str]] = {}
    for job in ladder:
        groups.setdefault((job.kind, job.step, _iso(job.due_at)), []).append(job.state)
    out = []
    for (kind, step, due), states in groups.items():
        if "pending" in states or "running" in states:
            summary = "pending"
        elif all(s == "cancelled" for s in states):
            summary = "cancelled"
        else:
            summary = "done" if "done" in states else states[0]
        out.append({"kind": kind, "step": step, "due_at": due, "state": summary, "jobs": len(states)})
    return out


def steps(engine: Engine) -> list[dict[str, Any]]:
    """The latest incidents with their ladder: each page and the breach, its due time and state."""
    with Session(engine) as s:
        incidents = s.exec(select(Incident).order_by(col(Incident.id).desc()).limit(INCIDENTS)).all()
        ids = [i.id for i in incidents]
        ladder = s.exec(
            select(Job).where(col(Job.incident_id).in_(ids), col(Job.ladder)).order_by(col(Job.due_at))
        ).all()
    out = []
    for inc in incidents:
        out.append(
            {
                "id": inc.id,
                "title": inc.title,
                "severity": inc.severity,
                "area": inc.area,
                "state": inc.state,
                "channel": inc.channel_id,
                "declared_at": _iso(inc.declared_at),
                "deadline": _iso(inc.deadline),
                "acknowledged_at": _iso(inc.acknowledged_at),
                "steps": _grouped([j for j in ladder if j.incident_id == inc.id]),
            }
        )
    return out
