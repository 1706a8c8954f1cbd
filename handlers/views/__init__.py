"""Modal submissions."""

from __future__ import annotations

from slack_bolt import App

from handlers.render.incident import DECLARE_VIEW, EVIDENCE_VIEW, RESOLVE_VIEW
from handlers.views.incident import declare_submitted, evidence_submitted, resolve_submitted

VIEWS = {DECLARE_VIEW: declare_submitted, RESOLVE_VIEW: resolve_submitted, EVIDENCE_VIEW: evidence_submitted}


def register(app: App) -> None:
    for callback_id, listener in VIEWS.items():
        app.view(callback_id)(listener)
