"""Evidence drafts: a message picked with the "Add to incident evidence" shortcut outside an
incident channel, kept here while its author chooses the incident in a modal.

The modal carries only the draft's id: a message may be far longer than the 3,000 characters
of a modal's private_metadata, and the text is masked before it is stored, like evidence.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col

from bot.store.db import session
from bot.store.models import EvidenceDraft
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.masking import mask

#: Drafts older than this are deleted (whenever a new one is saved): a modal left open that long
#: was abandoned.
KEEP = timedelta(days=1)


class DraftError(Refused):
    """The draft cannot be used; the message says why and what to do."""


def save(
    *,
    baton: Baton,
    user: str,
    channel: str,
    ts: str,
    message_author: str | None,
    text: str,
    link: str | None = None,
) -> str:
    """Keep the picked message (masked) and its permalink for `user`; returns the draft's id for
    the modal."""
    now = baton.clock.now()
    draft = EvidenceDraft(
        id=secrets.token_hex(16),  # unguessable: the id is all a submission brings back
        created_at=now,
        user=user,
        channel=channel,
        ts=ts,
        message_author=message_author,
        text=mask(text).text,
        link=link,
    )
    with session(baton.engine) as s:
        s.execute(delete(EvidenceDraft).where(col(EvidenceDraft.created_at) < now - KEEP))
        s.add(draft)
        s.commit()
    return draft.id


def get(*, baton: Baton, draft_id: str, user: str) -> EvidenceDraft:
    """The draft `user` saved under `draft_id`; DraftError if it is gone or someone else's."""
    with session(baton.engine) as s:
        draft = s.get(EvidenceDraft, draft_id) if draft_id else None
    if draft is None:
        raise DraftError(
            "This message is no longer kept (drafts last a day): use Add to incident evidence on it again."
        )
    if draft.user != user:
        raise DraftError(
            "This message was picked by someone else: use Add to incident evidence on it yourself."
        )
    return draft


def discard(*, baton: Baton, draft_id: str) -> None:
    """Forget a draft once its message is in the evidence."""
    with session(baton.engine) as s:
        s.execute(delete(EvidenceDraft).where(col(EvidenceDraft.id) == draft_id))
        s.commit()
