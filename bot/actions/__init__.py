"""Actions: an area's webhooks, run for an incident only
once the approval their rule needs is given. requests.py asks for and decides the approval;
webhook.py calls an approved request's webhook; ending.py ends the requests nobody decided in
time, those of a resolved incident and those of an action whose config changed. Their job
handlers are merged here for the ticker (bot/app/runner.py)."""

from __future__ import annotations

from bot.actions import ending, requests, webhook

HANDLERS = {**ending.HANDLERS, **webhook.HANDLERS}

__all__ = ["HANDLERS", "ending", "requests", "webhook"]
