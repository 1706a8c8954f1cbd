"""Slack payloads for /readiness answers and the tick button (the blocks come from
bot/readiness/messages.py, which the nudge shares)."""

from __future__ import annotations

from typing import Any

from bot.readiness import messages
from bot.readiness.checklist import Readiness
from bot.readiness.drills import Rehearsal
from bot.readiness.services import Checked, Unchecked
from bot.store.clock import slack_time
from bot.text.blocks import section
from bot.text.mrkdwn import escape

USAGE = (
    "Try `/readiness` (every area), `/readiness model-quality` (an area or alias), "
    "`/readiness model-quality check dashboard [link]` or `/readiness model-quality uncheck dashboard`."
)


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def error(text: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    out = message(f":warning: {text}", [section(f":warning: {text}")])
    if then is not None:
        out["text"] += "\n" + then["text"]
        out["blocks"] += then["blocks"]
    return out


def area_list(rows: list[tuple[str, str, Readiness]]) -> dict[str, Any]:
    return message(*messages.area_list(rows))


def rehearsed(found: Rehearsal) -> str:
    """ ":repeat: rehearsed: drill #12 acknowledged in 4m of 1h on <date>" (or no drill in 90 days)."""
    return f":repeat: {found.text(slack_time)}" if found.last else f":grey_question: {found.text(slack_time)}"


def view(name: str, r: Readiness, last: Rehearsal, *, note: str | None = None) -> dict[str, Any]:
    return message(*messages.area_view(name, r, note=note, rehearsed=rehearsed(last)))


def checked(name: str, done: Checked, last: Rehearsal) -> dict[str, Any]:
    """The area after a tick, with what the tick did above it."""
    it = done.item
    if done.proven is not None:
        why = escape(done.proven)
        note = f":information_source: *{it.title}* `{it.key}` is ticked by Baton: {why}. Nothing to tick."
    elif done.already is not None:
        was = done.already
        note = (
            f":information_source: *{it.title}* `{it.key}` was ticked already, by <@{was.by}> "
            f"{slack_time(was.at)}; nothing changed."
        )
    else:
        replaced = done.replaced.by if done.replaced else None
        note = messages.checked_note(
            title=it.title, key=it.key, by=done.by, replaced_by=replaced, masked=done.masked
        )
    return view(name, done.readiness, last, note=note)


def unchecked(name: str, done: Unchecked, last: Rehearsal) -> dict[str, Any]:
    it = done.item
    if done.was is None:
        note = f":information_source: *{it.title}* `{it.key}` was not ticked; nothing changed."
    else:
        note = (
            f":white_large_square: *{it.title}* `{it.key}` unticked (it was ticked by <@{done.was.by}> "
            f"{slack_time(done.was.at)})."
        )
    return view(name, done.readiness, last, note=note)
