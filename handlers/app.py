"""The Bolt app: every listener registered on one App, with Baton in each request's context.

This is the outermost layer: it knows bot/, never the other way round, so the `baton` console
command starts here and hands the listeners to bot.app.cli.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slack_bolt import App, BoltContext

from bot.app import cli
from bot.slack.chat import make_client
from bot.store.runtime import Baton
from handlers import actions, commands, events, shortcuts, views
from handlers.listener import provide


def create_app(baton: Baton) -> App:
    settings = baton.settings
    app = App(
        # Bolt's own client (auth.test, views) waits out a 429; the job runner's does not.
        client=make_client(token=settings.bot_token, base_url=settings.api_url),
        signing_secret=settings.signing_secret or "",
        # Socket Mode requests are authenticated by the websocket; HTTP ones by the signature.
        request_verification_enabled=not settings.socket_mode,
        # Slack gets its answer the moment a listener's ack function returns (not on Bolt's
        # 10 ms poll for ack()); what calls Slack or the network runs after it, in lazy
        # functions (handlers/listener.py).
        process_before_response=True,
        ignoring_self_events_enabled=True,
        # Bolt checks the token (auth.test) here, once, and keeps the answer; without it Bolt
        # would call auth.test during the first request, inside Slack's 3-second window.
    )

    @app.middleware
    def provide_baton(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002 (Bolt's name)
        provide(context, baton)
        next()

    commands.register(app)
    actions.register(app)
    views.register(app)
    shortcuts.register(app)
    events.register(app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, app_factory=create_app)
