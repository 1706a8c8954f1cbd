"""Evidence: what shows what happened, kept with the incident, PII and secrets masked first.

It arrives from `/incident evidence <text or link>`, from the "Add to incident evidence"
message shortcut and from a :pushpin: reaction on a message in an incident channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.incidents import messages
from bot.incidents.errors import IncidentError
from bot.incidents.paging import timeline
from bot.incidents.rooms import post
from bot.records import chain
from bot.records.seal import SealError
from bot.store.db import session
from bot.store.models import Evidence, Incident
from bot.store.runtime import Baton
from bot.text.masking import hidden, mask

# Slack sends links in command text as <https://…> or <https://…|label>.
_LINK = re.compile(r"^<?(https?://[^\s|>]+)(?:\|[^>]*)?>?$")
MAX_TEXT = 40_000  # Slack's own limit on a message's text: a message is kept whole


@dataclass(frozen=True)
class Added:
    evidence: Evidence
    already: bool  # the same Slack message was added before; nothing changed


def add(
    *,
    baton: Baton,
    number: int,
    author: str,
    text: str,
    link: str | None = None,
    source_channel: str | None = None,
    source_ts: str | None = None,
    message_author: str | None = None,
    kind: str | None = None,
) -> Added:
    """Record one piece of evidence (masked), put it on the timeline and say so in the channel.

    A Slack message (or another source, such as an alert) is kept once per incident: its
    source_channel and source_ts identify it."""
    text = text.strip()
    match = _LINK.match(text) if link is None and source_ts is None else None
    if match:
        link, text = match.group(1), match.group(1)
    if not text and not link:
        raise IncidentError(
            "Say what the evidence is, e.g. `/incident evidence https://grafana.example.com/d/llm` "
            "or `/incident evidence refusal rate 12% since 14:05`"
        )
    masked = mask(text[:MAX_TEXT])
    counts = hidden(masked.text)  # also what a draft had masked before it got here
    kind = kind or ("message" if source_ts else ("link" if match else "text"))
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = s.get(Incident, number)
        if inc is None:
            raise IncidentError(f"There is no incident #{number}. `/incident list` shows the open ones.")
        if source_ts is not None:
            existing = s.exec(
                select(Evidence).where(
                    col(Evidence.incident_id) == number,
                    col(Evidence.source_channel) == source_channel,
                    col(Evidence.source_ts) == source_ts,
                )
            ).first()
            if existing is not None:
                return Added(existing, already=True)
        row = Evidence(
            incident_id=number,
            at=now,
            author=author,
            kind=kind,
            text=masked.text,
            link=mask(link).text if link else None,
            source_channel=source_channel,
            source_ts=source_ts,
            message_author=message_author,
            masked=counts,
        )
        # The next link of the incident's evidence chain: the head stays locked until commit, so
        # two items added at once (threads, replicas) take turns instead of forking the chain.
        try:
            chain.append_evidence(s, row)
        except SealError as e:
            raise IncidentError(f"Nothing was added to #{number}'s evidence: {e}. Tell an admin.") from None
        s.add(row)
        n_hidden = sum(counts.values())
        note = f" ({n_hidden} item{'s' if n_hidden != 1 else ''} masked)" if n_hidden else ""
        timeline(s, number, at=now, actor=author, kind="evidence", text=f"{kind}: {masked.text[:300]}{note}")
        said = messages.evidence_added(
            author, text=masked.text, link=row.link if kind in ("message", "alert") else None, masked=n_hidden
        )
        post(s, inc, now=now, text=said)
        try:
            s.commit()
        except IntegrityError:  # the same message, added twice at once: the first one stands
            s.rollback()
            return Added(_by_source(baton, number, source_channel, source_ts), already=True)
    baton.wake()
    return Added(row, already=False)


def _by_source(baton: Baton, number: int, channel: str | None, ts: str | None) -> Evidence:
    with session(baton.engine) as s:
        row = s.exec(
            select(Evidence).where(
                col(Evidence.incident_id) == number,
                col(Evidence.source_channel) == channel,
                col(Evidence.source_ts) == ts,
            )
        ).one()
        return row
