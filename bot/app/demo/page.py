"""The demo's page and its API: what a person does on the page reaches Baton as Slack sends it.

Each command, button and modal is one request to Baton's `/slack/events`, built by
slack_requests and signed with the run's signing secret; response_urls are the stand-in's, so
`respond()` lands where Slack would put it. The page reads `/state` (JSON, with an ETag);
bot/app/demo/server.py serves it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx

from bot.app.demo import slack_requests as sr
from bot.app.demo import state
from bot.app.demo.slack_views import view_submission_body
from bot.app.demo.workspace import Person

if TYPE_CHECKING:  # the stand-in is loaded when the demo runs, not for --help
    from bot.slack.standin import FakeSlack

COMMANDS = ("/incident", "/owner", "/readiness", "/slo")
# The message shortcut's callback_id in slack-app-manifest.yaml (a test keeps them in step).
EVIDENCE_SHORTCUT = "add_evidence"
CALLS_KEPT = 5000


class Refused(Exception):
    """A request the page's API does not take; the message is shown on the page."""


class Demo:
    """The page's side of a demo run: sends as people, reads what the stand-in holds."""

    def __init__(
        self,
        fake: FakeSlack,
        baton_url: str,
        secret: str,
        people: list[Person],
        *,
        groups: dict[str, str],
        db_url: str,
        speed: float,
        origin: float,
    ) -> None:
        self.fake = fake
        self.events_url = f"{baton_url}/slack/events"
        self.secret = secret
        self.people = people
        self.handles = {p.id: p.handle for p in people}
        self.groups = groups
        self.speed = speed
        self.origin = origin
        self.client = httpx.Client(timeout=30)
        self.engine = state.read_only_engine(db_url)
        self._lock = threading.Lock()
        self._replies: list[dict[str, Any]] = []  # what Baton answered in the HTTP response (ack)
        self._owners: dict[str, str] = {}  # trigger_id -> the person whose action opened a modal
        self._closed: set[str] = set()  # modals submitted or closed

    # -- sending, as a person ------------------------------------------------------------------

    def _person(self, user: Any) -> str:
        if not isinstance(user, str) or user not in self.handles:
            raise Refused("pick a person of ownership.yaml first")
        return user

    def _channel(self, channel: Any) -> tuple[str, str]:
        found = self.fake.channels.get(channel) if isinstance(channel, str) else None
        if found is None:
            return sr.DEFAULT_CHANNEL_ID, sr.DEFAULT_CHANNEL_NAME
        return found.id, ("directmessage" if found.is_im else found.name)

    def _send(self, body: str, user: str, channel: str, trigger: str) -> dict[str, Any]:
        with self._lock:
            self._owners[trigger] = user
        resp = sr.post_signed(self.events_url, body, self.secret, client=self.client)
        reply: dict[str, Any] = {}
        if resp.content:
            try:
                reply = resp.json()
            except ValueError:
                reply = {"text": resp.text}
        if resp.status_code == 200 and isinstance(reply, dict) and (reply.get("text") or reply.get("blocks")):
            with self._lock:
                self._replies.append(
                    {
                        "user": user,
                        "channel": channel,
                        "text": reply.get("text", ""),
                        "blocks": reply.get("blocks"),
                        "ts": f"{time.time():.6f}",
                    }
                )
                del self._replies[: -state.KEEP * 4]  # a long demo keeps only the latest
        return {"ok": resp.status_code == 200, "status": resp.status_code, "reply": reply}

    def command(self, user: Any, text: Any, channel: Any) -> dict[str, Any]:
        user = self._person(user)
        typed = str(text or "").strip()
        name, _, rest = typed.partition(" ")
        if name not in COMMANDS:
            raise Refused(
                f"type one of {', '.join(COMMANDS)}, e.g. /incident P1 model-quality Answers are wrong"
            )
        channel_id, channel_name = self._channel(channel)
        trigger = sr.new_trigger_id()
        body = sr.slash_command_body(
            name,
            rest.strip(),
            user_id=user,
            user_name=self.handles[user],
            channel_id=channel_id,
            channel_name=channel_name,
            trigger_id=trigger,
            response_url=self.fake.response_url(channel_id, user),
        )
        return self._send(body, user, channel_id, trigger)

    def action(self, user: Any, data: dict[str, Any]) -> dict[str, Any]:
        user = self._person(user)
        channel_id, channel_name = self._channel(data.get("channel"))
        ts = str(data.get("ts") or "")
        found = self.fake.channels.get(channel_id)
        source = found.message(ts) if found else None
        trigger = sr.new_trigger_id()
        body = sr.block_actions_body(
            str(data.get("action_id") or ""),
            str(data.get("value") or ""),
            user_id=user,
            user_name=self.handles[user],
            channel_id=channel_id,
            channel_name=channel_name,
            message_ts=ts or None,
            message=dict(source) if source else None,
            is_ephemeral=source is None,
            block_id=str(data.get("block_id") or "actions"),
            trigger_id=trigger,
            response_url=self.fake.response_url(channel_id, user, ts or None),
        )
        return self._send(body, user, channel_id, trigger)

    def shortcut(self, user: Any, data: dict[str, Any]) -> dict[str, Any]:
        """The message shortcut of slack-app-manifest.yaml ("Add to incident evidence") on a
        message of a channel: Baton adds it, or opens its form asking which incident."""
        user = self._person(user)
        channel_id, channel_name = self._channel(data.get("channel"))
        found = self.fake.channels.get(channel_id)
        source = found.message(str(data.get("ts") or "")) if found and not found.is_im else None
        if source is None:
            raise Refused("pick a message of a channel to add to the evidence")
        trigger = sr.new_trigger_id()
        body = sr.message_shortcut_body(
            EVIDENCE_SHORTCUT,
            user_id=user,
            user_name=self.handles[user],
            channel_id=channel_id,
            channel_name=channel_name,
            message=dict(source),
            trigger_id=trigger,
            response_url=self.fake.response_url(channel_id, user),
        )
        return self._send(body, user, channel_id, trigger)

    def submit(self, user: Any, view_id: Any, values: Any) -> dict[str, Any]:
        user = self._person(user)
        view = self.fake.view(str(view_id)) if isinstance(view_id, str) else None
        if view is None or self._modals().get(user, {}).get("id") != view_id:
            raise Refused("that form is not open for this person")
        trigger = sr.new_trigger_id()
        body = view_submission_body(
            view["callback_id"],
            form_state(view, values if isinstance(values, dict) else {}),
            user_id=user,
            user_name=self.handles[user],
            private_metadata=view.get("private_metadata", ""),
            view_id=view["id"],
            blocks=view.get("blocks"),
            title=(view.get("title") or {}).get("text", "Modal"),
            view_hash=view.get("hash"),
            trigger_id=trigger,
        )
        out = self._send(body, user, sr.DEFAULT_CHANNEL_ID, trigger)
        reply = out.get("reply") or {}
        if out["ok"] and reply.get("response_action") != "errors":
            self.close(user, view_id)
        return out

    def close(self, user: Any, view_id: Any) -> None:
        self._person(user)
        with self._lock:
            self._closed.add(str(view_id))

    # -- reading -------------------------------------------------------------------------------

    def _modals(self) -> dict[str, dict[str, Any]]:
        """Each person's open modal: the last view Baton opened with a trigger of theirs."""
        with self._lock:
            owners, closed = dict(self._owners), set(self._closed)
        out: dict[str, dict[str, Any]] = {}
        for record in list(self.fake.view_records):
            owner = owners.get(record.trigger_id or "")
            if record.action in ("open", "push") and owner and record.view["id"] not in closed:
                current = self.fake.view(record.view["id"])
                if current is not None:
                    out[owner] = current
        return out

    def file(self, file_id: str) -> bytes | None:
        """A file Baton shared in a conversation (files.completeUploadExternal), or None."""
        return self.fake.shared_file(file_id)

    def state(self) -> dict[str, Any]:
        fake = self.fake
        if len(fake.calls) > CALLS_KEPT:  # the stand-in records every call, for tests: not here
            fake.reset_calls()
        channels, dms = [], {}
        for ch in list(fake.channels.values()):
            msgs = [state.message(m, fake.shared_file) for m in fake.messages(ch.id)[-state.KEEP :]]
            if ch.is_im:
                if ch.user in self.handles:
                    dms[ch.user] = {"id": ch.id, "messages": msgs}
                continue
            channels.append(
                {
                    "id": ch.id,
                    "name": ch.name,
                    "topic": ch.topic,
                    "archived": ch.archived,
                    "members": sorted(ch.members),
                    "messages": msgs,
                }
            )
        ephemerals: dict[str, list[dict[str, Any]]] = {}
        for e in fake.ephemerals():
            ephemerals.setdefault(e.user, []).append(
                {"channel": e.channel, "text": e.text, "blocks": e.blocks, "ts": e.message_ts}
            )
        with self._lock:
            for r in self._replies:
                ephemerals.setdefault(r["user"], []).append(
                    {k: r[k] for k in ("channel", "text", "blocks", "ts")}
                )
        for items in ephemerals.values():
            items.sort(key=lambda e: float(e["ts"] or 0))
            del items[: -state.KEEP]
        try:
            incidents = state.steps(self.engine)
        except Exception:  # noqa: BLE001 - a database busy or not there yet: the page shows no steps
            incidents = []
        return {
            "people": [{"id": p.id, "handle": p.handle, "name": p.name} for p in self.people],
            "names": {**self.groups, **{u.id: u.name for u in list(fake.users.values())}},
            "channels": channels,
            "dms": dms,
            "ephemerals": ephemerals,
            "modals": self._modals(),
            "incidents": incidents,
        }


def form_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The modal's `state.values` as Slack sends them, from the page's {block_id: {action_id: value}}."""
    out: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        block_id, action_id = block.get("block_id"), element.get("action_id")
        if block.get("type") != "input" or not block_id or not action_id:
            continue
        given = values.get(block_id, {})
        value = given.get(action_id) if isinstance(given, dict) else None
        value = str(value) if value not in (None, "") else None
        kind = element.get("type")
        if kind == "static_select":
            options = [
                o
                for g in element.get("option_groups") or [{"options": element.get("options")}]
                for o in g["options"] or []
            ]
            chosen = next((o for o in options if o.get("value") == value), None)
            out[block_id] = {action_id: {"type": kind, "selected_option": chosen}}
        else:
            out[block_id] = {action_id: {"type": kind or "plain_text_input", "value": value}}
    return out
