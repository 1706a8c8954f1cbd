"""The ticker: claims due jobs and runs them on a small thread pool.

Its own thread ticks right after a service commits (wake), when a job ends that others waited
for or that frees room the last tick lacked, at the due time of the next pending job, and at
least every interval (retries, other replicas' work). A wake that lands while a tick runs is
kept, not dropped: the loop ticks again at once. So the first page of an incident leaves within
milliseconds, a step fires within milliseconds of its due time, and a notice waiting for the
channel goes the moment the set-up ends. Jobs run concurrently, so a page never waits behind a
rate-limited conversations.create.
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
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from bot.slack.chat import ChatError
from bot.slack.pagers import PagerError
from bot.store import delivery, jobs
from bot.store.clock import clock_span, real_seconds
from bot.store.models import Job
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

Handler = Callable[[Baton, Job], None]


class FailureReporter(Protocol):
    """Called when a job fails (final=False: it is retried) or gives up (final=True), to say so
    where people will see it. `unexpected`: the handler raised something no handler means to
    raise (a bug, the database refusing): the first such failure is worth telling of, whatever
    the job's kind."""

    def __call__(
        self, baton: Baton, job: Job, error: str, final: bool, *, unexpected: bool = False
    ) -> None: ...


# While the database refuses, the loop ticks again after a growing pause (from TICK up to this):
# a page goes within seconds of the database coming back, and an outage is not a log line
# every 250 ms.
MAX_TICK_PAUSE = 2.0
# Settling a job's row (done, retry later, given up) is tried again while the database refuses,
# after pauses growing from the first to the last, for as long as this worker's lease on the job
# lasts: once it is gone another replica may have taken the job, and it decides.
SETTLE_PAUSE, SETTLE_MAX_PAUSE = 0.1, 5.0


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
        self._cap = 2 * workers  # jobs claimed at once: running, or queued for a worker (see tick)
        self._busy = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # The loop's wake-up: `_dirty` is set under the lock, so a wake during a tick is seen.
        self._woken = threading.Condition(threading.Lock())
        self._dirty = False
        self._stopping = False
        self._halt = threading.Event()  # set by stop(): a settle waiting out the database gives up
        self._thread: threading.Thread | None = None

    def start(self, interval: timedelta) -> None:
        """Tick on a thread of its own until stop(): on wake(), when the next job is due, and at
        least every `interval`."""
        self._stopping = False
        self._halt.clear()
        self._dirty = True
        self._thread = threading.Thread(target=self._loop, args=(interval,), name="baton-ticker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Tick as soon as possible (after a commit that queued work, or a job that ended)."""
        with self._woken:
            self._dirty = True
            self._woken.notify()

    def stop(self) -> None:
        self._halt.set()
        with self._woken:
            self._stopping = True
            self._woken.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self, interval: timedelta) -> None:
        wait = interval.total_seconds()
        failing = 0
        while True:
            with self._woken:
                if not self._dirty and not self._stopping:
                    self._woken.wait(wait)
                if self._stopping:
                    return
                self._dirty = False
            try:
                self.tick()
                wait = self._until_next(interval)
            except Exception:  # a database hiccup must not end the loop; the next tick retries
                failing += 1
                self.baton.metrics.tick_failures.inc()
                wait = min(MAX_TICK_PAUSE, interval.total_seconds() * 2 ** min(failing, 8))
                if failing == 1:
                    log.exception("tick failed; ticking again in %.2fs", wait)
                elif failing % 60 == 0:
                    log.error("ticks still failing (%d in a row); ticking again every %.2fs", failing, wait)
                continue
            if failing:
                log.warning("ticking again after %d failed ticks", failing)
                failing = 0

    def _until_next(self, interval: timedelta) -> float:
        """Seconds until the next pending job is due (at most `interval`): sleeping a whole
        interval would make every step up to that late."""
        now = self.baton.clock.now()
        upcoming = jobs.next_due(self.baton.engine, now=now)
        if upcoming is None:
            return interval.total_seconds()
        # A little after the due time: claiming compares with the clock, and early is a wasted tick.
        # On a scaled clock (baton demo --speed) a due time is nearer in real time than it reads.
        return max(
            0.001, min(interval.total_seconds(), real_seconds(self.baton.clock, upcoming - now) + 0.001)
        )

    def tick(self) -> int:
        """Claim what is due and start it; returns how many.

        It claims up to twice as many jobs as there are workers, the rest queued in the pool:
        under a storm of due steps one claim then serves several jobs instead of one claim per
        job that ends, and a worker that frees up starts the next job without waiting for a
        tick. A queued job stays leased to this process, as a running one does.
        """
        with self._lock:
            free = self._cap - self._busy
        if free <= 0:
            return 0
        claimed = jobs.claim_due(
            self.baton.engine,
            worker=self.worker,
            now=self.baton.clock.now(),
            limit=free,
            lease=clock_span(self.baton.clock, jobs.LEASE),
        )
        for job in claimed:
            with self._lock:
                self._busy += 1
            self._pool.submit(self._run, job)
        return len(claimed)

    def run_until_idle(self, timeout: float = 10.0) -> None:
        """Tick until nothing is due or running (tests with a fake clock)."""
        deadline = time.monotonic() + timeout
        idle = False
        while time.monotonic() < deadline:
            started = self.tick()
            with self._lock:
                if started == 0 and self._busy == 0:
                    # Once more: a job that ended after this tick's claim may have released one
                    # waiting for it (jobs.release_waiting), due now; the next tick sees it.
                    if idle:
                        return
                    idle = True
                    continue
                idle = False
                self._idle.wait(0.05)
        raise TimeoutError("jobs still running after the timeout")

    def shutdown(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _run(self, job: Job) -> None:
        try:
            self._execute(job)
        except Exception:  # never lose the worker thread; the lease brings the job back
            log.exception("job %s (%s) could not be settled; its lease brings it back", job.id, job.kind)
        finally:
            with self._lock:
                full = self._busy >= self._cap
                self._busy -= 1
                self._idle.notify_all()
            if full:
                self.wake()  # there may be due jobs the last tick left for want of room

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
        except delivery.Superseded as e:
            # The try that holds the job now decides its state; this one only leaves.
            log.warning("%s; this try stops", e)
            return
        except jobs.Defer as e:
            if jobs.late(job, now()) > self._real(jobs.MAX_LATE):
                self._give_up(job, f"still waiting after {jobs.MAX_LATE}: {e}")
                return
            self._settle(
                job,
                jobs.reschedule,
                engine,
                job.id,
                worker=self.worker,
                retry_at=now() + self._real(e.after),
                error=None,
                count=False,
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
                if jobs.late(job, now()) > self._real(jobs.MAX_LATE):
                    self._give_up(job, f"{error}; still rate-limited after {jobs.MAX_LATE}")
                    return
                self._settle(
                    job,
                    jobs.reschedule,
                    engine,
                    job.id,
                    worker=self.worker,
                    retry_at=now() + self._real(after),
                    error=error,
                    count=False,
                )
                return
            self._failed_try(job, error)
            return
        except jobs.Fail as e:
            self._give_up(job, str(e))
            return
        except Exception as e:
            # A bug, or the database refusing for a moment: a failed try like any other, retried
            # after its backoff (a page within a second or two) and told of at its first failure.
            # People hear the kind of error only: its text may quote SQL and what was typed.
            log.exception("job %s (%s) failed unexpectedly (try %d)", job.id, job.kind, job.attempts)
            self._failed_try(
                job, f"unexpected {type(e).__name__} (Baton's log has the details)", unexpected=True
            )
            return
        self._settle(job, jobs.finish, engine, job.id, worker=self.worker, now=now())
        self._release(job)

    def _real(self, wait: timedelta) -> timedelta:
        """`wait` (a backoff, Slack's Retry-After, how long a job may wait) as real time on this
        Baton's clock: on baton demo's fast clock a backoff of one second stays one second, not
        a few milliseconds that would spin a retry, and a job is not given up in seconds."""
        return clock_span(self.baton.clock, wait)

    def _failed_try(self, job: Job, error: str, *, unexpected: bool = False) -> None:
        """A try that failed: again after its backoff, or given up once it has used its tries."""
        assert job.id is not None
        now = self.baton.clock.now()
        if job.attempts >= jobs.MAX_ATTEMPTS or jobs.late(job, now) > self._real(jobs.MAX_LATE):
            self._give_up(job, f"{error} (gave up after {job.attempts} tries)", unexpected=unexpected)
            return
        retry = jobs.backoff(job.attempts)
        log.warning("job %s (%s) failed, retrying in %s: %s", job.id, job.kind, retry, error)
        self.baton.metrics.job_retries.labels(kind=job.kind).inc()
        held = self._settle(
            job,
            jobs.reschedule,
            self.baton.engine,
            job.id,
            worker=self.worker,
            retry_at=now + self._real(retry),
            error=error,
        )
        if held and job.attempts == 1:
            self._report(job, f"{error} (retrying)", final=False, unexpected=unexpected)

    def _settle(self, job: Job, settle: Callable[..., bool], *args: object, **kwargs: object) -> bool:
        """Write a job's outcome (`settle(*args, **kwargs)`), trying again with growing pauses
        while the database refuses, for as long as this worker holds the job's lease: a job left
        `running` would wait out its whole lease before anyone ran it again, its outcome lost.
        False once the lease is gone (or the ticker stops): the job comes back to whoever
        claims it next."""
        pause = SETTLE_PAUSE
        tries = 0
        while True:
            try:
                return settle(*args, **kwargs)
            except DBAPIError as e:
                tries += 1
                left = _lease_left(job, self.baton.clock.now())
                if left <= 0 or self._halt.is_set():
                    log.error(
                        "job %s (%s): could not record its outcome in %d tries (%s) before %s; "
                        "it runs again once its lease is over",
                        job.id,
                        job.kind,
                        tries,
                        type(e).__name__,
                        "the ticker stopped" if self._halt.is_set() else "its lease ran out",
                    )
                    return False
                wait = min(pause, left)
                log.warning(
                    "job %s (%s): could not record its outcome (%s); trying again in %.1fs",
                    job.id,
                    job.kind,
                    type(e).__name__,
                    wait,
                )
                self._halt.wait(wait)
                pause = min(SETTLE_MAX_PAUSE, pause * 2)

    def _release(self, job: Job) -> None:
        """A channel job ended: those of its incident that waited for it go now."""
        if job.incident_id is None or job.kind not in (*jobs.CHANNEL_KINDS, *jobs.AFTER_CHANNEL):
            return
        if jobs.release_waiting(self.baton.engine, incident_id=job.incident_id, now=self.baton.clock.now()):
            self.wake()

    def _give_up(self, job: Job, error: str, *, unexpected: bool = False) -> None:
        assert job.id is not None
        log.error("job %s (%s) failed for good: %s", job.id, job.kind, error)
        if not self._settle(
            job,
            jobs.fail,
            self.baton.engine,
            job.id,
            worker=self.worker,
            now=self.baton.clock.now(),
            error=error,
        ):
            return  # another worker holds it now; it decides
        self.baton.metrics.jobs_given_up.labels(kind=job.kind).inc()
        self._report(job, error, final=True, unexpected=unexpected)
        self._release(job)

    def _report(self, job: Job, error: str, *, final: bool, unexpected: bool = False) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure(self.baton, job, error, final, unexpected=unexpected)
        except Exception:  # reporting is best effort; the failure itself is on the job row
            log.exception("could not report the failure of job %s", job.id)


def _lease_left(job: Job, now: datetime) -> float:
    """Seconds left of the lease this worker took on `job` when it claimed it."""
    until = job.lease_until
    if until is None:
        return 0.0
    return (until - now).total_seconds()
