"""`baton nudge <name>`: run one scheduled nudge now, from the command line, and say what it sent."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence

from bot.config.loader import Config
from bot.records import handoff_views
from bot.slack.chat import ChatError
from bot.store.outbox import Post
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError, slack_api_from_env

NAMES = ("slo", "readiness", "review", "handoffs", "drill")


def one_off_baton(config: Config) -> Baton | None:
    """A Baton for a command that runs once (`baton nudge`, `baton drill`): the database and
    Slack from the environment; None, once the line saying what to set is printed."""
    from bot.app.runner import boot  # the database and Slack only when a command needs them

    try:
        token, api_url = slack_api_from_env()
        settings = dataclasses.replace(
            Settings.from_env(require_slack=False), bot_token=token, api_url=api_url
        )
        return boot(settings, config, one_off=True)
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return None


def nudge_command(name: str, config: Config) -> int:
    baton = one_off_baton(config)
    if baton is None:
        return 2
    try:
        if name == "slo":
            return slo_nudge(baton)
        if name == "readiness":
            return readiness_nudge(baton)
        if name == "review":
            return review_nudge(baton)
        if name == "drill":
            return drill_nudge(baton)
        from bot.nudges.schedule import one_dm_each  # the schedule loads the SLO digest's modules

        found = one_dm_each(handoff_views.reminders(baton))
        failed = 0
        for user, text, blocks in found:
            try:
                baton.chat.post_message(user, text=text, blocks=blocks)
                print(f"reminded <@{user}>: {text}")
            except ChatError as e:
                failed += 1
                print(f"baton: could not remind <@{user}>: {e}", file=sys.stderr)
    finally:
        baton.engine.dispose()
    if not found:
        print("ok: no handoff is waiting for a signature")
    return 1 if failed else 0


def slo_nudge(baton: Baton) -> int:
    """The SLO digest now: measured, incidents declared, and each area's digest posted from here
    (no ticker runs in this process); 1 if a digest could not be posted."""
    from bot.monitoring import slo  # httpx and the incident services only when measuring

    found = slo.digest(baton)
    if not found.posts:
        print("ok: no area has slo_queries in ownership.yaml: nothing to measure")
        return 0
    failed = post_now(baton, found.posts, what="the SLO digest", details=True)
    for report, reading in found.incidents():
        if reading.declared:
            print(
                f"declared incident #{reading.incident} ({reading.threshold.severity}, {report.area}): "
                f"{slo.breach_title(reading)}; its channel and pages go out from `baton serve`"
            )
        elif reading.incident is not None:
            print(f"incident #{reading.incident} is open for {report.area} {reading.sli}: not declared again")
        else:
            print(f"baton: {report.area} {reading.sli} is past alert but {reading.trouble}", file=sys.stderr)
    return 1 if failed else 0


def post_now(baton: Baton, posts: Sequence[Post], *, what: str, details: bool = False) -> int:
    """Post each area's message from here (no ticker runs in this process), saying where each
    went (with `details`, the message's other lines too); the number that could not be posted."""
    failed = 0
    for p in posts:
        first, _, rest = p.text.partition("\n")
        if p.target is None:
            failed += 1
            print(f"baton: {what} of {p.area} goes {p.where}", file=sys.stderr)
            continue
        try:
            baton.chat.post_message(p.target, text=p.text, blocks=p.blocks)
        except ChatError as e:
            failed += 1
            print(f"baton: could not post {what} of {p.area} to {p.where}: {e}", file=sys.stderr)
            continue
        print(f"posted to {p.where}: {first}")
        for shown in rest.splitlines() if details else ():
            print(f"  {shown}")
    return failed


def readiness_nudge(baton: Baton) -> int:
    """The readiness nudge now: each area with open items, to its team channel or A's DM."""
    from bot.nudges import readiness

    posts = readiness.digest(baton)
    if not posts:
        print("ok: every area has ticked every readiness item: nobody to nudge")
        return 0
    return 1 if post_now(baton, posts, what="the readiness nudge") else 0


def review_nudge(baton: Baton) -> int:
    """The weekly failure review now: printed as Markdown, and posted per area."""
    from bot.nudges import review

    found = review.review(baton, now=baton.clock.now())
    print(found.markdown())
    return 1 if post_now(baton, review.posts(baton, found), what="the failure review") else 0


def drill_nudge(baton: Baton) -> int:
    """The next scheduled drill, now: declared here, announced and paged by a running Baton's
    ticker (this process runs none)."""
    from bot.nudges import drill

    inc = drill.start_now(baton)
    if inc is None:
        print("baton: no drill started: ownership.yaml lists no area", file=sys.stderr)
        return 1
    print(
        f"ok: drill #{inc.id} of {inc.area} ({inc.severity}) declared; a running Baton pages and announces it"
    )
    return 0
