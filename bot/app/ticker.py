"""The ticker: claims due jobs and runs them on a small thread pool.

APScheduler calls tick() a few times a second and right after a service commits (wake), so
the first page of an incident leaves within milliseconds and a step fires well within a second
of its due time. Jobs run concurrently, so a page never waits behind a rate-limited
conversations.create.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from bot.slack.chat import ChatError
from bot.slack.pagers import PagerError
from bot.store import jobs
from bot.store.models import Job
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

Handler = Callable[[Baton, Job], None]
# Called when a job fails for good or gives up, to say so where people will see it.
FailureReporter = Callable[[Baton, Job, str], None]


class Ticker:
    def __init__(
        self,
        baton: Baton,
        *,
        handlers: Mapping[str, Handler],
        on_failure: FailureReporter | None = None,
        workers: int = 8,
    ):
        self.baton = baton
        self.handlers = dict(handlers)
        self.on_failure = on_failure
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="baton-job")
        self._workers = workers
        self._busy = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def tick(self) -> int:
        """Claim what is due (as many as there are free workers) and start it; returns how many."""
        with self._lock:
            free = self._workers - self._busy
        if free <= 0:
            return 0
        claimed = jobs.claim_due(
            self.baton.engine, worker=self.worker, now=self.baton.clock.now(), limit=free
        )
        for job in claimed:
            with self._lock:
                self._busy += 1
            self._pool.submit(self._run, job)
        return len(claimed)

    def run_until_idle(self, timeout: float = 10.0) -> None:
        """Tick until nothing is due or running (tests with a fake clock)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = self.tick()
            with self._lock:
                if started == 0 and self._busy == 0:
                    return
                self._idle.wait(0.05)
        raise TimeoutError("jobs still running after the timeout")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _run(self, job: Job) -> None:
        try:
            self._execute(job)
        except Exception:  # never lose the worker thread; the lease brings the job back
            log.exception("job %s (%s) crashed", job.id, job.kind)
        finally:
            with self._lock:
                self._busy -= 1
                self._idle.notify_all()
            self.baton.wake()

    def _execute(self, job: Job) -> None:
        assert job.id is not None
        engine, now = self.baton.engine, self.baton.clock.now
        handler = self.handlers.get(job.kind)
        if handler is None:
            jobs.fail(engine, job.id, worker=self.worker, now=now(), error=f"no handler for {job.kind!r}")
            return
        try:
            handler(self.baton, job)
        except jobs.Defer as e:
            jobs.reschedule(
                engine, job.id, worker=self.worker, retry_at=now() + e.after, error=None, count=False
            )
            return
        except (jobs.Retry, ChatError, PagerError) as e:
            error = str(e)
            retryable = getattr(e, "retryable", True)
            if isinstance(e, ChatError):
                self.baton.metrics.slack_errors.labels(method=e.method, error=e.error).inc()
            if retryable and now() - job.created_at < jobs.GIVE_UP_AFTER:
                after = getattr(e, "after", None) or jobs.backoff(job.attempts)
                log.warning("job %s (%s) failed, retrying in %s: %s", job.id, job.kind, after, error)
                jobs.reschedule(engine, job.id, worker=self.worker, retry_at=now() + after, error=error)
                if job.attempts == 1:
                    self._report(job, f"{error} (retrying)")
                return
            self._give_up(job, error)
            return
        except jobs.Fail as e:
            self._give_up(job, str(e))
            return
        jobs.finish(engine, job.id, worker=self.worker, now=now())

    def _give_up(self, job: Job, error: str) -> None:
        assert job.id is not None
        log.error("job %s (%s) failed for good: %s", job.id, job.kind, error)
        jobs.fail(self.baton.engine, job.id, worker=self.worker, now=self.baton.clock.now(), error=error)
        self._report(job, error)

    def _report(self, job: Job, error: str) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure(self.baton, job, error)
        except Exception:  # reporting is best effort; the failure itself is on the job row
            log.exception("could not report the failure of job %s", job.id)
