"""`python -m bot.store.migrate`: bring the schema at ``BATON_MIGRATE_URL`` to the newest revision
in a process of its own.

`baton serve` runs it when the schema is behind (a new database, a new version): Alembic, with
Mako and Pygments behind it, takes about 10 MB that a long-running process cannot give back
after the one upgrade, so the server never loads it. What went wrong is one line on stderr and
exit status 2.
"""

from __future__ import annotations

import os
import sys

from sqlalchemy.exc import DBAPIError

from bot.store.db import database_problem, make_engine, upgrade

URL_VARIABLE = "BATON_MIGRATE_URL"


def main() -> int:
    url = os.environ.get(URL_VARIABLE)
    if not url:
        print(f"{URL_VARIABLE} is not set: it names the database to upgrade", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        upgrade(engine)
    except DBAPIError as e:
        print(database_problem(url, e), file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
