"""Start and stop a Baton: scheduler, HTTP server, and the Socket Mode connection if configured."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session

from bot import actions
from bot.app.server import HttpServer, create_http_app, create_metrics_app, metrics_where
from bot.app.ticker import Ticker
from bot.config.loader import Config
from bot.drills import score
from bot.followups import tracker
from bot.incidents import cadence, paging, reviews, rooms
from bot.monitoring import alertmanager
from bot.nudges import schedule as nudges
from bot.oncall import handovers
from bot.records import holders, rekey
from bot.records.seal import SealError
from bot.slack.chat import Chat, ChatError, make_client
from bot.store import jobs, migrate
from bot.store.clock import Clock, DatabaseClock, ScaledClock, SystemClock
from bot.store.db import (
    NOT_A_DATABASE,
    current_revision,
    database_problem,
    head_revision,
    is_sqlite,
    make_engine,
    shown,
    upgrade,
)
from bot.store.metrics import ClockOffset, IncidentStates
from bot.store.models import Incident
from bot.store.runtime import Baton
from bot.store.scheduler import Scheduler
from bot.store.settings import Settings, SettingsError

if TYPE_CHECKING:
    # Socket Mode (and its websockets) is loaded only when it is used.
    from slack_bolt.adapter.socket_mode import SocketModeHandler

log = logging.getLogger(__name__)


_REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


def slack_refusal(error: str, api_url: str) -> SettingsError:
    """What to do when Slack refused the token (`error` is Slack's) or could not be reached."""
    if error in _REFUSED_TOKEN:
        return SettingsError(
            f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) "
            "again from your Slack app's settings page → OAuth & Permissions, and reinstall the "
            "app if it was revoked."
        )
    return SettingsError(
        f"cannot reach Slack's Web API at {api_url} ({error}); check the network, "
        "or SLACK_API_URL if you set it."
    )


def check_slack(chat: Chat, api_url: str) -> None:
    """Fail at start-up, with what to do, when Slack refuses the token or cannot be reached."""
    try:
        chat.auth_test()
    except ChatError as e:
        raise slack_refusal(e.error, api_url) from None


def bolt_app(factory: Callable[[Baton], App], baton: Baton) -> App:
    """`factory(baton)`. Bolt asks Slack's auth.test once more as the app is built: Slack gone or
    refusing since check_slack is the same one line as at check_slack, not a traceback."""
    try:
        return factory(baton)
    except BoltError as e:
        cause = e.__context__
        error = str(cause.response.get("error")) if isinstance(cause, SlackApiError) else str(e)
    except (SlackClientError, OSError) as e:  # what slack_sdk's retry handlers gave up on
        error = f"network: {type(e).__name__}"
    baton.engine.dispose()
    raise slack_refusal(error, baton.settings.api_url)


def _resolved(s: Session, inc: Incident, now: datetime) -> None:
    """What ends or follows with an incident, in the transaction that resolves it: its action
    requests end, and a drill's score card is queued."""
    actions.ending.incident_resolved(s, inc, now=now)
    score.on_resolve(s, inc, now)


def boot(
    settings: Settings,
    config: Config,
    *,
    migrate_apart: bool = False,
    one_off: bool = False,
    **overrides: object,
) -> Baton:
    """Slack reachable, database up to date, e-mails resolved: a Baton ready to serve.
    `migrate_apart`: a schema upgrade runs in a child process (see bot/store/migrate.py).
    `one_off`: a command that runs once (`baton nudge`): start-up warnings are the server's."""
    chat = Chat(make_client(token=settings.bot_token, base_url=settings.api_url, wait_on_rate_limit=False))
    check_slack(chat, settings.api_url)
    engine = open_database(settings.database_url, migrate_apart=migrate_apart)
    clock = cast(
        Clock,
        overrides.pop("clock", None)
        or (
            ScaledClock(settings.time_scale, settings.time_origin)
            if settings.time_scale != 1.0
            else SystemClock()
        ),
    )
    if isinstance(clock, ScaledClock):
        log.warning("the clock runs %g times faster than real time (BATON_TIME_SCALE)", clock.scale)
    if not is_sqlite(engine) and isinstance(clock, SystemClock):
        # Replicas compare the times they wrote (leases, due times): they keep the database's.
        clock = DatabaseClock(engine, base=clock)
        clock.measure()
    baton = Baton(settings=settings, config=config, engine=engine, chat=chat, clock=clock, **overrides)  # type: ignore[arg-type]
    baton.on_resolve = lambda s, inc, now: _resolved(s, inc, now)
    try:
        # The chains' key: said when there is none, the chains keyed once when there is a new one.
        rekey.start(
            engine,
            settings.chain_key,
            where=shown(settings.database_url),
            now=baton.clock.now(),
            say=not one_off,
        )
    except SealError as e:
        engine.dispose()
        raise SettingsError(str(e)) from None
    baton.metrics.add_collector(IncidentStates(engine))
    if isinstance(clock, DatabaseClock):
        kept = clock
        baton.metrics.add_collector(ClockOffset(lambda: kept.offset.total_seconds()))
    baton.resolve_people()
    return baton


def open_database(url: str, *, migrate_apart: bool = False) -> Engine:
    """An engine on a schema brought up to date; SettingsError, saying what to do, when the
    database cannot be reached, refuses Baton or cannot be written."""
    try:
        engine = make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError):
        raise SettingsError(NOT_A_DATABASE) from None
    try:
        if migrate_apart and current_revision(engine) != head_revision():
            _migrate_in_child(url)
        upgrade(engine)  # nothing left to do after the child (or a schema already current)
    except DBAPIError as e:
        engine.dispose()
        raise SettingsError(database_problem(url, e)) from None
    return engine


def _migrate_in_child(url: str) -> None:
    import subprocess

    env = {**os.environ, migrate.URL_VARIABLE: url}
    done = subprocess.run(
        [sys.executable, "-m", "bot.store.migrate"], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise SettingsError(lines[-1] if lines else f"the schema upgrade failed (status {done.returncode})")


# Every kind of job and what runs it: the ticker's, and the tests' tickers' (one list, so a new
# kind is never missing from one of them).
JOB_KINDS = {
    **paging.HANDLERS,
    **rooms.HANDLERS,
    **alertmanager.HANDLERS,
    **actions.HANDLERS,
    **score.HANDLERS,
    **tracker.HANDLERS,
    **cadence.HANDLERS,
    **reviews.HANDLERS,
}

# The ticker's fallback poll: it is woken, and sleeps until the next job is due.
TICK = timedelta(milliseconds=250)
OVERRIDES = timedelta(seconds=2)
# Shift changes: a handover opens and the incoming on-call is told within 5 s of its time. A run
# with nothing due is five small reads (~2-4 ms; a team without a rotation or an override costs
# none), so a poll is cheaper than keeping a timer per change in step with reloads and overrides.
HANDOVERS = timedelta(seconds=5)
NUDGE_TICK = timedelta(seconds=20)
# How often a Baton on PostgreSQL reads the database's clock again (bot/store/clock.py).
CLOCK_CHECK = timedelta(seconds=10)


class Runner:
    def __init__(self, baton: Baton, bolt_app: App, *, host: str = "0.0.0.0", port: int | None = None):
        self.baton = baton
        self.bolt_app = bolt_app
        self.host = host
        self.scheduler = Scheduler()
        self.http = HttpServer(
            create_http_app(baton, None if baton.settings.socket_mode else bolt_app),
            host=host,
            port=baton.settings.port if port is None else port,
        )
        settings = baton.settings
        self.metrics_http = (
            HttpServer(create_metrics_app(baton), host=settings.metrics_host, port=settings.metrics_port)
            if settings.metrics_port is not None
            else None
        )
        self.socket: SocketModeHandler | None = None
        self.ticker = Ticker(
            baton,
            handlers=JOB_KINDS,
            on_failure=rooms.report_failure,
        )

    def start(self) -> None:
        if is_sqlite(self.baton.engine):
            # SQLite means one process: whatever a crashed run left "running" is ours to redo.
            jobs.release_all(self.baton.engine, now=self.baton.clock.now())
        self.scheduler.every("refresh-people", timedelta(hours=6), self.baton.resolve_people)
        if isinstance(self.baton.clock, DatabaseClock):
            self.scheduler.every("clock", CLOCK_CHECK, self.baton.clock.measure)
        self.ticker.start(TICK)
        self.baton.wake = self.ticker.wake
        # Handoffs countersigned on another replica take effect here within OVERRIDES.
        self.baton.refresh_overrides()
        self.scheduler.every("overrides", OVERRIDES, self.baton.refresh_overrides)
        # An edit of R, A or an on-call, seen now or on a reload, opens a handoff receipt; an
        # edit of a rotation re-plans the shift changes to come; an edit of an action ends its
        # requests not yet called (what was asked is not what would run).
        # A level given (or changed) `update_every` times the open incidents' updates too.
        self.baton.on_config = lambda: (
            holders.sync_holders(self.baton),
            handovers.sync(baton=self.baton),
            actions.ending.sync(self.baton),
            cadence.sync(self.baton),
        )
        holders.sync_holders(self.baton)
        actions.ending.sync(self.baton)
        cadence.sync(self.baton)
        self.scheduler.every("handovers", HANDOVERS, lambda: handovers.sync(baton=self.baton), now=True)
        self.scheduler.every(
            "nudges", NUDGE_TICK, lambda: nudges.tick(self.baton, worker=self.ticker.worker), now=True
        )
        self.scheduler.start()
        self.http.start()
        if self.metrics_http is not None:
            self.metrics_http.start()
        log.info("metrics: %s", metrics_where(self._served()))
        if self.baton.settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            self.socket = SocketModeHandler(self.bolt_app, self.baton.settings.app_token)
            self.socket.connect()
            log.info("connected to Slack in Socket Mode; /healthz on port %s", self.http.port)
        else:
            log.info("listening for Slack on http://%s:%s/slack/events", self.host, self.http.port)

    def _served(self) -> Settings:
        """The settings with the ports actually listened on (a port 0 is chosen at bind)."""
        metrics_port = self.metrics_http.port if self.metrics_http is not None else None
        return dataclasses.replace(self.baton.settings, port=self.http.port, metrics_port=metrics_port)

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.metrics_http is not None:
            self.metrics_http.stop()
        self.http.stop()
        self.baton.wake = lambda: None
        self.baton.on_config = lambda: None
        self.scheduler.stop()
        self.ticker.shutdown()
        self.baton.engine.dispose()
