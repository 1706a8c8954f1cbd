"""Who hears what an incident's channel would have said, when there is no channel.

The reporter, first: but an incident Alertmanager, an SLO check or the product's feedback
declared has no person as its reporter ("alertmanager" is no Slack ID), and a reporter may have
left the workspace since. So what is owed goes to the first who can be reached of: the reporter
(a person), the commander, the area's accountable person, the responsible team's channel. One
that Slack refuses for good (no such user or channel, deactivated, Baton not in the channel) is
passed over for the next; only when all refuse is the job given up (and logged, counted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from bot.config.ownership import UnknownAreaError
from bot.incidents.messages import USER_ID
from bot.slack.chat import ChatError
from bot.store import delivery
from bot.store.models import Incident, Job
from bot.store.runtime import Baton

log = logging.getLogger(__name__)


def who_hears(baton: Baton, inc: Incident) -> list[str]:
    """Slack IDs to try in turn: the reporter (a person), the commander, the area's accountable
    person, the responsible team's channel."""
    own = baton.ownership
    found: list[str | None] = [inc.declared_by if USER_ID.fullmatch(inc.declared_by) else None, inc.commander]
    with suppress(UnknownAreaError):  # the area may have left ownership.yaml since
        found.append(own.user_id(own.raci(inc.area).accountable))
    team = baton.config.ownership.teams.get(str(inc.policy.get("team") or ""))
    found.append(team.channel if team is not None else None)
    out: list[str] = []
    for target in found:
        if target and target not in out:
            out.append(target)
    return out


def post_to_first(
    baton: Baton,
    job: Job,
    targets: Sequence[str],
    *,
    text: str,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> str:
    """Post to the first of `targets` Slack accepts (each at most once, see bot/store/delivery.py);
    whom it reached. A refusal for good passes to the next; a transient one is retried as the job."""
    if not targets:
        raise ChatError(
            "chat.postMessage", "nobody to tell: no reporter, commander, accountable or team channel", False
        )
    refused: ChatError | None = None
    for target in targets:
        try:
            delivery.post(baton, job, target, text=text, blocks=blocks, step=f"to:{target}")
            return target
        except ChatError as e:
            if e.retryable:
                raise
            log.warning(
                "job %s (%s): %s cannot be reached (%s); trying the next", job.id, job.kind, target, e.error
            )
            refused = e
    assert refused is not None
    raise refused
