"""/owner: who owns what (PRODUCT.md §2)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.store.runtime import Baton
from handlers.render import owner as render

USAGE = (
    "Try `/owner` (every area), `/owner model-quality` (an area or alias), "
    "or `/owner @maya` (what a person owns)."
)


def owner_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    baton: Baton = context["baton"]
    baton.metrics.requests.labels(kind="/owner").inc()
    ack(**reply_for(baton, (command.get("text") or "").strip()))


def reply_for(baton: Baton, text: str) -> dict[str, Any]:
    """The ephemeral answer to `/owner <text>`; fast enough to go back in the ack itself."""
    own = baton.ownership
    if not text:
        return render.area_list(own)
    first = text.split()[0].lower()
    if first in ("handoff", "history"):
        return render.error(f"`/owner {first}` is not available in this version of Baton yet. {USAGE}")
    if text.startswith(("<@", "@")):
        person = own.person_from_text(text.split()[0])
        if person is None:
            return render.error(f"I don't know who {text.split()[0]!r} is: not in ownership.yaml. {USAGE}")
        return render.person_card(own, person)
    area = own.area(text)
    if area is not None:
        return render.area_card(own, area)
    hint = own.suggest_area(text)
    if hint is not None:
        return render.error(
            f"There is no area `{text}`. Did you mean `{hint}`? Showing it below.",
            then=render.area_card(own, hint),
        )
    areas = ", ".join(f"`{key}`" for key in baton.config.ownership.areas)
    return render.error(f"There is no area `{text}`. Areas: {areas}. {USAGE}")
