"""/owner: who owns what."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.config.ownership import ROLES
from bot.oncall import overrides
from bot.oncall.overrides import OverrideError
from bot.readiness import drills
from bot.records import handoff_views, handoffs
from bot.records.handoffs import HandoffError
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.mrkdwn import unescape
from handlers.listener import baton_of
from handlers.render import owner as render

USAGE = (
    "Try `/owner` (every area), `/owner model-quality` (an area or alias), "
    "`/owner @maya` (what a person owns), `/owner handoff <area> @someone`, "
    "`/owner history <area>` or `/owner oncall <team> @someone <duration> [note]`."
)


def owner_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    baton.metrics.requests.labels(kind="/owner").inc()
    text = unescape(command.get("text") or "").strip()  # notes kept as typed, not Slack-escaped
    try:
        ack(**reply_for(baton, text, user=command["user_id"]))
    except Refused as e:
        ack(**render.error(str(e)))


def reply_for(baton: Baton, text: str, *, user: str) -> dict[str, Any]:
    """The ephemeral answer to `/owner <text>`; fast enough to go back in the ack itself."""
    own = baton.ownership
    if not text:
        return render.area_list(own)
    first = text.split()[0].lower()
    if first == "handoff":
        return handoff(baton, text.split()[1:], user=user)
    if first == "oncall":
        return oncall(baton, text.split()[1:], user=user)
    if first == "history":
        key = _area(baton, " ".join(text.split()[1:]), example="/owner history model-quality")
        return render.history(own, key, handoffs.history(baton=baton, area=key))
    if text.startswith(("<@", "@")):
        return render.person_card(own, own.person_named(text.split()[0], then=USAGE))
    area = own.area(text)
    if area is not None:
        return render.area_card(
            own,
            area,
            handoff_views.card(baton=baton, area=area),
            oncall=overrides.oncall_for_area(baton=baton, area=area),
            rehearsal=drills.rehearsal(baton=baton, area=area),
        )
    unknown = own.unknown_area(text)
    hint = unknown.guess
    if hint is not None:
        return render.error(
            f"{unknown} Showing it below.",
            then=render.area_card(
                own,
                hint,
                handoff_views.card(baton=baton, area=hint),
                oncall=overrides.oncall_for_area(baton=baton, area=hint),
                rehearsal=drills.rehearsal(baton=baton, area=hint),
            ),
        )
    return render.error(f"{unknown} {USAGE}")


HANDOFF_USAGE = (
    "`/owner handoff <area> [accountable|responsible|oncall] @new [peer @someone] [note]`, "
    f"e.g. `{handoffs.EXAMPLE}`"
)


def _area(baton: Baton, text: str, *, example: str) -> str:
    return baton.ownership.area_named(text, then=f"e.g. `{example}`")


def handoff(baton: Baton, words: list[str], *, user: str) -> dict[str, Any]:
    """`/owner handoff <area> [role] @new [peer @someone] [note]`."""
    own = baton.ownership
    if not words:
        raise HandoffError(f"Say which area and to whom: {HANDOFF_USAGE}")
    area = _area(baton, words[0], example=handoffs.EXAMPLE)
    rest = words[1:]
    role = "accountable"
    if rest and rest[0].lower() in ROLES:
        role, rest = rest[0].lower(), rest[1:]
    if not rest:
        raise HandoffError(f"Name the new owner as @someone: {HANDOFF_USAGE}")
    to = own.person_named(rest[0], then=HANDOFF_USAGE)
    rest = rest[1:]
    peer = None
    if len(rest) >= 2 and rest[0].lower() == "peer":
        peer = own.person_named(rest[1], then="Name the peer as @someone.")
        rest = rest[2:]
    receipt = handoffs.start(
        baton=baton, area=area, role=role, to=to, peer=peer, note=" ".join(rest), user=user
    )
    return render.handoff_started(own, receipt)


ONCALL_USAGE = f"{overrides.USAGE}, e.g. `{overrides.EXAMPLE}`"


def oncall(baton: Baton, words: list[str], *, user: str) -> dict[str, Any]:
    """`/owner oncall <team> @someone <duration> [note]`; a team's name may have spaces."""
    if len(words) < 3:
        raise OverrideError(f"Say which team, who and for how long: {ONCALL_USAGE}")
    # The team ends where the person starts: the first @mention after it (else the second word).
    at = next((i for i, w in enumerate(words) if i > 0 and w.startswith(("<@", "@"))), 1)
    if len(words) < at + 2:
        raise OverrideError(f"Say for how long (30m, 4h, 2d, 1w): {ONCALL_USAGE}")
    row = overrides.add(
        baton=baton,
        team=" ".join(words[:at]),
        who=words[at],
        duration=words[at + 1],
        note=" ".join(words[at + 2 :]),
        user=user,
    )
    return render.oncall_added(baton.ownership, row)
