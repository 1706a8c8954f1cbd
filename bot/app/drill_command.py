"""`baton drill <severity> <area> [title] [--window 10m] [--by person]`: start a drill from the
command line. It is written to the database as `/incident drill` writes it; the running
`baton serve` (its ticker) opens the channel, pages and scores it. No check of who may: whoever
runs the command has the database and the token already."""

from __future__ import annotations

import sys
from datetime import timedelta

from bot.config.loader import Config
from bot.text.errors import Refused
from bot.text.spans import format_duration


def drill_command(
    config: Config, *, severity: str, area: str, title: str, window: timedelta | None, by: str | None
) -> int:
    from bot.app.nudge_command import one_off_baton
    from bot.drills import start as drills

    baton = one_off_baton(config)
    if baton is None:
        return 2
    try:
        starter = "baton"
        if by:
            person = baton.ownership.person_named(by, then="e.g. --by maya (as people: names them)")
            starter = baton.ownership.user_id(person) or "baton"
        inc = drills.start(
            baton=baton,
            severity=severity,
            area=area,
            title=title,
            starter=starter,
            window=window,
            checked=False,
        )
    except Refused as e:
        print(f"baton: {e}", file=sys.stderr)
        return 1
    finally:
        baton.engine.dispose()
    shortened = f" (window shortened to {format_duration(window)})" if window else ""
    print(
        f"DRILL #{inc.id} started: {inc.severity} {inc.area} · {inc.title}{shortened}; respond by "
        f"{inc.deadline.isoformat() if inc.deadline else '—'}. The running `baton serve` opens "
        f"drill-… and pages the real ladder, marked DRILL, and posts the score card."
    )
    return 0
