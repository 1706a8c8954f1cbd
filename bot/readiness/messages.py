"""Block Kit for readiness: an area's two checklists (with tick buttons), every area's scores,
and the nudge to an area's owners. Plain data in, (fallback text, blocks) out.

Links people gave are shown as escaped text (Slack still turns a bare URL into a link whose
target reads as written), never as `<url|label>`: a tick cannot disguise where it points.
One area's view is 22 blocks; Slack's limit is 50.
"""

from __future__ import annotations

from typing import Any

from bot.readiness.checklist import ORGANIZATION, PRODUCTION, ItemState, Readiness
from bot.store.clock import slack_time
from bot.text.blocks import button, context, header, section
from bot.text.mrkdwn import escape

RUNBOOK = "runbook"  # the item the area's last drill is shown next to
TICK = "readiness_tick"  # action_id of the tick buttons; value "<area>:<item>"
DONE, OPEN = ":white_check_mark:", ":white_large_square:"
TITLES = {ORGANIZATION: "Organization checklist", PRODUCTION: "Production checklist"}

Blocks = list[dict[str, Any]]


def tick_value(area: str, item: str) -> str:
    return f"{area}:{item}"


def parse_value(value: str) -> tuple[str, str]:
    """(area, item) from a tick button's value."""
    area, _, item = value.rpartition(":")
    return area, item


def experiment_text(r: Readiness) -> str:
    open_ = len(r.of(PRODUCTION)) - r.production
    return f"still an experiment: {open_} of {len(r.of(PRODUCTION))} production checkpoints open"


def scores(r: Readiness) -> str:
    """ "*Organization* 7/11 · *Production* 2/6 · :test_tube: still an experiment: …"."""
    text = (
        f"*Organization* {r.organization}/{len(r.of(ORGANIZATION))} · "
        f"*Production* {r.production}/{len(r.of(PRODUCTION))}"
    )
    return text + (f" · :test_tube: {experiment_text(r)}" if r.experiment else "")


def item_line(state: ItemState) -> str:
    """ "✅ *Dashboard* `dashboard`\nticked by <@U1> <date> · https://…" (or Baton's reason)."""
    head = f"{DONE if state.done else OPEN} *{state.item.title}* `{state.item.key}`"
    if state.proven is not None:
        return f"{head}\nBaton: {escape(state.proven)}"
    if state.ticked_by is not None and state.ticked_at is not None:
        link = f" · {escape(state.link)}" if state.link else ""
        return f"{head}\nticked by <@{state.ticked_by}> {slack_time(state.ticked_at)}{link}"
    return head


def _button(area: str, item: str) -> dict[str, Any]:
    return button("Tick", TICK, tick_value(area, item))


def _item_block(area: str, state: ItemState, *, buttons: bool, also: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = section(item_line(state) + (f"\n{also}" if also else ""))
    if buttons and not state.done:
        block["accessory"] = _button(area, state.item.key)
    return block


def area_view(
    name: str, r: Readiness, *, note: str | None = None, rehearsed: str | None = None
) -> tuple[str, Blocks]:
    """Both checklists of one area: each item done or open, who ticked it, Tick buttons; next to
    `runbook`, `rehearsed`: the area's last drill as said (bot/readiness/drills.py), if given."""
    blocks: Blocks = []
    if note:
        blocks.append(section(note))
    blocks += [
        header(f"Readiness · {name}"),
        section(scores(r)),
    ]
    for checklist in (ORGANIZATION, PRODUCTION):
        states = r.of(checklist)
        done = sum(s.done for s in states)
        blocks.append(section(f"*{TITLES[checklist]}* {done}/{len(states)}"))
        blocks += [
            _item_block(r.area, state, buttons=True, also=rehearsed if state.item.key == RUNBOOK else None)
            for state in states
        ]
    how = (
        f"`/readiness {r.area} check <item> [link]` · `/readiness {r.area} uncheck <item>` · "
        "the area's R and A, or an admin, may tick"
    )
    blocks.append(context(how))
    open_ = ", ".join(s.item.key for s in r.open_items) or "none"
    text = f"Readiness · {name}: {r.summary()}. Open: {open_}" + (
        f". Runbook {rehearsed}" if rehearsed else ""
    )
    return (f"{note}\n{text}" if note else text), blocks


def area_list(rows: list[tuple[str, str, Readiness]]) -> tuple[str, Blocks]:
    """Every area's scores: rows of (key, name, readiness)."""
    lines = []
    for key, name, r in rows:
        flag = " · :test_tube: still an experiment" if r.experiment else ""
        lines.append(
            f"*{name}* (`{key}`): organization {r.organization}/{len(r.of(ORGANIZATION))} · "
            f"production {r.production}/{len(r.of(PRODUCTION))}{flag}"
        )
    blocks: Blocks = [
        header("Readiness by area"),
        section("\n".join(lines)),
        context("`/readiness <area>` for its checklists and tick buttons"),
    ]
    text = "Readiness by area: " + "; ".join(f"{name} {r.summary()}" for _, name, r in rows)
    return text, blocks


def nudge(name: str, r: Readiness, *, owners: str) -> tuple[str, Blocks]:
    """The readiness nudge of one area: its open items, and the owners who should tick them."""
    n = len(r.open_items)
    title = f"Readiness · {name}: {n} item{'s' if n != 1 else ''} open"
    blocks: Blocks = [
        header(title),
        section(f"{scores(r)}\n{owners}: please tick what is done."),
    ]
    for checklist in (ORGANIZATION, PRODUCTION):
        open_ = [s for s in r.of(checklist) if not s.done]
        if not open_:
            continue
        blocks.append(section(f"*{TITLES[checklist]}*: {len(open_)} open"))
        blocks += [_item_block(r.area, state, buttons=True) for state in open_]
    how = (
        f"`/readiness {r.area} check <item> [link]` to tick with a link · `/readiness {r.area}` for all items"
    )
    blocks.append(context(how))
    items = ", ".join(s.item.key for s in r.open_items)
    return f"{title} ({r.summary()}). {owners}: please tick what is done: {items}", blocks


def checked_note(*, title: str, key: str, by: str, replaced_by: str | None, masked: dict[str, int]) -> str:
    """What a tick did, for above the refreshed view."""
    text = f"{DONE} <@{by}> ticked *{title}* `{key}`."
    if replaced_by is not None:
        text += f" It replaces the tick by <@{replaced_by}> (who, when and link)."
    if masked:
        kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(masked.items()))
        text += f" Masked in the link before storage: {kinds}."
    return text
