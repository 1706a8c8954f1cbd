"""What a request was asked under, and whether the config still says it.

Approvers are fixed when a request is made; so is what they approve. The request keeps the
action's rule (`approval`), which parameters its webhook gets masked (`masked`) and a digest of its
URL (`url_digest`): the URL itself may carry a token and is never stored. Should ownership.yaml
say something else when someone decides, or when Baton is about to call the webhook, what was
approved is not what would run: the request is not approved, or not called (bot/actions/ending.py).
The title is only a label and may change freely.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from bot.config.models import ActionSpec
from bot.store.models import ActionRequest
from bot.store.runtime import Baton


def url_digest(url: str, *, salt: str) -> str:
    """The URL's HMAC-SHA256 keyed by the request's own idempotency key: it tells the same URL
    from another without keeping it, and two requests' digests of one URL differ."""
    return hmac.new(salt.encode(), url.encode(), hashlib.sha256).hexdigest()


def taken(spec: ActionSpec, *, key: str) -> dict[str, Any]:
    """The snapshot's fields for a new request (with idempotency key `key`)."""
    return {
        "approval": spec.approval,
        "masked": spec.masked,
        "url_digest": url_digest(str(spec.url), salt=key),
    }


def spec_of(baton: Baton, req: ActionRequest) -> ActionSpec | None:
    """The request's action as the running config has it; None if gone."""
    area = baton.config.ownership.areas.get(req.area)
    return area.actions.get(req.action) if area is not None else None


def changed(req: ActionRequest, spec: ActionSpec | None) -> str | None:
    """What about the action differs from when it was asked (a phrase), or None. Rows made
    before the URL was kept (url_digest NULL) are compared on their rule and params."""
    if spec is None:
        return f"the action is no longer in ownership.yaml (under areas.{req.area}.actions)"
    what: list[str] = []
    if spec.approval != req.approval:
        what.append(f"its approval rule ({req.approval} → {spec.approval})")
    if spec.names != list(req.params) or spec.masked != list(req.masked):
        what.append("its parameters")
    if req.url_digest is not None and not hmac.compare_digest(
        req.url_digest, url_digest(str(spec.url), salt=req.idempotency_key)
    ):
        what.append("its url")
    if not what:
        return None
    return f"{' and '.join(what)} changed in ownership.yaml since it was asked"
