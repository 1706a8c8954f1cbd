"""The Slack port: the one module that talks to Slack's Web API (through slack_sdk).

The domain calls these methods with plain values and gets plain values back; a refused call
raises ChatError, which says whether trying again later can help.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse

log = logging.getLogger(__name__)

# Errors that mean "not now" rather than "never": the caller keeps the work and retries later.
_TRANSIENT = {
    "ratelimited",
    "rate_limited",
    "service_unavailable",
    "internal_error",
    "fatal_error",
    "request_timeout",
}


# Failures after which Slack may have done the work all the same (the answer was lost, or Slack
# failed after acting): a retry of a call that is not idempotent looks before doing it again.
_MAYBE_DONE = {"internal_error", "fatal_error", "request_timeout", "service_unavailable"}


class ChatError(Exception):
    """A Slack call that failed; `retryable` says whether later can help, `after` how much later,
    `maybe_done` whether Slack may have done it all the same (a lost answer, a 5xx)."""

    def __init__(
        self,
        method: str,
        error: str,
        retryable: bool,
        after: timedelta | None = None,
        *,
        maybe_done: bool = False,
    ):
        super().__init__(method, error)
        self.method, self.error, self.retryable, self.after = method, error, retryable, after
        self.maybe_done = maybe_done

    def __str__(self) -> str:
        return f"Slack {self.method} failed: {self.error}"


class _Idempotent(RetryHandler):
    """`inner`'s retries, except of a call that is not idempotent (NOT_IDEMPOTENT): after a 5xx
    or a connection lost under it Slack may have carried it out, and slack_sdk would send it
    again blind. Such a failure reaches the caller (ChatError.maybe_done), which looks first."""

    def __init__(self, inner: RetryHandler):
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request.url) in NOT_IDEMPOTENT:
            return False
        return self.inner._can_retry(state=state, request=request, response=response, error=error)


def _method_of(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def make_client(
    *, token: str, base_url: str, timeout: int = 10, max_retries: int = 2, wait_on_rate_limit: bool = True
) -> WebClient:
    """A WebClient that retries connection errors and 5xx (except of a call that is not
    idempotent, see _Idempotent), and 429 after Retry-After (a 429 is a call Slack did not do).

    The job runner passes wait_on_rate_limit=False: a rate-limited call then fails at once with
    ChatError.after, and the job is rescheduled instead of holding a worker (and the pages
    queued behind it) asleep for Retry-After seconds.
    """
    handlers: list[RetryHandler] = [
        _Idempotent(ConnectionErrorRetryHandler(max_retry_count=max_retries)),
        _Idempotent(ServerErrorRetryHandler(max_retry_count=max_retries)),
    ]
    if wait_on_rate_limit:
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_retries))
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)


class Chat:
    """Slack Web API calls Baton makes. Every method raises ChatError on failure."""

    def __init__(self, client: WebClient, *, before_call: Callable[[str], None] | None = None):
        self.client = client
        # Asked before every call with the method's name (the runtime checks that no database
        # transaction is open: a slow Slack must never hold a lock).
        self.before_call = before_call
        # For calls that must reach Slack at most once per call (NOT_IDEMPOTENT: a post, a new
        # channel), whatever client Baton was given: only a 429, which Slack did not act on, is
        # tried again by slack_sdk; a lost answer surfaces as an error, never as a second post.
        self._once = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=[h for h in client.retry_handlers if isinstance(h, RateLimitErrorRetryHandler)],
        )
        self._bot_user_id: str | None = None

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return self._call_with(method, kwargs)

    def _call_with(self, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        resp = self._response_with(method, kwargs)
        return dict(resp.data) if isinstance(resp.data, dict) else {}

    def _response(self, method: str, **kwargs: Any) -> SlackResponse:
        return self._response_with(method, kwargs)

    def _response_with(self, method: str, kwargs: dict[str, Any]) -> SlackResponse:
        if self.before_call is not None:
            self.before_call(method)
        client = self._once if method in NOT_IDEMPOTENT else self.client
        try:
            if method in _JSON:
                return client.api_call(method, json=kwargs)
            return client.api_call(method, data=kwargs)
        except SlackApiError as e:
            status = e.response.status_code
            error = str(e.response.get("error") or f"http_{status}")
            after = None
            if status == 429:
                headers = e.response.headers or {}
                retry_after = str(headers.get("Retry-After") or headers.get("retry-after") or "")
                after = timedelta(seconds=int(retry_after)) if retry_after.isdigit() else None
            retryable = status == 429 or status >= 500 or error in _TRANSIENT
            maybe = status >= 500 or error in _MAYBE_DONE
            raise ChatError(method, error, retryable, after, maybe_done=maybe) from None
        except SlackClientError as e:
            raise ChatError(method, type(e).__name__, True, maybe_done=True) from None
        except OSError as e:  # connection refused / reset after the retry handler gave up
            raise ChatError(method, f"network: {type(e).__name__}", True, maybe_done=True) from None

    # -- identity --------------------------------------------------------------------------
    def auth_test(self) -> dict[str, Any]:
        answer = self._call("auth.test")
        self._bot_user_id = str(answer.get("user_id") or "") or None
        return answer

    def bot_user_id(self) -> str | None:
        """Baton's own user ID (from auth.test, asked once)."""
        if self._bot_user_id is None:
            self.auth_test()
        return self._bot_user_id

    def granted_scopes(self) -> frozenset[str] | None:
        """The bot token's scopes, from Slack's X-OAuth-Scopes header (None if it is not sent)."""
        headers = {k.lower(): v for k, v in (self._response("auth.test").headers or {}).items()}
        value = headers.get("x-oauth-scopes")
        if isinstance(value, list):  # some transports keep repeated headers as lists
            value = ",".join(value)
        return None if value is None else frozenset(s.strip() for s in str(value).split(",") if s.strip())

    def user(self, user_id: str) -> dict[str, Any] | None:
        """A user's profile (deactivated ones have deleted: true), or None when there is no such user."""
        try:
            return dict(self._call("users.info", user=user_id)["user"])
        except ChatError as e:
            if e.error in ("user_not_found", "user_not_visible"):
                return None
            raise

    def user_groups(self) -> list[dict[str, Any]]:
        """Every user group of the workspace, disabled ones included (date_delete > 0)."""
        return [dict(g) for g in self._call("usergroups.list", include_disabled=True)["usergroups"]]

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """A conversation's details, or None when Baton cannot see it (missing, or private without Baton)."""
        try:
            return dict(self._call("conversations.info", channel=channel_id)["channel"])
        except ChatError as e:
            if e.error == "channel_not_found":
                return None
            raise

    def lookup_user_by_email(self, email: str) -> str | None:
        """The user's ID, or None when no Slack user has that e-mail."""
        try:
            return str(self._call("users.lookupByEmail", email=email)["user"]["id"])
        except ChatError as e:
            if e.error == "users_not_found":
                return None
            raise

    # -- messages --------------------------------------------------------------------------
    def post_message(
        self,
        channel: str,
        *,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        key: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Post to a channel, DM channel or user ID (in the thread of `thread_ts` when given);
        returns the message ts.

        `key`: Baton's own name for this message, carried in its metadata, so that
        `find_posted` can tell whether a post whose answer was lost went out. A post is sent
        once per call (slack_sdk's retries would post again blindly after a 5xx or a dropped
        connection): the caller looks before trying again."""
        args: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            args["blocks"] = list(blocks)
        if key is not None:
            args["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"key": key}}
        if thread_ts is not None:
            args["thread_ts"] = thread_ts
        return str(self._call_with("chat.postMessage", args)["ts"])

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Edit Baton's message `ts` in `channel` in place (chat.update: the same call again
        leaves the same message, so a retry is safe). Without `blocks` the message's blocks are
        emptied, so the text is what is shown."""
        self._call_with(
            "chat.update", {"channel": channel, "ts": ts, "text": text, "blocks": list(blocks or [])}
        )

    def find_posted(
        self, channel: str, key: str, *, oldest: float, thread_ts: str | None = None
    ) -> str | None:
        """The ts of Baton's message carrying `key` in `channel` (a channel's ID, or a user's
        for their DM with Baton), posted after `oldest` (epoch seconds), or None. None as well
        where Slack will not let Baton read it (a scope the app lacks: im:history, im:write,
        groups:history), said in the log: the caller then sends again. A reply is looked for in
        its thread (`thread_ts`: conversations.replies), as a channel's history leaves replies out."""
        conversation = self._conversation(channel, key)
        if conversation is None:
            return None
        cursor = ""
        for _ in range(5):  # 1,000 messages since the earlier try: further back is not a retry
            args: dict[str, Any] = {"channel": conversation, "oldest": f"{oldest:.6f}", "limit": 200}
            args["include_all_metadata"] = True
            if thread_ts is not None:
                args["ts"] = thread_ts
            if cursor:
                args["cursor"] = cursor
            try:
                data = self._call_with(
                    "conversations.replies" if thread_ts is not None else "conversations.history", args
                )
            except ChatError as e:
                if e.retryable:
                    raise
                log.warning("cannot look for message %s in %s (%s): sending it again", key, channel, e.error)
                return None
            for message in data.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("key") == key:
                    return str(message["ts"])
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        return None

    def _conversation(self, channel: str, key: str) -> str | None:
        """The conversation a post to `channel` lands in: a user's DM with Baton for a user ID."""
        if not channel.startswith(("U", "W")):
            return channel
        try:
            return str(self._call("conversations.open", users=channel)["channel"]["id"])
        except ChatError as e:
            if e.retryable:
                raise
            log.warning("cannot open the DM to look for message %s (%s): sending it again", key, e.error)
            return None

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message of a channel by its ts (None if it is gone or out of reach)."""
        try:
            data = self._call(
                "conversations.history", channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )
        except ChatError as e:
            if e.retryable:
                raise
            return None
        messages = data.get("messages") or []
        return dict(messages[0]) if messages else None

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])
        except ChatError:
            return None

    # -- channels --------------------------------------------------------------------------
    def create_channel(self, name: str) -> str:
        return str(self._call("conversations.create", name=name)["channel"]["id"])

    def find_channel(self, name: str) -> dict[str, Any] | None:
        """The public, unarchived channel called `name`, or None (pages through the list)."""
        cursor = ""
        while True:
            data = self._call(
                "conversations.list",
                types="public_channel",
                exclude_archived=True,
                limit=1000,
                **({"cursor": cursor} if cursor else {}),
            )
            for channel in data.get("channels") or []:
                if channel.get("name") == name:
                    return dict(channel)
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None

    def invite(self, channel: str, users: Sequence[str]) -> None:
        if not users:
            return
        try:
            self._call("conversations.invite", channel=channel, users=",".join(users))
        except ChatError as e:
            if e.error != "already_in_channel":
                raise

    def set_topic(self, channel: str, topic: str) -> None:
        self._call("conversations.setTopic", channel=channel, topic=topic[:250])

    def pin(self, channel: str, ts: str) -> None:
        try:
            self._call("pins.add", channel=channel, timestamp=ts)
        except ChatError as e:
            if e.error != "already_pinned":
                raise

    # -- files -----------------------------------------------------------------------------
    def upload_file(
        self, channel: str, *, filename: str, content: bytes, title: str, comment: str | None = None
    ) -> str:
        """Share a file in `channel` the way Slack asks since files.upload retired: an upload
        URL (files.getUploadURLExternal), the bytes POSTed there, then files.completeUploadExternal.
        The file's ID."""
        got = self._call("files.getUploadURLExternal", filename=filename, length=len(content))
        url, file_id = str(got.get("upload_url") or ""), str(got.get("file_id") or "")
        if not url or not file_id:
            raise ChatError("files.getUploadURLExternal", "no upload_url in the answer", True)
        self._post_bytes(url, filename, content)
        shared: dict[str, Any] = {
            "files": json.dumps([{"id": file_id, "title": title}]),
            "channel_id": channel,
        }
        if comment:
            shared["initial_comment"] = comment
        self._call_with("files.completeUploadExternal", shared)
        return file_id

    def _post_bytes(self, url: str, filename: str, content: bytes) -> None:
        if self.before_call is not None:
            self.before_call("files.upload")
        try:
            answer = httpx.post(
                url,
                files={"file": (filename, content, "application/octet-stream")},
                timeout=self.client.timeout,
            )
        except httpx.HTTPError as e:
            raise ChatError("files.upload", f"network: {type(e).__name__}", True, maybe_done=True) from None
        if answer.status_code != 200:
            status = answer.status_code
            raise ChatError("files.upload", f"http_{status}", status == 429 or status >= 500)

    # -- views -----------------------------------------------------------------------------
    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views.open", trigger_id=trigger_id, view=view)

    def publish_view(self, user_id: str, view: dict[str, Any]) -> None:
        """Publish `view` as `user_id`'s App Home tab."""
        self._call("views.publish", user_id=user_id, view=view)


# The same split as slack_sdk's own helpers: JSON for chat.* and views.*, form-encoded for the rest.
_JSON = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "views.open",
        "views.publish",
    }
)
# Not idempotent: a retry after a lost answer (a 5xx, a connection dropped after the request
# went) may do it twice.
NOT_IDEMPOTENT = frozenset({"chat.postMessage", "chat.postEphemeral", "conversations.create"})
# The metadata event type of Baton's keyed messages (see post_message).
METADATA_EVENT = "baton_delivery"
