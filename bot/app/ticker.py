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
# Called when a job fails (final=False: it is retried) or gives up (final=True), to say so
# where people will see it.
FailureReporter = Callable[[Baton, Job, str, bool], None]


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
            self._give_up(job, f"no handler for {job.kind!r}")
            return
        if job.attempts > jobs.MAX_ATTEMPTS:
            # Its earlier tries never finished: the process running them died (or was killed).
            self._give_up(job, f"gave up after {job.attempts - 1} tries that never finished")
            return
        try:
            handler(self.baton, job)
        except jobs.Defer as e:
            if jobs.late(job, now()) > jobs.MAX_LATE:
                self._give_up(job, f"still waiting after {jobs.MAX_LATE}: {e}")
                return
            jobs.reschedule(
                engine, job.id, worker=self.worker, retry_at=now() + e.after, error=None, count=False
            )
            return
        except (jobs.Retry, ChatError, PagerError) as e:
            error = str(e)
            if isinstance(e, ChatError):
                self.baton.metrics.slack_errors.labels(method=e.method, error=e.error).inc()
            if not getattr(e, "retryable", True):
                self._give_up(job, error)
                return
            after = getattr(e, "after", None)
            if after is not None:
                # Rate limited (Retry-After): not the job's fault, so not a failed try.
                if jobs.late(job, now()) > jobs.MAX_LATE:
                    self._give_up(job, f"{error}; still rate-limited after {jobs.MAX_LATE}")
                    return
                jobs.reschedule(
                    engine, job.id, worker=self.worker, retry_at=now() + after, error=error, count=False
                )
                return
            if job.attempts >= jobs.MAX_ATTEMPTS or jobs.late(job, now()) > jobs.MAX_LATE:
                self._give_up(job, f"{error} (gave up after {job.attempts} tries)")
                return
            retry = jobs.backoff(job.attempts)
            log.warning("job %s (%s) failed, retrying in %s: %s", job.id, job.kind, retry, error)
            self.baton.metrics.job_retries.labels(kind=job.kind).inc()
            jobs.reschedule(engine, job.id, worker=self.worker, retry_at=now() + retry, error=error)
            if job.attempts == 1:
                self._report(job, f"{error} (retrying)", final=False)
            return
        except jobs.Fail as e:
            self._give_up(job, str(e))
            return
        jobs.finish(engine, job.id, worker=self.worker, now=now())

    def _give_up(self, job: Job, error: str) -> None:
        assert job.id is not None
        log.error("job %s (%s) failed for good: %s", job.id, job.kind, error)
        if not jobs.fail(
            self.baton.engine, job.id, worker=self.worker, now=self.baton.clock.now(), error=error
        ):
            return  # another worker holds it now; it decides
        self.baton.metrics.jobs_given_up.labels(kind=job.kind).inc()
        self._report(job, error, final=True)

    def _report(self, job: Job, error: str, *, final: bool) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure(self.baton, job, error, final)
        except Exception:  # reporting is best effort; the failure itself is on the job row
            log.exception("could not report the failure of job %s", job.id)
