"""Anchors: the chain heads written down, to keep away from the database's machine.

`baton export --heads [-o FILE]` writes every chain head (name, seq, hash) as JSON; `baton verify
--anchor FILE` later names each chain of that file that is missing, shorter than anchored, or
whose link at the anchored place has another hash. A chain cut back together with its head, or
deleted with it, leaves nothing wrong inside the database for the walk to find, and whoever
holds the chain key can rewrite a chain with fresh hashes: only a copy kept elsewhere shows
those. What was added after the anchor was written is not covered by it.

The file:

    {"baton_chain_heads": 1, "database": "/srv/baton/baton.db", "written_at": "…Z",
     "sealed_with": "hmac-sha256:1a2b3c4d5e6f7081",        (or "sha256": unkeyed)
     "heads": [{"name": "evidence:1", "seq": 4, "hash": "…"}, …]}
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from bot.records import seal
from bot.records.seal import Sealing
from bot.records.verify import Checked, Problem, count, kind_of, natural, ordinal
from bot.store.db import DEFAULT_DATABASE, DatabaseUnavailable, database_problem, open_existing, shown
from bot.store.models import ChainHead

FORMAT = 1
_FIELD = "baton_chain_heads"


class AnchorError(Exception):
    """The anchor cannot be read: one line saying what is wrong and what would be right."""


class OutputError(Exception):
    """The file asked for (`-o FILE`) cannot be written: one line saying why."""


@dataclass(frozen=True)
class Anchor:
    path: str
    written_at: str
    scheme: str  # seal.scheme_text(): "hmac-sha256:<fingerprint>" or "sha256"
    heads: dict[str, tuple[int, str]]  # chain name -> (seq, hash)


# -- baton export --heads ------------------------------------------------------------------------


def heads_command(output: str | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Write every chain head as JSON to `output` (stdout when None): 0 done, 2 the database or
    the file cannot be used. Reads the database without changing it."""
    env = os.environ if env is None else env
    url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE
    try:
        engine = open_existing(url)
    except DatabaseUnavailable as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    try:
        with Session(engine) as s:
            row = seal.recorded(s)
            heads = s.exec(select(ChainHead)).all()
    except DBAPIError as e:
        print(f"baton: {database_problem(url, e)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    data: dict[str, Any] = {
        _FIELD: FORMAT,
        "database": shown(url),
        "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sealed_with": seal.scheme_text(row.key_fingerprint if row is not None else None),
        "heads": [
            {"name": h.name, "seq": h.seq, "hash": h.hash}
            for h in sorted(heads, key=lambda h: natural(h.name))
            if h.seq > 0
        ],
    }
    text = json.dumps(data, indent=2) + "\n"
    try:
        write_file(output, text)
    except OutputError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    if output is not None:
        print(f"ok: {count(len(data['heads']), 'chain head')} written to {output}", file=sys.stderr)
    return 0


def write_file(output: str | None, text: str) -> None:
    """`text` to stdout, or to the file `output`, whole or not at all (OutputError)."""
    if output is None:
        sys.stdout.write(text)
        return
    target = Path(output)
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".baton-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temp, target)
    except OSError as e:
        raise AnchorError(
            f"cannot write {output} ({e.strerror or e}): name a file in a writable directory"
        ) from None


# -- baton verify --anchor ----------------------------------------------------------------------


def read(path: str) -> Anchor:
    """The anchor in `path`; AnchorError naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise AnchorError(
            f"cannot read the anchor {path} ({e.strerror or e}): name the file `baton export --heads` wrote"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AnchorError(
            f"the anchor {path} is not JSON ({e}): give the file `baton export --heads` wrote"
        ) from None
    if not isinstance(data, dict) or data.get(_FIELD) != FORMAT or not isinstance(data.get("heads"), list):
        raise AnchorError(
            f'{path} is not an anchor written by `baton export --heads` (no "{_FIELD}": {FORMAT} with a '
            "list of heads)"
        )
    scheme = data.get("sealed_with")
    if scheme != "sha256" and not (isinstance(scheme, str) and scheme.startswith("hmac-sha256:")):
        raise AnchorError(f'the anchor {path} has no "sealed_with" of sha256 or hmac-sha256:<fingerprint>')
    heads: dict[str, tuple[int, str]] = {}
    for i, item in enumerate(data["heads"]):
        name = item.get("name") if isinstance(item, dict) else None
        seq = item.get("seq") if isinstance(item, dict) else None
        hash_ = item.get("hash") if isinstance(item, dict) else None
        valid = isinstance(name, str) and name.partition(":")[0] in ("receipts", "evidence") and ":" in name
        if not (valid and isinstance(seq, int) and seq >= 0 and isinstance(hash_, str)):
            raise AnchorError(
                f'the anchor {path}: heads[{i}] is not a chain head (want {{"name": "receipts:<area>" or '
                '"evidence:<incident>", "seq": <number>, "hash": "<hex>"})'
            )
        heads[str(name)] = (int(seq), str(hash_))  # type: ignore[arg-type]
    return Anchor(path=path, written_at=str(data.get("written_at", "?")), scheme=str(scheme), heads=heads)


def compare(anchored: Anchor, checked: Checked) -> list[Problem]:
    """Each chain the anchor names that is missing, shorter than anchored, or whose link at the
    anchored place has another hash; one problem per chain, none for a chain the walk named
    already."""
    problems = []
    failed = {p.chain for p in checked.problems}
    hashes = anchored.scheme == seal.scheme_of(checked.sealing)
    if not hashes:
        problems.append(_other_sealing(anchored, checked.sealing))
    for name in sorted(anchored.heads, key=natural):
        problem = _against(anchored, name, checked, hashes)
        if problem is not None and name not in failed:
            problems.append(problem)
    return problems


def _other_sealing(anchored: Anchor, sealing: Sealing) -> Problem:
    return Problem(
        "anchor",
        None,
        f"the anchor {anchored.path} was written when the chains were sealed with "
        f"{seal.scheme_words(anchored.scheme)}; they are now sealed with {sealing.describe()}: its hashes "
        "cannot be compared, only that no chain is missing or shorter. "
        + (
            "If `baton seal` keyed them after the anchor was written, that is why; if not, investigate."
            if anchored.scheme == "sha256" and sealing.keyed
            else "Baton never does this (a key is never removed or changed): investigate."
        ),
    )


def _against(anchored: Anchor, name: str, checked: Checked, hashes: bool) -> Problem | None:
    seq, hash_ = anchored.heads[name]
    kind = kind_of(name)
    links = checked.found.get(name, {})
    head = checked.heads.get(name)
    length = max([*links, head.seq if head is not None else 0])
    what = f"the {kind.plural} of {kind.label(name)}"
    where = f"the anchor {anchored.path} (written {anchored.written_at})"
    if seq == 0:
        return None
    if not links and head is None:
        return Problem(
            name,
            None,
            f"{what} are missing: {where} records {count(seq, kind.noun)}, the database none, nor their "
            "chain head (deleted)",
        )
    if length < seq:
        return Problem(
            name,
            None,
            f"{what} are shorter than anchored: {where} records {seq}, the database {length} (the last "
            f"{count(seq - length, kind.noun)} deleted and the chain head moved back)",
        )
    if seq not in links:
        return Problem(
            name,
            None,
            f"the {ordinal(seq)} {kind.noun} of {kind.label(name)}, anchored in {where}, is missing",
        )
    link = links[seq]
    if hashes and link.hash != hash_:
        return Problem(
            name,
            link.id,
            f"{kind.name(name, link.id, link.seq)}: its hash is not the one anchored in {where} (the chain "
            "was rewritten up to it, its hashes recomputed)",
        )
    return None
