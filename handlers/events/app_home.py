"""The App Home tab: built fresh each time someone opens it, and again after a click on it.

A click on a Home button (Acknowledge, Sign) carries no response_url, so the answer a DM or a
channel would get as a reply (done, already done, refused and who may) is shown at the top of
the republished Home instead; the button it was about is gone from it by then.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk.webhook import WebhookResponse

from bot.home.overview import overview
from bot.slack.chat import ChatError
from bot.store.runtime import Baton
from handlers.listener import baton_of
from handlers.render.home import home_view

log = logging.getLogger(__name__)


def publish_home(baton: Baton, user: str, *, notice: str | None = None) -> bool:
    """Read `user`'s overview (its session closes first), then publish it; False if Slack refused."""
    view = home_view(overview(baton=baton, user=user), notice=notice)
    try:
        baton.chat.publish_view(user, view)
    except ChatError as e:
        # The next opening of the tab tries again; nothing is lost by not retrying now.
        log.warning("App Home of %s not published: %s", user, e)
        return False
    return True


def app_home_opened(event: dict[str, Any], context: BoltContext) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab is a DM with Baton: nothing to draw
    user = str(event.get("user") or "")
    if user:
        publish_home(baton_of(context), user)


def from_home(body: dict[str, Any]) -> bool:
    """Whether a block action was clicked on the Home tab."""
    return (body.get("view") or {}).get("type") == "home"


class _HomeRespond(Respond):
    """respond() for a click on Home: republishes the clicker's Home with the answer on top."""

    def __init__(self, baton: Baton, user: str) -> None:
        super().__init__(response_url=None)
        self.baton, self.user = baton, user

    def __call__(self, text: str | dict[str, Any] = "", *args: Any, **kwargs: Any) -> WebhookResponse:
        notice = text if isinstance(text, str) else str(text.get("text", ""))
        published = publish_home(self.baton, self.user, notice=notice or None)
        return WebhookResponse(url="", status_code=200 if published else 500, body="", headers={})


def answer_on_home(respond: Respond, body: dict[str, Any], context: BoltContext) -> Respond:
    """`respond` as it is, or, for a click on the Home tab, one that answers by republishing it."""
    if not from_home(body):
        return respond
    return _HomeRespond(baton_of(context), str(body["user"]["id"]))
