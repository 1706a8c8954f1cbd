"""APScheduler runs Baton's periodic work in-process. It only ticks: durable state (pending
pages, steps) lives in database rows, never in APScheduler's job store, so several replicas
and restarts are safe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        # A wake() that lands while its job is running is skipped (coalesced); APScheduler would
        # log each skip as a warning. The job ticker does not run here: it has its own thread,
        # which never drops a wake (bot/app/ticker.py).
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )

    def every(self, name: str, interval: timedelta, func: Callable[[], object], *, now: bool = False) -> None:
        self._scheduler.add_job(
            _guarded(name, func),
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            replace_existing=True,
            next_run_time=datetime.now().astimezone() if now else None,
        )

    def wake(self, name: str) -> None:
        """Run a job as soon as possible (e.g. the ticker right after a service commits)."""
        job = self._scheduler.get_job(name)
        if job is not None:
            job.modify(next_run_time=datetime.now().astimezone())

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def _guarded(name: str, func: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            func()
        except Exception:  # a failing job must not kill the scheduler thread; it runs again
            log.exception("scheduled job %s failed; it will run again", name)

    return run
