"""Start and stop a Baton: scheduler, HTTP server, and the Socket Mode connection if configured."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from bot.app.server import HttpServer, create_http_app
from bot.app.ticker import Ticker
from bot.config.schema import Config
from bot.incidents import paging, rooms
from bot.nudges import schedule as nudges
from bot.records import handoffs
from bot.slack.chat import Chat, ChatError, make_client
from bot.store import jobs
from bot.store.db import is_sqlite, make_engine, upgrade
from bot.store.metrics import IncidentStates
from bot.store.runtime import Baton
from bot.store.scheduler import Scheduler
from bot.store.settings import Settings, SettingsError

log = logging.getLogger(__name__)


_REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


def check_slack(chat: Chat, api_url: str) -> None:
    """Fail at start-up, with what to do, when Slack refuses the token or cannot be reached."""
    try:
        chat.auth_test()
    except ChatError as e:
        if e.error in _REFUSED_TOKEN:
            raise SettingsError(
                f"Slack refused SLACK_BOT_TOKEN ({e.error}): copy the Bot User OAuth Token (xoxb-…) "
                "again from your Slack app's settings page → OAuth & Permissions, and reinstall the "
                "app if it was revoked."
            ) from None
        raise SettingsError(
            f"cannot reach Slack's Web API at {api_url} ({e.error}); check the network, "
            "or SLACK_API_URL if you set it."
        ) from None


def boot(settings: Settings, config: Config, **overrides: object) -> Baton:
    """Slack reachable, database up to date, e-mails resolved: a Baton ready to serve."""
    chat = Chat(make_client(token=settings.bot_token, base_url=settings.api_url, wait_on_rate_limit=False))
    check_slack(chat, settings.api_url)
    engine = open_database(settings.database_url)
    baton = Baton(settings=settings, config=config, engine=engine, chat=chat, **overrides)  # type: ignore[arg-type]
    baton.metrics.add_collector(IncidentStates(engine))
    baton.resolve_people()
    return baton


_EXAMPLE_URLS = "sqlite:///path/to/baton.db or postgresql://user:password@host:5432/db"


def open_database(url: str) -> Engine:
    """An engine on a schema brought up to date; SettingsError, saying what to do, when the
    database cannot be reached, refuses Baton or cannot be written."""
    try:
        engine = make_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError):
        raise SettingsError(
            f"DATABASE_URL is not a database Baton can use: set it to {_EXAMPLE_URLS}."
        ) from None
    try:
        upgrade(engine)
    except DBAPIError as e:
        engine.dispose()
        raise SettingsError(_database_problem(make_url(url), e)) from None
    return engine


_PG_PREFIX = re.compile(r'^(connection failed: )?(connection to server at "[^"]*"(, port \d+)? failed: )?')


def _database_problem(url: URL, error: DBAPIError) -> str:
    """One line: what the database said, and what to change. The password is never shown."""
    detail = str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    detail = _PG_PREFIX.sub("", detail).replace("FATAL:  ", "").strip()
    if url.get_backend_name() == "sqlite":
        path = url.database or "(in memory)"
        if "readonly" in detail:
            return (
                f"the SQLite database {path} is read-only ({detail}): make it and its directory writable "
                "by this user, or point DATABASE_URL at a writable path."
            )
        return (
            f"cannot open the SQLite database {path} ({detail}): its directory must exist and be "
            "writable by this user; create it or fix its permissions, or point DATABASE_URL elsewhere "
            "(e.g. sqlite:///data/baton.db)."
        )
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    shown = url.render_as_string(hide_password=True)
    if "Connection refused" in detail:
        return (
            f"cannot connect to the database at {where} (connection refused): is PostgreSQL running "
            f"there? Start it, or fix the host and port in DATABASE_URL ({shown})."
        )
    if "authentication failed" in detail or re.search(r'role "[^"]*" does not exist', detail):
        return (
            f"the database at {where} refused to log in {url.username or 'the default user'!r} "
            f"({detail}): fix the user and password in DATABASE_URL ({shown})."
        )
    if re.search(r'database "[^"]*" does not exist', detail):
        return (
            f"the database at {where} has no database {url.database!r} ({detail}): create it "
            f"(createdb {url.database}) or fix its name in DATABASE_URL ({shown})."
        )
    if "resolve host" in detail or "not known" in detail:
        return (
            f"cannot find the database host {url.host!r} ({detail}): fix the host in DATABASE_URL ({shown})."
        )
    return f"cannot use the database at {where} ({detail}): check DATABASE_URL ({shown}) and the server."


TICK = timedelta(milliseconds=250)
OVERRIDES = timedelta(seconds=2)
NUDGE_TICK = timedelta(seconds=20)


class Runner:
    def __init__(self, baton: Baton, bolt_app: App, *, host: str = "0.0.0.0", port: int | None = None):
        self.baton = baton
        self.bolt_app = bolt_app
        self.scheduler = Scheduler()
        self.http = HttpServer(
            create_http_app(baton, None if baton.settings.socket_mode else bolt_app),
            host=host,
            port=baton.settings.port if port is None else port,
        )
        self.socket: SocketModeHandler | None = None
        self.ticker = Ticker(
            baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure
        )

    def start(self) -> None:
        if is_sqlite(self.baton.engine):
            # SQLite means one process: whatever a crashed run left "running" is ours to redo.
            jobs.release_all(self.baton.engine, now=self.baton.clock.now())
        self.scheduler.every("refresh-people", timedelta(hours=6), self.baton.resolve_people)
        self.scheduler.every("tick", TICK, self.ticker.tick, now=True)
        self.baton.wake = lambda: self.scheduler.wake("tick")
        # Handoffs countersigned on another replica take effect here within OVERRIDES.
        self.baton.refresh_overrides()
        self.scheduler.every("overrides", OVERRIDES, self.baton.refresh_overrides)
        # An edit of R, A or an on-call, seen now or on a reload, opens a handoff receipt.
        self.baton.on_config = lambda: handoffs.sync_holders(self.baton)
        handoffs.sync_holders(self.baton)
        self.scheduler.every(
            "nudges", NUDGE_TICK, lambda: nudges.tick(self.baton, worker=self.ticker.worker), now=True
        )
        self.scheduler.start()
        self.http.start()
        if self.baton.settings.socket_mode:
            self.socket = SocketModeHandler(self.bolt_app, self.baton.settings.app_token)
            self.socket.connect()
            log.info("connected to Slack in Socket Mode; /healthz and /metrics on port %s", self.http.port)
        else:
            log.info("listening for Slack on http://0.0.0.0:%s/slack/events", self.http.port)

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
        self.http.stop()
        self.baton.wake = lambda: None
        self.baton.on_config = lambda: None
        self.scheduler.stop()
        self.ticker.shutdown()
        self.baton.engine.dispose()
