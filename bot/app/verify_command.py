"""`baton verify [--anchor FILE]` on the command line (what it checks: bot/records/verify.py).

Reads DATABASE_URL without changing it (bot.store.db.open_existing) with the chain key of the
environment (BATON_CHAIN_KEY or BATON_CHAIN_KEY_FILE), and an anchor if given. Exit 0 when every
chain holds, 1 naming each chain's first failing link, 2 when the database, the key or the
anchor cannot be used. Unkeyed chains are said to be so, on every run.
"""

from __future__ import annotations

import sys

from sqlalchemy.exc import DBAPIError

from bot.records import anchor, seal
from bot.records.seal import Sealing
from bot.records.verify import check, count
from bot.store.chainkey import HOW
from bot.store.db import DatabaseUnavailable, database_problem, open_existing, shown
from bot.store.settings import Settings, SettingsError


def command(anchor_file: str | None = None) -> int:
    try:
        settings = Settings.from_env(require_slack=False)
        url = settings.database_url
        anchored = anchor.read(anchor_file) if anchor_file is not None else None
        engine = open_existing(url)
    except (SettingsError, DatabaseUnavailable, anchor.AnchorError) as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    wanted = set(anchored.heads) if anchored is not None else set()
    try:
        checked = check(engine, key=settings.chain_key, wanted=wanted, where=shown(url))
    except seal.SealError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    except DBAPIError as e:
        print(f"baton: {database_problem(url, e)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    problems = checked.problems + (anchor.compare(anchored, checked) if anchored is not None else [])
    for problem in problems:
        print(problem, file=sys.stderr)
    counts = (
        f"{count(checked.receipts, 'receipt')} in {count(checked.receipt_chains, 'chain')} and "
        f"{count(checked.evidence, 'evidence item')} in {count(checked.evidence_chains, 'chain')}"
    )
    if problems:
        n = len({p.chain for p in problems})
        print(
            f"baton: {n} chain{'s' if n != 1 else ''} failed verification ({counts} checked)", file=sys.stderr
        )
    else:
        also = ""
        if anchored is not None:
            also = (
                f"; the {count(len(wanted), 'chain')} anchored in {anchored.path} are all there, as long "
                "and with the same hashes"
            )
        print(f"ok: {counts} match their hashes ({checked.sealing.describe()}){also}")
    note = unkeyed_note(checked.sealing)
    if note:
        print(note)
    return 1 if problems else 0


def unkeyed_note(sealing: Sealing) -> str | None:
    """What `baton verify` says on every run while the chains are not keyed."""
    if sealing.keyed:
        return None
    if sealing.pending is not None:
        return None  # a problem, named by check()
    return (
        "note: the chains are not keyed: their hashes are plain SHA-256, which whoever can write the "
        f"database can recompute. To key them, {HOW}, run `baton seal` once, and set it for `baton serve` "
        "and `baton verify`."
    )
