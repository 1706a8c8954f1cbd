"""Modal submissions."""

from __future__ import annotations

from slack_bolt import App

from handlers.actions.handover import NOTE_VIEW
from handlers.listener import Listener
from handlers.render.incident import DECLARE_VIEW, EVIDENCE_VIEW, RESOLVE_VIEW
from handlers.views.handover import note_submitted
from handlers.views.incident import declare_submitted, evidence_submitted, resolve_submitted

# A submission is answered by its ack (done, or the form's errors), so the work is in it.
VIEWS = {
    DECLARE_VIEW: Listener(declare_submitted),
    RESOLVE_VIEW: Listener(resolve_submitted),
    EVIDENCE_VIEW: Listener(evidence_submitted),
    NOTE_VIEW: Listener(note_submitted),
}


def register(app: App) -> None:
    for callback_id, listener in VIEWS.items():
        listener.on(app.view, callback_id)
