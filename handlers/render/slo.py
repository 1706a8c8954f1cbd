"""Block Kit for /slo answers: an area's SLIs now, or which areas have any."""

from __future__ import annotations

from typing import Any

from bot.monitoring import slo
from bot.store.clock import slack_time
from bot.store.runtime import Baton
from bot.text.blocks import Block, context, header, section

USAGE = "Try `/slo model-quality` (an area or alias), or `/slo` for the areas that have SLOs."


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def error(text: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    out = message(f":warning: {text}", [section(f":warning: {text}")])
    if then is not None:
        out["text"] += "\n" + then["text"]
        out["blocks"] += then["blocks"]
    return out


def area_list(baton: Baton) -> dict[str, Any]:
    """Every area: its SLIs, or that it has none."""
    lines = []
    for key, area in baton.config.ownership.areas.items():
        names = ", ".join(sli for sli, _, _ in slo.slis(baton, key))
        lines.append(f"*{area.name}* (`{key}`): {names or '_no slo_queries_'}")
    blocks: list[Block] = [
        header("SLOs by area"),
        section("\n".join(lines)),
        context("`/slo <area>` for its SLIs against their objectives now"),
    ]
    return message("SLOs by area: " + "; ".join(lines), blocks)


def no_queries(baton: Baton, area: str) -> dict[str, Any]:
    name = baton.config.ownership.areas[area].name
    return error(
        f"{name} (`{area}`) has no SLOs: add PromQL per SLI under `areas.{area}.slo_queries` in "
        'ownership.yaml (e.g. `success_rate: sum(rate(llm_requests_total{code=~"2.."}[5m])) / '
        "sum(rate(llm_requests_total[5m]))`)."
    )


def report(report: slo.Report) -> dict[str, Any]:
    """The area's SLIs now, one line each."""
    note = f"Measured {slack_time(report.at)} · the SLO digest declares an incident for an SLI past alert"
    if report.problem is not None:
        note = "Nothing was measured"
    text, blocks = slo.message(report, title=f"SLOs · {report.name}", note=note)
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}
