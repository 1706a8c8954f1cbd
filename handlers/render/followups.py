"""Block Kit for `/incident follow-ups`: one section per follow-up, with a Done button on the
open ones (the button's value is the follow-up's id)."""

from __future__ import annotations

from typing import Any

from bot.followups import messages
from bot.incidents import messages as incident_messages
from bot.store.models import FollowUp, Incident
from bot.text.blocks import button, context, section

# Slack allows 50 blocks in a message: the title, 45 follow-ups, and a line for the rest.
MAX_LISTED = 45


def listing(inc: Incident, found: list[FollowUp], *, notice: str | None = None) -> dict[str, Any]:
    """The incident's follow-ups, open ones first; `notice` (mrkdwn Baton wrote) on top."""
    title = f"*Follow-ups of #{inc.id}* {incident_messages.title(inc, 100)}"
    blocks = [section(notice)] if notice else []
    if not found:
        text = (
            f"{title}\nNone yet. Add one: `/incident follow-up <what is to be done> [@owner]` "
            f"(from elsewhere: `/incident follow-up #{inc.id} …`)."
        )
        return {"response_type": "ephemeral", "text": text, "blocks": [*blocks, section(text)]}
    blocks.append(section(title))
    ordered = sorted(found, key=lambda f: (f.state != "open", f.created_at, f.id or 0))
    for fu in ordered[:MAX_LISTED]:
        done = None
        if fu.state == "open":
            done = button("Done", messages.DONE, str(fu.id), style="primary")
        blocks.append(section(messages.line(fu), block_id=f"follow-up-{fu.id}", accessory=done))
    if len(ordered) > MAX_LISTED:
        more = len(ordered) - MAX_LISTED
        blocks.append(context(f"and {more} more: `baton export {inc.id}` lists them all"))
    still = sum(f.state == "open" for f in found)
    return {
        "response_type": "ephemeral",
        "text": f"Follow-ups of #{inc.id}: {still} open, {len(found) - still} done",
        "blocks": blocks,
    }
