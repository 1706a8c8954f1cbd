"""Ticking and unticking readiness items: one service for the slash
command and the tick buttons, so both check the same input and obey one who-may rule.

A tick is one ReadinessTick row (area, item): who, when, an optional link. Ticking again
replaces who/when/link (the reply says whose tick it replaced); unticking deletes the row. Items
ownership.yaml proves are never stored: Baton ticks those itself and nobody can untick them.
Two replicas ticking the same item at once both succeed and leave one row (an upsert on the
primary key, not read-then-insert).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.readiness.checklist import BY_KEY, ITEMS, KEYS, ORGANIZATION, Item, Readiness, proven, readiness
from bot.readiness.rules import Action, ReadinessError, check_tick
from bot.store.db import session
from bot.store.models import ReadinessTick
from bot.store.runtime import Baton
from bot.text.masking import mask
from bot.text.mrkdwn import clip, escape
from bot.text.typed import Unknown

__all__ = [
    "Checked",
    "ReadinessError",
    "Unchecked",
    "area_key",
    "check_item",
    "clean_link",
    "item_of",
    "uncheck_item",
]

log = logging.getLogger(__name__)

MAX_LINK = 2000  # longer is a paste gone wrong, not a link
# A URL as Slack sends it in command text: no spaces, no `<`, `>` or `|` (those are markup).
_URL = re.compile(r"https?://[^\s/?#<>|\"]+[^\s<>|\"]*", re.IGNORECASE)
LINK_EXAMPLE = "https://grafana.example.com/d/llm"


@dataclass(frozen=True)
class Previous:
    """A tick as it was before this change."""

    by: str
    at: datetime
    link: str | None


@dataclass(frozen=True)
class Checked:
    area: str
    item: Item
    by: str
    at: datetime
    link: str | None  # as stored: masked
    masked: dict[str, int]  # what masking hid from the link, by kind
    replaced: Previous | None  # the tick this one replaced (ticked again)
    already: Previous | None  # ticked already and not replaced (a button): nothing changed
    proven: str | None  # the config proves it: nothing was stored, this is why
    readiness: Readiness  # the area after the change


@dataclass(frozen=True)
class Unchecked:
    area: str
    item: Item
    was: Previous | None  # None: it was not ticked, nothing changed
    readiness: Readiness


# -- input ------------------------------------------------------------------------------------


def area_key(baton: Baton, text: str) -> str:
    """The area key for a key, alias or name; Unknown (with "did you mean") otherwise."""
    return baton.ownership.area_named(text)


def keys_text() -> str:
    """Every item key, by checklist, for a reply to an unknown key."""
    org = ", ".join(f"`{i.key}`" for i in ITEMS if i.checklist == ORGANIZATION)
    prod = ", ".join(f"`{i.key}`" for i in ITEMS if i.checklist != ORGANIZATION)
    return f"Organization: {org}. Production: {prod}."


def item_of(text: str) -> Item:
    """The item for a key (or its title, any case); ReadinessError naming the keys otherwise."""
    cleaned = text.strip().strip("`").strip().lower()
    if cleaned in BY_KEY:
        return BY_KEY[cleaned]
    for item in ITEMS:
        if cleaned in (item.title.lower(), item.key.replace("-", " ")):
            return item
    if not cleaned:
        raise ReadinessError(f"Name an item. Items: {keys_text()}")
    raise Unknown("readiness item", text, KEYS, plural="items", listed=keys_text().rstrip("."))


def clean_link(text: str, *, area: str, item: str) -> str:
    """An http(s) URL from command text: Slack's `<https://…>` or `<https://…|label>` wrapping
    taken off and `&amp;` read back as `&`; ReadinessError saying what a link looks like otherwise."""
    raw = text.strip()
    url = raw
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1].split("|", 1)[0]
    url = url.replace("&amp;", "&")
    if len(url) > MAX_LINK:
        raise ReadinessError(f"That link is {len(url)} characters long; Baton keeps links up to {MAX_LINK}.")
    if not _URL.fullmatch(url):
        raise ReadinessError(
            f"`{escape(clip(raw, 120))}` is not a link: give one http(s) URL after the item, e.g. "
            f"`/readiness {area} check {item} {LINK_EXAMPLE}`."
        )
    return url


def _previous(s: Session, area: str, item: str) -> Previous | None:
    # Plain columns, not the ORM object: the identity map would serve it stale after the upsert.
    row = s.exec(
        select(ReadinessTick.ticked_by, ReadinessTick.ticked_at, ReadinessTick.link).where(
            col(ReadinessTick.area) == area, col(ReadinessTick.item) == item
        )
    ).first()
    if row is None:
        return None
    by, at, link = row
    return Previous(by, at, link)


def _state(baton: Baton, area: str) -> Readiness:
    with session(baton.engine) as s:
        return readiness(baton.config, s, area)


def _upsert(s: Session, values: dict[str, Any], *, replace: bool) -> bool:
    """Insert the tick, or (`replace`) put who/when/link over the one there; False when a tick
    was there and kept. One statement, so two replicas at once both succeed, leaving one row."""
    table = ReadinessTick.__table__  # type: ignore[attr-defined]
    insert: Any = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    if not replace:
        # RETURNING, not rowcount: psycopg reports -1 for an insert that did nothing.
        inserted = s.execute(statement.on_conflict_do_nothing().returning(table.c.item)).first()
        return inserted is not None
    changed = {k: statement.excluded[k] for k in ("ticked_by", "ticked_at", "link")}
    s.execute(statement.on_conflict_do_update(index_elements=["area", "item"], set_=changed))
    return True


# -- the services -------------------------------------------------------------------------------


def check_item(
    *, baton: Baton, area: str, item: str, user: str, link: str | None = None, replace: bool = True
) -> Checked:
    """Tick `item` of `area` as `user`, with an optional link (masked before storage). A tick
    already there is replaced (who, when, link), or with `replace=False` (a Tick button pressed
    on a stale message) kept and returned as `already`."""
    key = area_key(baton, area)
    it = item_of(item)
    url = clean_link(link, area=key, item=it.key) if link else None
    now = baton.clock.now()
    why = proven(baton.config, key).get(it.key)
    if why is not None:  # nothing to store: it stays ticked by Baton whoever asks
        return Checked(key, it, user, now, None, {}, None, None, why, _state(baton, key))
    check_tick(baton, key, user=user, action=Action.CHECK)
    masked = mask(url) if url else None
    stored = masked.text if masked else None
    with session(baton.engine) as s:
        before = _previous(s, key, it.key)
        values = {"area": key, "item": it.key, "ticked_by": user, "ticked_at": now, "link": stored}
        wrote = _upsert(s, values, replace=replace)
        kept = None if wrote else _previous(s, key, it.key)
        s.commit()
    if kept is not None:
        return Checked(key, it, user, now, None, {}, None, kept, None, _state(baton, key))
    log.info("readiness %s %s ticked by %s", key, it.key, user)
    counts = masked.counts if masked else {}
    return Checked(key, it, user, now, stored, counts, before, None, None, _state(baton, key))


def uncheck_item(*, baton: Baton, area: str, item: str, user: str) -> Unchecked:
    """Untick `item` of `area` (delete its tick); refused for items the config proves."""
    key = area_key(baton, area)
    it = item_of(item)
    why = proven(baton.config, key).get(it.key)
    if why is not None:
        name = baton.config.ownership.areas[key].name
        raise ReadinessError(
            f"*{it.title}* (`{it.key}`) of {name} is ticked by Baton because {why}. It cannot be "
            "unticked: it follows ownership.yaml, and stays ticked while the file says so."
        )
    check_tick(baton, key, user=user, action=Action.UNCHECK)
    with session(baton.engine) as s:
        before = _previous(s, key, it.key)
        if before is not None:
            s.execute(
                delete(ReadinessTick).where(col(ReadinessTick.area) == key, col(ReadinessTick.item) == it.key)
            )
        s.commit()
    if before is not None:
        log.info("readiness %s %s unticked by %s", key, it.key, user)
    return Unchecked(key, it, before, _state(baton, key))
