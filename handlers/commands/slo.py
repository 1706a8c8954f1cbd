"""/slo <area>: the area's SLIs against their objectives, now.

Prometheus may be slow, so the ack goes back at once (Slack's 3 seconds) and the answer follows
through respond(), from a lazy function (handlers/listener.py), within slo.ANSWER_BUDGET seconds.
Answers that need no query (the area list, an unknown area, no PROMETHEUS_URL) go back in the
ack itself.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.monitoring import slo
from bot.store.runtime import Baton
from handlers.listener import Listener, baton_of
from handlers.render import slo as render

log = logging.getLogger(__name__)


def slo_command(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    baton.metrics.requests.labels(kind="/slo").inc()
    found = pick(baton, (command.get("text") or "").strip())
    if isinstance(found, dict):
        ack(**found)
    else:
        ack()  # the measurement follows in slo_measured


def slo_measured(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """After the answer: query Prometheus and respond(), unless the ack was the whole answer."""
    baton = baton_of(context)
    found = pick(baton, (command.get("text") or "").strip())  # config only: cheap to ask again
    if isinstance(found, dict):
        return
    area, note = found
    try:
        answer = measured(baton, area)
    except Exception as e:  # the person asked: they hear that it failed, not silence
        log.exception("/slo %s failed", area)
        answer = render.error(
            f"Could not measure `{area}` ({type(e).__name__}); try again, or see Baton's log."
        )
    if note:
        answer = render.error(note, then=answer)
    respond(**answer)


def pick(baton: Baton, text: str) -> tuple[str, str] | dict[str, Any]:
    """(the area to measure, a note for above its answer), or the whole answer when no query is
    needed (the area list, an unknown area, an area without SLOs, no PROMETHEUS_URL)."""
    own = baton.ownership
    if not text:
        return render.area_list(baton)
    area, note = own.area(text), ""
    if area is None:
        unknown = own.unknown_area(text)
        if unknown.guess is None:
            return render.error(f"{unknown} {render.USAGE}")
        area, note = unknown.guess, f"{unknown} Showing it below."
    if not slo.slis(baton, area):
        return render.no_queries(baton, area)
    if not baton.settings.prometheus_url:
        return render.error(f"Cannot measure `{area}`: {slo.SET_URL}.")
    return area, note


def measured(baton: Baton, area: str) -> dict[str, Any]:
    """The area's SLIs now (queries within slo.ANSWER_BUDGET), with any incident open for one."""
    with slo.prometheus(baton, budget=slo.ANSWER_BUDGET) as client:
        report = slo.measure(baton, area, client)
    return render.report(slo.with_open_incidents(baton, report))


LISTENERS = (Listener(slo_command, lazy=[slo_measured]),)
