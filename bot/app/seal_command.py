"""`baton seal`: key the plain hash chains of DATABASE_URL with the chain key, once (what it does:
bot/records/rekey.py). Exit 0 when every chain was sealed (or the key was recorded already), 1
when a chain that does not verify was left as it was, or the key's record had been removed, 2
when the database or the key cannot be used."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError

from bot.records import rekey, seal
from bot.records.verify import count
from bot.store.chainkey import HOW
from bot.store.db import database_problem, shown
from bot.store.settings import Settings, SettingsError


def command() -> int:
    from bot.app.runner import open_database  # Alembic: the schema may be older than this Baton

    try:
        settings = Settings.from_env(require_slack=False)
        key = settings.chain_key
        if key is None:
            raise SettingsError(f"baton seal needs the chain key: {HOW}.")
        engine = open_database(settings.database_url)
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    where = shown(settings.database_url)
    try:
        done = rekey.seal_chains(engine, key, where, datetime.now(UTC))
    except seal.SealError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    except DBAPIError as e:
        print(f"baton: {database_problem(settings.database_url, e)}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if done is None:
        print(f"ok: the chains in {where} are sealed with HMAC-SHA256, key {key.fingerprint} already")
        return 0
    if done.keyed_before:
        print(
            f"baton: links sealed with this key ({key.fingerprint}) were found, but {where} had no record of "
            "the key: it was removed. Recorded it again and re-sealed nothing; `baton verify` names every "
            "link sealed without the key. Investigate who removed it.",
            file=sys.stderr,
        )
        return 1
    for problem in done.left:
        print(f"not sealed, left as it was because it does not verify: {problem}", file=sys.stderr)
    print(
        f"ok: sealed {count(done.links, 'link')} in {count(done.chains, 'chain')} of {where} with "
        f"HMAC-SHA256, key {key.fingerprint}, and recorded the key's fingerprint"
        + (
            "; anchors written before this have other hashes: write a new one now (baton export --heads)"
            if done.links
            else ""
        )
    )
    if done.left:
        print(
            f"baton: {count(len(done.left), 'chain')} left unsealed; `baton verify` names "
            f"{'it' if len(done.left) == 1 else 'them'}",
            file=sys.stderr,
        )
        return 1
    return 0
