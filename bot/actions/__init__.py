"""Actions (PRODUCT.md "The operating boundary"): an area's webhooks, run for an incident only
once the approval their rule needs is given. requests.py asks for and decides the approval and
expires what nobody decided; the job handlers of the package are merged here for the ticker."""

from __future__ import annotations

from bot.actions import requests

HANDLERS = {**requests.HANDLERS}
