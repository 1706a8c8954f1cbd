"""Actions (PRODUCT.md "The operating boundary"): an area's webhooks, run for an incident only
once the approval their rule needs is given. requests.py asks for and decides the approval and
expires what nobody decided; webhook.py calls an approved request's webhook. Their job handlers
are merged here for the ticker (bot/app/runner.py)."""

from __future__ import annotations

from bot.actions import requests, webhook

HANDLERS = {**requests.HANDLERS, **webhook.HANDLERS}
