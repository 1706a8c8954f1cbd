"""Tests of the test bed itself: FakeSlack through a real slack_sdk WebClient, the Socket Mode
stand-in through slack_sdk's builtin SocketModeClient, and the signing/body helpers through
slack_sdk's SignatureVerifier and a real Bolt App."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator, RateLimitErrorRetryHandler

# ServerErrorRetryHandler is not re-exported by slack_sdk.http_retry (3.47).
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.standin import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, DEFAULT_USERS, FakeSlack, generate, load_spec
from tests import slack_signing as ss
from tests.conftest import BATON, SHIPPED_OWNERSHIP, SIGNING_SECRET, add_people, clean_env, serve_env
from tests.slack_signing import post_signed, slash_command_body

MAYA, LEO, PRIYA = (u[0] for u in DEFAULT_USERS)
SPEC = Path(__file__).resolve().parent.parent / "data" / "slack_web_openapi_v2.json"
SECRET = "test-secret-8f3e1c0ffee"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as f:
        yield f


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.url, token=fake.bot_token)


def error_of(call: Any) -> str:
    """Run ``call`` expecting a SlackApiError and return its error code."""
    with pytest.raises(SlackApiError) as info:
        call()
    return str(info.value.response["error"])


# -- state round trip ------------------------------------------------------------------------


def test_incident_channel_round_trip(fake: FakeSlack, client: WebClient) -> None:
    created = client.conversations_create(name="inc-42-db-down")
    cid = created["channel"]["id"]
    assert cid.startswith("C") and created["channel"]["is_member"] is True

    client.conversations_invite(channel=cid, users=[MAYA, LEO])
    client.conversations_setTopic(channel=cid, topic="P1: primary DB down")
    posted = client.chat_postMessage(channel=cid, text="Incident declared", blocks=[{"type": "divider"}])
    client.pins_add(channel=cid, timestamp=posted["ts"])
    client.reactions_add(channel=cid, timestamp=posted["ts"], name="rotating_light")

    info = client.conversations_info(channel=cid, include_num_members=True)["channel"]
    assert info["topic"]["value"] == "P1: primary DB down"
    assert info["num_members"] == 3
    assert client.conversations_members(channel=cid)["members"] == sorted([BOT_USER_ID, MAYA, LEO])

    channel = fake.channel_by_name("inc-42-db-down")
    assert channel is not None and channel.id == cid
    assert channel.pins == [posted["ts"]]
    [message] = fake.messages(cid)
    # blocks were sent as JSON by slack_sdk and must come back as a list, not a string
    assert message["text"] == "Incident declared" and message["blocks"] == [{"type": "divider"}]
    assert message["reactions"] == [{"name": "rotating_light", "users": [BOT_USER_ID], "count": 1}]
    assert client.chat_getPermalink(channel=cid, message_ts=posted["ts"])["permalink"].endswith(
        "p" + posted["ts"].replace(".", "")
    )

    updated = client.chat_update(channel=cid, ts=posted["ts"], text="Incident resolved")
    assert updated["message"]["text"] == "Incident resolved"
    assert fake.messages(cid)[0]["text"] == "Incident resolved"


def test_dm_via_conversations_open_and_user_id(fake: FakeSlack, client: WebClient) -> None:
    first = client.conversations_open(users=MAYA)
    dm = first["channel"]["id"]
    assert dm.startswith("D") and "already_open" not in first.data
    again = client.conversations_open(users=[MAYA])
    assert again["channel"]["id"] == dm and again["already_open"] is True

    client.chat_postMessage(channel=dm, text="you are on call")
    by_user = client.chat_postMessage(channel=MAYA, text="still on call")
    assert by_user["channel"] == dm  # posting to a user id lands in the DM, as on Slack
    assert [m["text"] for m in fake.dm_messages(MAYA)] == ["you are on call", "still on call"]
    assert fake.dm_messages(LEO) == []


def test_a_dm_is_read_back_with_its_metadata_only_when_asked(fake: FakeSlack, client: WebClient) -> None:
    metadata = {"event_type": "baton_delivery", "event_payload": {"key": "7.1.dm"}}
    posted = client.chat_postMessage(channel=MAYA, text="page", metadata=metadata)
    dm = client.conversations_open(users=MAYA)["channel"]["id"]
    assert dm == posted["channel"] and dm.startswith("D")
    (plain,) = client.conversations_history(channel=dm)["messages"]
    assert plain["ts"] == posted["ts"] and "metadata" not in plain  # as Slack: only when asked
    (full,) = client.conversations_history(channel=dm, include_all_metadata=True)["messages"]
    assert full["metadata"] == metadata


def test_scopes_are_said_in_every_answer_and_missing_ones_refused(fake: FakeSlack, client: WebClient) -> None:
    scopes = client.auth_test().headers["X-OAuth-Scopes"]
    assert {"im:history", "im:write", "chat:write"} <= set(scopes.split(","))
    fake.scopes -= {"im:history", "im:write"}
    assert "im:history" not in client.auth_test().headers["X-OAuth-Scopes"].split(",")
    posted = client.chat_postMessage(channel=MAYA, text="page")  # chat:write suffices
    assert error_of(lambda: client.conversations_open(users=MAYA)) == "missing_scope"
    with pytest.raises(SlackApiError) as info:
        client.conversations_history(channel=posted["channel"])
    assert (info.value.response["error"], info.value.response["needed"]) == ("missing_scope", "im:history")
    assert client.conversations_history(channel="C0GENERAL")["ok"]  # channels:history is still there


def test_a_dropped_connection_after_the_call_was_carried_out(fake: FakeSlack) -> None:
    """status=0 closes the connection without an answer: the client cannot tell it posted, and
    slack_sdk's default ConnectionErrorRetryHandler posts it again."""
    fake.inject("chat.postMessage", status=0, effect=True)
    bare = WebClient(base_url=fake.url, token=fake.bot_token, retry_handlers=[])
    with pytest.raises(ConnectionError):  # http.client.RemoteDisconnected
        bare.chat_postMessage(channel=MAYA, text="page")
    assert [m["text"] for m in fake.dm_messages(MAYA)] == ["page"]
    assert [c.http_status for c in fake.calls_to("chat.postMessage")] == [0]
    fake.inject("chat.postMessage", status=0, effect=True)
    WebClient(base_url=fake.url, token=fake.bot_token).chat_postMessage(channel=LEO, text="twice")
    assert [m["text"] for m in fake.dm_messages(LEO)] == ["twice", "twice"]


def test_ephemeral_views_and_lookups(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postEphemeral(channel="C0GENERAL", user=MAYA, text="only you can see this")
    [eph] = fake.ephemerals(MAYA)
    assert (eph.channel, eph.text) == ("C0GENERAL", "only you can see this")
    assert fake.ephemerals(LEO) == []

    modal = {"type": "modal", "callback_id": "declare", "title": {"type": "plain_text", "text": "Declare"}}
    trigger = ss.new_trigger_id()
    opened = client.views_open(trigger_id=trigger, view=modal)["view"]
    assert fake.opened_views()[0]["callback_id"] == "declare"
    # a trigger_id opens one view only
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal)) == "exchanged_trigger_id"
    modal2 = {**modal, "callback_id": "declare2"}
    client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal2)
    assert fake.view(opened["id"])["callback_id"] == "declare2"  # type: ignore[index]
    assert (
        error_of(lambda: client.views_update(view_id=opened["id"], hash="stale", view=modal))
        == "hash_conflict"
    )

    client.views_publish(user_id=MAYA, view={"type": "home", "blocks": []})
    assert fake.home_view(MAYA) is not None and fake.home_view(LEO) is None

    assert client.users_lookupByEmail(email="Maya@Example.com")["user"]["id"] == MAYA
    assert error_of(lambda: client.users_lookupByEmail(email="ghost@example.com")) == "users_not_found"
    assert client.users_info(user=LEO)["user"]["name"] == "leo"


def test_invite_is_already_in_channel_only_when_everyone_is(fake: FakeSlack, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-43")["channel"]["id"]
    client.conversations_invite(channel=cid, users=MAYA)
    assert error_of(lambda: client.conversations_invite(channel=cid, users=MAYA)) == "already_in_channel"
    client.conversations_invite(channel=cid, users=f"{MAYA},{PRIYA}")  # partly new: ok
    assert {MAYA, PRIYA} <= fake.channels[cid].members
    assert error_of(lambda: client.conversations_invite(channel=cid, users="UNOBODY")) == "user_not_found"
    assert error_of(lambda: client.conversations_invite(channel="C404", users=MAYA)) == "channel_not_found"
    client.conversations_archive(channel=cid)
    assert error_of(lambda: client.chat_postMessage(channel=cid, text="hi")) == "is_archived"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc 44", "invalid_name_specials"),
        ("inc#44", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("---", "invalid_name_punctuation"),
        ("general", "name_taken"),
    ],
)
def test_channel_name_rules(client: WebClient, name: str, error: str) -> None:
    assert error_of(lambda: client.conversations_create(name=name)) == error


def test_channel_name_limits_accept_valid_names(client: WebClient) -> None:
    assert client.conversations_create(name="x" * 80)["ok"]
    assert client.conversations_create(name="inc_45-b2")["ok"]


# -- validation against the spec ---------------------------------------------------------------


def test_method_list_holds_the_spec_and_the_overlay() -> None:
    spec = load_spec()
    assert "chat.postMessage" in spec and "apps.connections.open" in spec
    assert spec["chat.postMessage"].required == (
        (("channel",), "channel_not_found"),
        (("text", "blocks", "attachments"), "no_text"),
    )
    assert "msg_too_long" in spec["chat.postMessage"].errors  # the spec's own error list
    assert not spec["api.test"].needs_token and spec["apps.connections.open"].token == "app"
    assert spec["bookmarks.add"].newer_than_spec and not spec["chat.postMessage"].newer_than_spec


def test_shipped_method_list_is_the_generators_output_on_the_vendored_spec(tmp_path: Path) -> None:
    out = tmp_path / "methods.json"
    assert generate.main([str(SPEC), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == generate.METHODS_PATH.read_text(encoding="utf-8"), (
        "methods.json is stale: run python -m bot.slack.standin.generate tests/data/slack_web_openapi_v2.json"
    )


def test_newer_methods_name_their_doc_page_and_the_spec_still_lacks_them() -> None:
    spec_paths = json.loads(SPEC.read_text(encoding="utf-8"))["paths"]
    shipped = json.loads(generate.METHODS_PATH.read_text(encoding="utf-8"))["methods"]
    newer = {name for name, entry in shipped.items() if entry.get("newer_than_spec")}
    assert {"bookmarks.add", "bookmarks.list", "bookmarks.edit", "bookmarks.remove"} <= newer
    assert {"files.getUploadURLExternal", "files.completeUploadExternal"} <= newer
    for name in newer:
        assert "/" + name not in spec_paths, f"{name} is in the spec now: drop it from overlay.py"
        assert shipped[name]["doc"] == f"https://docs.slack.dev/reference/methods/{name}"


def test_unknown_method_is_404(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        client.api_call("chat.frobnicate", json={"channel": "C0GENERAL"})
    assert info.value.response.status_code == 404
    assert info.value.response["error"] == "unknown_method"
    assert fake.calls_to("chat.frobnicate")[0].http_status == 404


@pytest.mark.parametrize(
    ("method", "params", "error"),
    [
        ("chat.postMessage", {"channel": "C0GENERAL"}, "no_text"),
        ("chat.postMessage", {"text": "hi"}, "channel_not_found"),
        ("conversations.create", {}, "invalid_name_required"),
        ("conversations.invite", {"channel": "C0GENERAL"}, "no_user"),
        ("conversations.open", {}, "users_list_not_supplied"),
        ("conversations.setTopic", {"channel": "C0GENERAL"}, "invalid_arguments"),
        ("users.info", {}, "user_not_found"),
        (
            "views.open",
            {"view": {"type": "modal", "title": {"type": "plain_text", "text": "t"}}},
            "invalid_arguments",
        ),
        ("pins.add", {"channel": "C0GENERAL"}, "no_item_specified"),
        # required by the spec itself (not the overlay): first documented code that fits
        ("chat.getPermalink", {"channel": "C0GENERAL"}, "message_not_found"),
        ("reactions.add", {"channel": "C0GENERAL", "timestamp": "1.2"}, "invalid_name"),
        ("usergroups.users.list", {}, "invalid_arguments"),
    ],
)
def test_missing_required_arguments(
    client: WebClient, method: str, params: dict[str, Any], error: str
) -> None:
    with pytest.raises(SlackApiError) as info:
        client.api_call(method, params=params)
    assert info.value.response.status_code == 200  # Slack reports argument errors with HTTP 200
    assert info.value.response["error"] == error
    if error == "invalid_arguments":
        assert "missing required field" in info.value.response["response_metadata"]["messages"][0]


@pytest.mark.parametrize(
    ("token", "method", "error"),
    [
        ("xoxb-wrong", "auth.test", "invalid_auth"),
        (None, "auth.test", "not_authed"),
        (APP_TOKEN, "chat.postMessage", "not_allowed_token_type"),
        (BOT_TOKEN, "apps.connections.open", "not_allowed_token_type"),
    ],
)
def test_bad_tokens_are_rejected(fake: FakeSlack, token: str | None, method: str, error: str) -> None:
    client = WebClient(base_url=fake.url, token=token)
    assert error_of(lambda: client.api_call(method, params={"channel": "C0GENERAL", "text": "x"})) == error


def test_raw_http_encodings(fake: FakeSlack) -> None:
    # Slack ignores a token inside a JSON body; JSON callers must send Authorization: Bearer.
    resp = httpx.post(fake.url + "auth.test", json={"token": fake.bot_token})
    assert resp.json() == {"ok": False, "error": "not_authed"}
    form = httpx.post(fake.url + "auth.test", data={"token": fake.bot_token})
    assert form.json()["user_id"] == BOT_USER_ID
    # GET with a query string, as slack_sdk's AsyncWebClient sends read methods.
    got = httpx.get(fake.url + "users.info", params={"user": MAYA, "token": fake.bot_token})
    assert got.json()["user"]["id"] == MAYA and fake.calls[-1].http_method == "GET"
    # Form-encoded blocks arrive as a JSON string and are stored decoded.
    blocks = json.dumps([{"type": "divider"}])
    httpx.post(
        fake.url + "chat.postMessage",
        data={"channel": "C0GENERAL", "blocks": blocks},
        headers={"Authorization": f"Bearer {fake.bot_token}"},
    )
    assert fake.messages("C0GENERAL")[-1]["blocks"] == [{"type": "divider"}]


def test_unimplemented_spec_method_is_ok_and_recorded(fake: FakeSlack, client: WebClient) -> None:
    assert client.api_call("dnd.info")["ok"] is True
    assert [c.method for c in fake.calls] == ["dnd.info"]


def test_calls_record_encoding_and_token(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="hi")
    client.conversations_create(name="inc-46")
    post, create = fake.calls
    assert post.content_type.startswith("application/json") and post.token == fake.bot_token
    assert create.content_type == "application/x-www-form-urlencoded"
    assert post.params == {"channel": "C0GENERAL", "text": "hi"}
    assert post.monotonic <= create.monotonic and abs(post.wall_time - time.time()) < 5
    fake.reset_calls()
    assert fake.calls == []


# -- fault injection -----------------------------------------------------------------------


def test_rate_limit_is_honoured_by_slack_sdk_retry_handler(fake: FakeSlack) -> None:
    client = WebClient(
        base_url=fake.url,
        token=fake.bot_token,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.inject("chat.postMessage", status=429, retry_after=1)
    assert client.chat_postMessage(channel="C0GENERAL", text="after the storm")["ok"]
    limited, retried = fake.calls_to("chat.postMessage")
    assert (limited.http_status, limited.error) == (429, "ratelimited")
    assert (retried.http_status, retried.ok) == (200, True)
    assert retried.monotonic - limited.monotonic >= 1.0
    assert [m["text"] for m in fake.messages("C0GENERAL")] == ["after the storm"]


def test_rate_limit_without_retry_handler_surfaces(fake: FakeSlack, client: WebClient) -> None:
    fake.inject("auth.test", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as info:
        client.auth_test()
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert client.auth_test()["ok"]  # times=1: only the first call was limited


def test_rate_limit_holds_a_method_to_a_sliding_window(fake: FakeSlack, client: WebClient) -> None:
    now = [1000.0]  # the window's clock, moved by hand: a loaded machine must not slide it
    fake.limit_clock = lambda: now[0]
    fake.rate_limit("conversations.create", per_minute=3, window=2.0)
    for i in range(3):
        assert client.conversations_create(name=f"inc-limit-{i}")["ok"]
    with pytest.raises(SlackApiError) as info:
        client.conversations_create(name="inc-limit-3")
    refused = info.value.response
    assert (refused.status_code, refused["error"]) == (429, "ratelimited")
    # The oldest accepted call leaves the 2 s window within 2 s: Retry-After says so, rounded up.
    assert refused.headers["Retry-After"] == "2"
    assert client.chat_postMessage(channel="C0GENERAL", text="other methods are not limited")["ok"]
    assert fake.channel_by_name("inc-limit-3") is None  # refused: nothing created
    now[0] += 1.99
    assert error_of(lambda: client.conversations_create(name="inc-limit-3")) == "ratelimited"  # not yet
    now[0] += 0.02
    # The window has slid past the first three (the refused call never counted): three fit again.
    for i in range(3, 6):
        assert client.conversations_create(name=f"inc-limit-{i}")["ok"]
    assert error_of(lambda: client.conversations_create(name="inc-limit-6")) == "ratelimited"
    statuses = [c.http_status for c in fake.calls_to("conversations.create")]
    assert statuses == [200, 200, 200, 429, 429, 200, 200, 200, 429]
    fake.rate_limit("conversations.create", per_minute=0)
    assert client.conversations_create(name="inc-limit-6")["ok"]


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried_by_server_error_handler(fake: FakeSlack, status: int) -> None:
    handler = ServerErrorRetryHandler(
        max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    client = WebClient(base_url=fake.url, token=fake.bot_token, retry_handlers=[handler])
    fake.inject("users.info", status=status, times=2)
    assert client.users_info(user=MAYA)["user"]["id"] == MAYA
    assert [c.http_status for c in fake.calls_to("users.info")] == [status, status, 200]


def test_502_is_not_retried_by_server_error_handler(fake: FakeSlack) -> None:
    # slack_sdk's ServerErrorRetryHandler only retries 500 and 503.
    handler = ServerErrorRetryHandler(
        max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
    )
    client = WebClient(base_url=fake.url, token=fake.bot_token, retry_handlers=[handler])
    fake.inject("users.info", status=502)
    with pytest.raises(SlackApiError) as info:
        client.users_info(user=MAYA)
    assert info.value.response.status_code == 502
    assert len(fake.calls_to("users.info")) == 1


def test_injected_ok_false_error(fake: FakeSlack, client: WebClient) -> None:
    fake.inject("*", status=200, error="fatal_error")
    assert error_of(client.auth_test) == "fatal_error"
    assert client.auth_test()["ok"]


def test_latency_injection(fake: FakeSlack, client: WebClient) -> None:
    fake.set_latency("auth.test", 0.3)
    start = time.monotonic()
    client.auth_test()
    assert time.monotonic() - start >= 0.3
    fake.set_latency("auth.test", 0)
    start = time.monotonic()
    client.auth_test()
    assert time.monotonic() - start < 0.3


def test_wait_for_returns_value_or_explains(fake: FakeSlack, client: WebClient) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="hello")
    assert fake.wait_for(lambda: fake.messages("C0GENERAL")[-1])["text"] == "hello"
    with pytest.raises(AssertionError, match="no DM yet.*recent calls"):
        fake.wait_for(lambda: fake.dm_messages(MAYA)[0], timeout=0.1, message="no DM yet")


# -- response_url ----------------------------------------------------------------------------


def test_response_url_posts_are_captured(fake: FakeSlack, client: WebClient) -> None:
    url = fake.response_url(channel_id="C0GENERAL", user_id=MAYA)
    assert httpx.post(url, json={"text": "only maya"}).status_code == 200
    httpx.post(url, json={"text": "everyone", "response_type": "in_channel"})
    assert [p.body["text"] for p in fake.responses(url)] == ["only maya", "everyone"]
    assert fake.ephemerals(MAYA)[0].via == "response_url"
    assert [m["text"] for m in fake.messages("C0GENERAL")] == ["everyone"]
    assert httpx.post(url.rsplit("/", 1)[0] + "/nope", json={}).status_code == 404


def test_replace_original_replaces_the_whole_message_and_chat_update_keeps_blocks(
    fake: FakeSlack, client: WebClient
) -> None:
    button = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Sign"}, "action_id": "sign"}
            ],
        }
    ]
    posted = client.chat_postMessage(channel="C0GENERAL", text="sign this", blocks=button)
    ts = str(posted["ts"])
    # chat.update keeps the blocks it is not given (Slack's docs: pass [] to remove them) ...
    client.chat_update(channel="C0GENERAL", ts=ts, text="still sign this")
    assert fake.messages("C0GENERAL")[-1]["blocks"] == button
    # ... a response_url reply with replace_original is the whole new message: no button left.
    url = fake.response_url(channel_id="C0GENERAL", user_id=MAYA, message_ts=ts)
    assert httpx.post(url, json={"text": "signed", "replace_original": True}).status_code == 200
    message = fake.messages("C0GENERAL")[-1]
    assert message["text"] == "signed" and "blocks" not in message


# -- Socket Mode -----------------------------------------------------------------------------


def test_socket_mode_round_trip_with_slack_sdk_client(fake: FakeSlack) -> None:
    received: list[SocketModeRequest] = []
    messages: list[dict[str, Any]] = []

    def on_request(sm: Any, req: SocketModeRequest) -> None:
        received.append(req)
        sm.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload={"text": "ack!"})
        )

    sm = SocketModeClient(
        app_token=fake.app_token, web_client=WebClient(base_url=fake.url, token=fake.bot_token)
    )
    sm.socket_mode_request_listeners.append(on_request)
    sm.message_listeners.append(lambda _c, message, _raw: messages.append(message))
    try:
        sm.connect()
        fake.socket.wait_connected(timeout=5)
        [open_call] = fake.calls_to("apps.connections.open")
        assert open_call.token == fake.app_token and open_call.response["url"].startswith(fake.socket.url)

        payload = ss.slash_command_payload("/incident", "declare db down")
        envelope_id = fake.socket.send_envelope("slash_commands", payload)
        ack = fake.socket.wait_ack(envelope_id, timeout=5)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "ack!"}}
        assert received[0].type == "slash_commands" and received[0].payload["text"] == "declare db down"
        assert received[0].accepts_response_payload is True
        assert messages[0]["type"] == "hello" and messages[0]["connection_info"]["app_id"] == fake.app_id

        event_id = fake.socket.send_envelope("events_api", ss.event_callback_payload({"type": "app_mention"}))
        fake.socket.wait_ack(event_id)
        assert received[1].accepts_response_payload is False and received[1].retry_attempt == 0

        # Slack's "disconnect" makes the client fetch a new URL and reconnect.
        fake.socket.send_disconnect()
        fake.wait_for(lambda: len(fake.calls_to("apps.connections.open")) == 2, message="no reconnect")
        fake.wait_for(lambda: fake.socket.total_connections == 2 and fake.socket.open_connections == 1)
        again = fake.socket.send_envelope("interactive", ss.block_actions_payload("ack_page", "1"))
        assert fake.socket.wait_ack(again)["envelope_id"] == again
    finally:
        sm.close()


def test_socket_stand_in_rejects_other_paths(fake: FakeSlack) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{fake.socket.port}/elsewhere", open_timeout=2)
    with pytest.raises(AssertionError, match="no Socket Mode client"):
        fake.socket.send_envelope("events_api", {}, timeout=0.05)


# -- signing and request bodies -------------------------------------------------------------


def test_signature_matches_slack_sdk_verifier() -> None:
    body = ss.slash_command_body("/incident", "declare")
    headers = ss.sign(body, SECRET)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert SignatureVerifier(SECRET).is_valid(body, ts, sig)
    assert sig == SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    assert not SignatureVerifier("wrong-secret").is_valid(body, ts, sig)
    assert not SignatureVerifier(SECRET).is_valid(body + "x", ts, sig)
    stale = ss.sign(body, SECRET, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid(
        body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"]
    )


def test_post_signed_sends_verifiable_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ok = SignatureVerifier(SECRET).is_valid_request(request.content, dict(request.headers))
        return httpx.Response(200 if ok else 401)

    body = ss.url_verification_body("chal-123")
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        good = ss.post_signed("http://app/slack/events", body, SECRET, content_type=ss.JSON, client=http)
        bad = ss.post_signed("http://app/slack/events", body, "other", content_type=ss.JSON, client=http)
    assert (good.status_code, bad.status_code) == (200, 401)
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {
        "token": ss.VERIFICATION_TOKEN,
        "challenge": "chal-123",
        "type": "url_verification",
    }


def test_slash_command_body_fields() -> None:
    fields = {
        k: v[0]
        for k, v in parse_qs(ss.slash_command_body("/incident", "p1 db", trigger_id="1.2.abc")).items()
    }
    assert fields["command"] == "/incident" and fields["text"] == "p1 db"
    assert fields["user_id"] == ss.DEFAULT_USER_ID and fields["user_name"] == "maya"
    assert fields["trigger_id"] == "1.2.abc" and fields["response_url"].startswith("https://hooks.slack.com/")
    assert {"token", "team_id", "team_domain", "channel_id", "channel_name", "api_app_id"} <= fields.keys()


def test_event_callback_body_has_wrapper_schema_fields() -> None:
    body = json.loads(ss.event_callback_body({"type": "app_mention", "text": "hi", "ts": "1.000001"}))
    # required by tests/data-vendored slack_common_event_wrapper_schema.json upstream
    required = {"token", "team_id", "api_app_id", "event", "type", "event_id", "event_time", "authed_users"}
    assert required <= body.keys()
    assert body["type"] == "event_callback" and body["event"]["event_ts"] == "1.000001"
    assert isinstance(body["event_time"], int) and body["event_id"].startswith("Ev")


def test_default_workspace_matches_signing_defaults(fake: FakeSlack) -> None:
    assert fake.team_id == ss.DEFAULT_TEAM_ID and fake.app_id == ss.DEFAULT_APP_ID
    assert fake.bot_user_id == ss.DEFAULT_BOT_USER_ID and ss.DEFAULT_CHANNEL_ID in fake.channels
    for user_id, name in ss.DEFAULT_USER_NAMES.items():
        assert fake.users[user_id].name == name
        assert user_id in fake.channels[ss.DEFAULT_CHANNEL_ID].members


def test_bolt_app_accepts_every_body_builder(fake: FakeSlack) -> None:
    """A real Bolt App verifies the signatures and routes each body to the right listener."""
    app = App(
        client=WebClient(base_url=fake.url, token=fake.bot_token),
        signing_secret=SECRET,
        process_before_response=True,  # run listeners inline so results are visible at once
    )
    got: dict[str, Any] = {}

    @app.command("/incident")
    def on_command(ack: Any, command: dict[str, Any], say: Any) -> None:
        ack()
        got["command"] = command
        say("declared")

    @app.action("ack_page")
    def on_action(ack: Any, body: dict[str, Any]) -> None:
        ack()
        got["action"] = body

    @app.view("declare")
    def on_view(ack: Any, view: dict[str, Any]) -> None:
        ack()
        got["view"] = view

    @app.message_shortcut("make_incident")
    def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
        ack()
        got["shortcut"] = shortcut

    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        got["event"] = event

    source = fake.post_as_user("C0GENERAL", MAYA, "db is down")
    bodies = [
        (ss.slash_command_body("/incident", "db down"), ss.FORM),
        (
            ss.block_actions_body("ack_page", "inc-7", channel_id="C0GENERAL", message_ts=source["ts"]),
            ss.FORM,
        ),
        (ss.view_submission_body("declare", {"title": {"title": "DB down"}}, private_metadata="m1"), ss.FORM),
        (ss.message_shortcut_body("make_incident", channel_id="C0GENERAL", message=source), ss.FORM),
        (ss.event_callback_body({"type": "app_mention", "user": MAYA, "text": "<@UBATONBOT> hi"}), ss.JSON),
    ]
    for body, content_type in bodies:
        headers: dict[str, str | Sequence[str]] = {"content-type": content_type, **ss.sign(body, SECRET)}
        assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 200
    forged: dict[str, str | Sequence[str]] = {**ss.sign(bodies[0][0], "bad")}
    assert app.dispatch(BoltRequest(body=bodies[0][0], headers=forged)).status == 401

    assert got["command"]["text"] == "db down"
    assert fake.messages("C0GENERAL")[-1]["text"] == "declared"  # say() went through the fake
    assert got["action"]["actions"][0]["value"] == "inc-7"
    assert got["action"]["container"]["message_ts"] == source["ts"]
    assert got["view"]["state"]["values"]["title"]["title"]["value"] == "DB down"
    assert got["view"]["private_metadata"] == "m1"
    assert got["shortcut"]["message"]["text"] == "db is down"
    assert got["event"]["text"] == "<@UBATONBOT> hi"


# -- methods newer than the spec: file upload and bookmarks ------------------------------------


def test_slack_sdks_upload_v2_runs_the_three_steps_and_shares_the_bytes(
    fake: FakeSlack, client: WebClient
) -> None:
    cid = client.conversations_create(name="inc-50-upload")["channel"]["id"]
    done = client.files_upload_v2(
        channel=cid,
        content="timeline\n12:00 declared\n",
        filename="timeline.txt",
        title="Timeline",
        initial_comment="The record so far",
    )
    file_id = done["files"][0]["id"]
    assert [c.method for c in fake.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert fake.files[file_id].content == b"timeline\n12:00 declared\n"
    assert fake.files[file_id].title == "Timeline" and fake.files[file_id].channels == [cid]
    shared = fake.messages(cid)[-1]
    assert shared["text"] == "The record so far" and shared["files"][0]["id"] == file_id


def test_upload_url_keeps_the_file_part_of_a_multipart_post(fake: FakeSlack, client: WebClient) -> None:
    got = client.files_getUploadURLExternal(filename="a.txt", length=3)
    answer = httpx.post(got["upload_url"], files={"file": ("a.txt", b"abc", "text/plain")})
    assert answer.status_code == 200 and answer.text == "OK - 3"
    assert fake.files[got["file_id"]].content == b"abc"
    assert httpx.post(fake.url.replace("/api/", "/upload/F0NOPE"), content=b"x").status_code == 404


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"length": 3}, "invalid_arguments"),  # no filename
        ({"filename": "a.txt"}, "invalid_arguments"),  # no length
        ({"filename": "a.txt", "length": "three"}, "invalid_arguments"),
        ({"filename": "a.txt", "length": 0}, "missing_argument"),  # Slack's answer to length 0
    ],
)
def test_get_upload_url_refusals(client: WebClient, params: dict[str, Any], error: str) -> None:
    assert error_of(lambda: client.api_call("files.getUploadURLExternal", params=params)) == error


def test_complete_upload_refusals(fake: FakeSlack, client: WebClient) -> None:
    def complete(**params: Any) -> str:
        return error_of(lambda: client.api_call("files.completeUploadExternal", json=params))

    got = client.files_getUploadURLExternal(filename="a.txt", length=1)
    assert complete() == "invalid_arguments"  # files is required
    assert complete(files=[{"id": got["file_id"]}]) == "file_not_found"  # no bytes were uploaded yet
    httpx.post(got["upload_url"], content=b"a")
    assert complete(files=[{"id": "F0NOPE"}]) == "file_not_found"
    assert complete(files=[{"id": got["file_id"]}], channel_id="C0NOPE") == "channel_not_found"
    outside = fake.add_channel("not-mine", bot_member=False)
    assert complete(files=[{"id": got["file_id"]}], channel_id=outside.id) == "not_in_channel"
    assert client.files_completeUploadExternal(
        files=[{"id": got["file_id"], "title": "A"}], channel_id="C0GENERAL"
    )
    assert complete(files=[{"id": got["file_id"]}]) == "file_not_found"  # shared once only


def test_bookmarks_add_list_edit_remove(fake: FakeSlack, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-51-marks")["channel"]["id"]
    added = client.bookmarks_add(
        channel_id=cid, title="Runbook", type="link", link="https://runbooks.example/db"
    )
    mark = added["bookmark"]
    assert mark["title"] == "Runbook" and mark["channel_id"] == cid
    client.bookmarks_edit(channel_id=cid, bookmark_id=mark["id"], title="DB runbook")
    listed = client.bookmarks_list(channel_id=cid)["bookmarks"]
    assert [(b["id"], b["title"], b["link"]) for b in listed] == [
        (mark["id"], "DB runbook", "https://runbooks.example/db")
    ]
    client.bookmarks_remove(channel_id=cid, bookmark_id=mark["id"])
    assert client.bookmarks_list(channel_id=cid)["bookmarks"] == []
    assert (
        error_of(lambda: client.bookmarks_remove(channel_id=cid, bookmark_id=mark["id"]))
        == "bookmark_not_found"
    )


def test_bookmark_refusals(fake: FakeSlack, client: WebClient) -> None:
    def add(**params: Any) -> str:
        return error_of(lambda: client.api_call("bookmarks.add", json=params))

    link = {"title": "Runbook", "type": "link", "link": "https://runbooks.example/db"}
    assert add(title="Runbook", type="link") == "channel_not_found"  # channel_id is required
    assert add(channel_id="C0GENERAL", type="link") == "invalid_arguments"  # title is required
    assert add(**{**link, "channel_id": "C0GENERAL", "type": "message"}) == "invalid_bookmark_type"
    assert add(**{**link, "channel_id": "C0GENERAL", "link": "runbooks.example"}) == "invalid_link"
    assert add(**link, channel_id=fake.add_channel("not-mine", bot_member=False).id) == "not_in_channel"
    for n in range(100):
        client.bookmarks_add(**{**link, "title": f"r{n}"}, channel_id="C0GENERAL")
    assert add(**link, channel_id="C0GENERAL") == "too_many_bookmarks"  # Slack's 100 a channel


# -- Slack's limits ------------------------------------------------------------------------------


def _sections(n: int, text: str = "x") -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for _ in range(n)]


def _modal(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": blocks}


def test_topic_of_250_characters_is_set_and_251_is_too_long(client: WebClient) -> None:
    assert client.conversations_setTopic(channel="C0GENERAL", topic="t" * 250)["ok"]
    assert error_of(lambda: client.conversations_setTopic(channel="C0GENERAL", topic="t" * 251)) == "too_long"


def test_posting_where_the_bot_is_not_a_member_is_not_in_channel(fake: FakeSlack, client: WebClient) -> None:
    outside = fake.add_channel("not-mine", bot_member=False)
    assert error_of(lambda: client.chat_postMessage(channel=outside.id, text="hi")) == "not_in_channel"
    assert fake.messages(outside.id) == []


def test_message_text_over_40000_characters_is_msg_too_long(fake: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C0GENERAL", text="x" * 40_000)
    assert error_of(lambda: client.chat_postMessage(channel="C0GENERAL", text="x" * 40_001)) == "msg_too_long"
    long_update = lambda: client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="y" * 40_001)  # noqa: E731
    assert error_of(long_update) == "msg_too_long"
    assert error_of(lambda: client.chat_postEphemeral(channel="C0GENERAL", user=MAYA, text="z" * 40_001)) == (
        "msg_too_long"
    )
    assert fake.messages("C0GENERAL")[-1]["text"] == "x" * 40_000  # the refused update changed nothing


def test_message_blocks_over_50_or_a_section_over_3000_characters_are_invalid_blocks(
    client: WebClient,
) -> None:
    assert client.chat_postMessage(channel="C0GENERAL", text="t", blocks=_sections(50, "s" * 3000))["ok"]
    with pytest.raises(SlackApiError) as many:
        client.chat_postMessage(channel="C0GENERAL", text="t", blocks=_sections(51))
    assert many.value.response["error"] == "invalid_blocks"
    assert many.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]
    with pytest.raises(SlackApiError) as long_section:
        client.chat_postMessage(
            channel="C0GENERAL", text="t", blocks=[{"type": "divider"}, *_sections(1, "s" * 3001)]
        )
    assert long_section.value.response["error"] == "invalid_blocks"
    assert (
        "[json-pointer:/blocks/1/text/text]"
        in long_section.value.response["response_metadata"]["messages"][0]
    )


def test_view_blocks_over_100_or_a_section_over_3000_characters_are_refused(
    fake: FakeSlack, client: WebClient
) -> None:
    assert client.views_publish(user_id=MAYA, view={"type": "home", "blocks": _sections(100, "s" * 3000)})[
        "ok"
    ]
    with pytest.raises(SlackApiError) as many:
        client.views_open(trigger_id="1.2.abc", view=_modal(_sections(101)))
    assert many.value.response["error"] == "invalid_arguments"  # views.* name bad blocks so
    assert many.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
    ]
    long_home = {"type": "home", "blocks": _sections(1, "s" * 3001)}
    assert error_of(lambda: client.views_publish(user_id=MAYA, view=long_home)) == "invalid_arguments"
    assert fake.opened_views() == []


# -- baton serve never loads the stand-in --------------------------------------------------------


def test_baton_serve_never_imports_the_stand_in(fake_slack: FakeSlack, tmp_path: Path) -> None:
    """A real `baton serve` boots, answers a command and runs its ticker (a channel is created)
    while Python records every module it imports (PYTHONPROFILEIMPORTTIME, on stderr): none is
    bot.slack.standin. Only `baton demo` and the tests may load it."""
    add_people(fake_slack, SHIPPED_OWNERSHIP)
    env = {**clean_env(), **serve_env(fake_slack, tmp_path), "PYTHONPROFILEIMPORTTIME": "1"}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([BATON, "serve"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{env['PORT']}"

        def healthy() -> bool:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        fake_slack.wait_for(healthy, timeout=180, message="baton serve did not become healthy")
        body = slash_command_body("/incident", "P1 model-quality refusals up", user_id=MAYA)
        assert post_signed(f"{url}/slack/events", body, SIGNING_SECRET).status_code == 200
        fake_slack.wait_for(lambda: fake_slack.calls_to("conversations.create"), message="no channel created")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in log.read_text().splitlines() if "import time:" in line
    ]
    assert "handlers.app" in imported and "bot.incidents.rooms" in imported  # the record is complete
    assert [m for m in imported if m.startswith("bot.slack.standin")] == []
