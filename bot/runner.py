"""Start and stop a Baton: scheduler, HTTP server, and the Socket Mode connection if configured."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.chat import Chat, make_client
from bot.config import Config
from bot.db import make_engine, upgrade
from bot.runtime import Baton
from bot.scheduler import Scheduler
from bot.server import HttpServer, create_http_app
from bot.settings import Settings

log = logging.getLogger(__name__)


def boot(settings: Settings, config: Config, **overrides: object) -> Baton:
    """Database up to date, Slack port ready, e-mails resolved: a Baton ready to serve."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    chat = Chat(make_client(token=settings.bot_token, base_url=settings.api_url))
    baton = Baton(settings=settings, config=config, engine=engine, chat=chat, **overrides)  # type: ignore[arg-type]
    baton.resolve_people()
    return baton


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

    def start(self) -> None:
        self.scheduler.every("refresh-people", timedelta(hours=6), self.baton.resolve_people)
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
        self.scheduler.stop()
        self.baton.engine.dispose()
