"""`baton export <number> [--json]`: the incident note on stdout, read from the database alone.

Needs only DATABASE_URL (no Slack, no YAML: the note names people as the incident's policy
snapshot did). The database is opened read-only and never created: a SQLite path that does not
exist is an error, not a new empty file. `--json` prints the same record the Markdown is
rendered from (bot/incidents/notes.py), for other tools.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import create_engine, func
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session, col, select

from bot.incidents.notes import IncidentRecord, gather, render, utc
from bot.store.db import normalize_url
from bot.store.models import Incident

DEFAULT_DATABASE = "sqlite:///baton.db"
JSON_VERSION = 1  # bumped if a field changes meaning or goes away; new fields do not bump it
_MAX_ID = 2**31 - 1  # the incident table's integer key: larger numbers cannot exist
_EXAMPLE_URLS = "sqlite:///path/to/baton.db or postgresql://user:password@host:5432/db"


class ExportError(Exception):
    """The database cannot be read: one line for the person, exit status 2."""


def parse_number(text: str) -> int:
    """An incident number as people copy it from Slack: `12` or `#12` (argparse type)."""
    cleaned = text.strip().removeprefix("#")
    if not cleaned.isdecimal() or int(cleaned) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an incident number; give the number Slack shows, e.g. baton export 12"
        )
    return int(cleaned)


def to_json(record: IncidentRecord) -> str:
    """The record as JSON: sorted keys, indent 2, times as ISO-8601 UTC, durations in seconds."""
    data: dict[str, Any] = {"version": JSON_VERSION, **asdict(record)}
    return json.dumps(data, sort_keys=True, indent=2, default=_json_value) + "\n"


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return utc(value).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")  # pragma: no cover


def export_command(
    number: int,
    *,
    as_json: bool = False,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print incident `number`'s note: 0 done, 1 no such incident, 2 the database cannot be read."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr
    url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE
    try:
        record, newest = _read(url, number)
    except ExportError as e:
        print(f"baton: {e}", file=err)
        return 2
    if record is None:
        here = f"the newest is #{newest}" if newest else "it has no incidents yet"
        print(
            f"baton: there is no incident #{number} in {_shown(url)}; `baton export` takes the number "
            f"Slack shows (#12); {here}",
            file=err,
        )
        return 1
    out.write(to_json(record) if as_json else render(record))
    return 0


def _read(url: str, number: int) -> tuple[IncidentRecord | None, int | None]:
    """The incident's record, or None and the newest number there is."""
    engine = open_readonly(url)
    try:
        with Session(engine) as s:
            inc = s.get(Incident, number) if number <= _MAX_ID else None
            if inc is None:
                newest = s.exec(select(func.max(col(Incident.id)))).one()
                return None, newest
            return gather(s, inc), None
    except DBAPIError as e:
        raise ExportError(_problem(url, e)) from None
    finally:
        engine.dispose()


def open_readonly(url: str) -> Engine:
    """An engine that reads `url` and can create nothing: a missing SQLite file is an error."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise ExportError(f"DATABASE_URL is not a database URL: set it to {_EXAMPLE_URLS}.") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_readonly(parsed)
    args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        args["connect_timeout"] = 10  # an unreachable host answers in seconds, not minutes
    try:
        return create_engine(parsed, connect_args=args)
    except (ArgumentError, NoSuchModuleError, ImportError):
        raise ExportError(
            f"DATABASE_URL is not a database Baton can use: set it to {_EXAMPLE_URLS}."
        ) from None


def _sqlite_readonly(url: URL) -> Engine:
    path = url.database or ""
    if path in ("", ":memory:") or path.startswith("file:"):
        raise ExportError(
            f"DATABASE_URL names no SQLite file ({url}): set it to the database `baton serve` uses, "
            "e.g. sqlite:///data/baton.db."
        )
    file = Path(path)
    if not file.is_file():
        raise ExportError(
            f"there is no SQLite database at {path}: set DATABASE_URL to the database `baton serve` "
            "uses (e.g. sqlite:///data/baton.db); nothing was created."
        )
    # mode=ro: SQLite itself refuses to write, or to create the file should it vanish meanwhile.
    uri = file.resolve().as_uri() + "?mode=ro"
    return create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
    )


_PG_PREFIX = re.compile(r'^(connection failed: )?(connection to server at "[^"]*"(, port \d+)? failed: )?')


def _problem(url: str, error: DBAPIError) -> str:
    """One line: what the database said, and what to check. The password is never shown."""
    text = str(error.orig).strip()
    detail = _PG_PREFIX.sub("", text.splitlines()[0]).replace("FATAL:  ", "").strip() if text else ""
    detail = detail or type(error.orig).__name__
    where = _shown(url)
    if "no such table" in detail or re.search(r'relation "[^"]*" does not exist', detail):
        return (
            f"{where} has no Baton tables ({detail}): point DATABASE_URL at the database `baton serve` uses."
        )
    if "no such column" in detail or re.search(r"column .* does not exist", detail):
        return f"{where} has an older schema ({detail}): run this version's `baton serve` on it once."
    return f"cannot read the database {where} ({detail}): check DATABASE_URL and the server."


def _shown(url: str) -> str:
    """The database as people recognise it: a SQLite file's path, else the URL without its password."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return "DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or url
    shown = parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)
    return shown
