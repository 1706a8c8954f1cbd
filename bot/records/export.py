"""`baton export <number> [--json | --html]`: the incident note on stdout, read from the database alone.

Needs only DATABASE_URL (no Slack, no YAML: the note names people as the incident's policy
snapshot did). The database is opened read-only and never created: a SQLite path that does not
exist is an error, not a new empty file. `--json` prints the same record the Markdown is
rendered from (bot/incidents/notes.py), for other tools. `--html` writes one self-contained
page (bot/records/export_html.py) to `-o FILE`, or to `incident-<number>.html` here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import func
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.incidents.notes import IncidentRecord, gather, render
from bot.records.anchor import OutputError, write_file
from bot.store.db import DEFAULT_DATABASE, DatabaseUnavailable, database_problem, open_existing, shown
from bot.store.models import Incident

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
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")  # pragma: no cover


def export_command(
    number: int,
    *,
    as_json: bool = False,
    as_html: bool = False,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    output: str | None = None,
) -> int:
    """Print incident `number`'s note (or write it to the file `output`): 0 done, 1 no such
    incident, 2 the database cannot be read or the file written."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    err = err or sys.stderr
    url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE
    if as_html:
        return _html(url, number, env=env, out=out, err=err, output=output)
    try:
        record, newest = _read(url, number)
    except ExportError as e:
        print(f"baton: {e}", file=err)
        return 2
    if record is None:
        _missing(url, number, newest, err)
        return 1
    text = to_json(record) if as_json else render(record)
    if output is None:
        out.write(text)
        return 0
    try:
        write_file(output, text)
    except OutputError as e:
        print(f"baton: {e}", file=err)
        return 2
    return 0


def _missing(url: str, number: int, newest: int | None, err: TextIO) -> None:
    here = f"the newest is #{newest}" if newest else "it has no incidents yet"
    print(
        f"baton: there is no incident #{number} in {shown(url)}; `baton export` takes the number "
        f"Slack shows (#12); {here}",
        file=err,
    )


def _html(
    url: str, number: int, *, env: Mapping[str, str], out: TextIO, err: TextIO, output: str | None
) -> int:
    """The page to `output` (or incident-<number>.html), and its path on `out`."""
    from bot.records.export_html import read_page  # the page's modules only when asked for

    try:
        engine = open_existing(url)
    except DatabaseUnavailable as e:
        print(f"baton: {e}", file=err)
        return 2
    try:
        text = read_page(engine, number, env) if number <= _MAX_ID else None
        newest = None
        if text is None:
            with Session(engine) as s:
                newest = s.exec(select(func.max(col(Incident.id)))).one()
    except DBAPIError as e:
        print(f"baton: {database_problem(url, e)}", file=err)
        return 2
    finally:
        engine.dispose()
    if text is None:
        _missing(url, number, newest, err)
        return 1
    path = output or f"incident-{number}.html"
    try:
        write_file(path, text)
    except OutputError as e:
        print(f"baton: {e}", file=err)
        return 2
    print(f"wrote {path}", file=out)
    return 0


def _read(url: str, number: int) -> tuple[IncidentRecord | None, int | None]:
    """The incident's record, or None and the newest number there is."""
    try:
        engine = open_existing(url)
    except DatabaseUnavailable as e:
        raise ExportError(str(e)) from None
    try:
        with Session(engine) as s:
            inc = s.get(Incident, number) if number <= _MAX_ID else None
            if inc is None:
                newest = s.exec(select(func.max(col(Incident.id)))).one()
                return None, newest
            return gather(s, inc), None
    except DBAPIError as e:
        raise ExportError(database_problem(url, e)) from None
    finally:
        engine.dispose()
