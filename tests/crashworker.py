"""A Baton that dies between a send and its record: `python -m tests.crashworker STEP`.

It boots on the environment's settings (tests/store/test_delivery.py passes the fake Slack and the
database), on the injected clock's start (as the test's FakeClock), and runs the due jobs on one
worker. The moment a job goes to record that its STEP ("dm", "post") was sent, after Slack took
the message, the process exits at once: what a crash, a kill -9 or a lost machine leaves.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.app.runner import JOB_KINDS, boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.store.clock import FakeClock
from bot.store.settings import Settings

DIED = 86  # the exit status the test expects: died where it was meant to


def die_at(
    step: str, *, slack: Any, db_url: str, ownership: Path, **more: str
) -> subprocess.CompletedProcess[str]:
    """Run this worker as its own process on the fake Slack `slack` and `db_url` until it dies
    at `step`; `more` adds to its environment (a tracker's token). For the tests it serves."""
    from tests.conftest import METRICS_TOKEN, ROOT, SIGNING_SECRET, clean_env

    env = {
        **clean_env(),
        **more,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(ownership),
        "BATON_SEVERITY_FILE": str(ROOT / "severity.yaml"),
        "PORT": "0",
        "BATON_METRICS_TOKEN": METRICS_TOKEN,
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.crashworker", step],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def main(step: str) -> int:
    settings = Settings.from_env(dict(os.environ))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    baton = boot(settings, config, clock=FakeClock())
    sent = re.compile(rf"""["']{re.escape(step)}["']: \{{["']state["']: ["']sent["']""")

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if sent.search(repr(parameters)):
            os._exit(DIED)

    event.listen(baton.engine, "before_cursor_execute", before)
    ticker = Ticker(baton, handlers=JOB_KINDS, workers=1)
    ticker.run_until_idle(timeout=60)
    return 1  # every job ran and none recorded STEP: not the crash the test asked for


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
