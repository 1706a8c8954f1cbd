"""Alertmanager's notification read as it arrives.

Alertmanager sends a group's alerts in one POST and never retries a 4xx: a notification Baton
refused as too large (about 2,400 alerts of an ordinary shape made 1 MiB) was lost, incident and
all. So the body is not held whole: its top-level fields are kept, the first MAX_ALERTS alerts
(at most KEPT_BYTES of them) are kept, and every later alert is read, counted and dropped. Memory
stays bounded by what is kept, whatever the group's size, and the incident is declared from the
alerts read, saying how many were not (Alertmanager's own `truncatedAlerts`, when the receiver
sets `max_alerts`, is added to that count).

Alertmanager writes `alerts` before `groupKey` and `version`, so a prefix of the body would not
do: the whole body is streamed, up to MAX_BODY.
"""

from __future__ import annotations

import codecs
from typing import Any

from bot.store import inbound

MAX_ALERTS = 1000  # alerts of one notification Baton reads; examples/alertmanager sets max_alerts to it
KEPT_BYTES = 1024 * 1024  # JSON of the alerts kept; past it, later alerts are counted, not kept
MAX_VALUE = 1024 * 1024  # one alert, or the top-level fields together: larger is not a notification
MAX_BODY = 64 * 1024 * 1024  # the whole stream (about 150,000 alerts); past it, 413
_WHITESPACE = " \t\n\r"


class NotNotification(ValueError):
    """Why the body is not an Alertmanager notification (alertmanager.BadPayload says it)."""


_NOT_JSON = "the body is not JSON"
_NOT_OBJECT = "the body is not a JSON object"


class Reader:
    """Feed the body chunk by chunk; `end()` gives the top-level fields with the alerts kept,
    and how many alerts were read but not kept."""

    def __init__(self, keep: int = MAX_ALERTS) -> None:
        self._keep = keep
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._state = "start"
        self._key = ""
        self._kept_bytes = 0
        self.fields: dict[str, Any] = {}
        self.alerts: list[Any] = []
        self.cut = 0
        self._had_alerts = False
        self._field_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self._take(chunk, final=False)

    def end(self) -> tuple[dict[str, Any], int]:
        self._take(b"", final=True)
        if self._state == "other":
            try:
                data = inbound.loads(self._buf)
            except inbound.TooDeep as e:
                raise NotNotification(str(e)) from None
            except ValueError:
                raise NotNotification(_NOT_JSON) from None
            raise NotNotification(_NOT_OBJECT if not isinstance(data, dict) else _NOT_JSON)
        if self._state != "done":
            raise NotNotification(_NOT_JSON)
        return {**self.fields, **({"alerts": self.alerts} if self._had_alerts else {})}, self.cut

    def _take(self, chunk: bytes, *, final: bool) -> None:
        try:
            self._buf += self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            raise NotNotification(_NOT_JSON) from None
        pos = self._run(final)
        self._buf = self._buf[pos:]

    def _run(self, final: bool) -> int:  # noqa: C901 (one state machine, read top to bottom)
        """Consume what the buffer holds; return where it stopped (the rest waits for more)."""
        buf, pos = self._buf, 0
        while True:
            if self._state == "other":
                if len(buf) > MAX_VALUE:
                    raise NotNotification(_NOT_OBJECT)
                return pos
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            if pos == len(buf):
                return pos
            c, state = buf[pos], self._state
            if state == "start":
                if c == "{":
                    pos, self._state = pos + 1, "first_key"
                else:
                    self._state = "other"  # read whole (it is small, or refused) to say what it is
            elif state in ("first_key", "key"):
                if c == "}" and state == "first_key":
                    pos, self._state = pos + 1, "done"
                    continue
                if c != '"':
                    raise NotNotification(_NOT_JSON)
                got = self._value(buf, pos, final, depth=1)
                if got is None:
                    return pos
                self._key, pos = got
                self._state = "colon"
            elif state == "colon":
                if c != ":":
                    raise NotNotification(_NOT_JSON)
                pos, self._state = pos + 1, "value"
            elif state == "value":
                if self._key == "alerts" and c == "[":
                    if self._had_alerts:
                        raise NotNotification(
                            "`alerts` is given twice: expected Alertmanager's webhook payload"
                        )
                    self._had_alerts = True
                    pos, self._state = pos + 1, "alerts_first"
                    continue
                got = self._value(buf, pos, final, depth=1)
                if got is None:
                    return pos
                value, end = got
                self._field_bytes += end - pos
                if self._field_bytes > MAX_VALUE:
                    raise NotNotification(f"the fields besides `alerts` are larger than {MAX_VALUE} bytes")
                self.fields[self._key] = value
                pos, self._state = end, "after_value"
            elif state == "after_value":
                if c not in ",}":
                    raise NotNotification(_NOT_JSON)
                pos, self._state = pos + 1, ("key" if c == "," else "done")
            elif state == "alerts_first" and c == "]":
                pos, self._state = pos + 1, "after_value"
            elif state in ("alerts_first", "alert"):
                got = self._value(buf, pos, final, depth=2)
                if got is None:
                    return pos
                alert, end = got
                size = end - pos
                if len(self.alerts) < self._keep and self._kept_bytes + size <= KEPT_BYTES:
                    self.alerts.append(alert)
                    self._kept_bytes += size
                else:
                    self.cut += 1
                pos, self._state = end, "after_alert"
            elif state == "after_alert":
                if c not in ",]":
                    raise NotNotification(_NOT_JSON)
                pos, self._state = pos + 1, ("alert" if c == "," else "after_value")
            else:  # done: nothing may follow the object
                raise NotNotification(_NOT_JSON)

    def _value(self, buf: str, pos: int, final: bool, *, depth: int) -> tuple[Any, int] | None:
        """The JSON value at `pos` and where it ends; None while it may still be arriving."""
        try:
            value, end = inbound.raw_decode(buf, pos, limit=inbound.MAX_DEPTH - depth)
        except inbound.TooDeep as e:
            raise NotNotification(str(e)) from None
        except ValueError:
            if final:
                raise NotNotification(_NOT_JSON) from None
            if len(buf) - pos > MAX_VALUE:
                raise NotNotification(f"one alert or field is larger than {MAX_VALUE} bytes") from None
            return None
        # A number at the end of what arrived may go on in the next chunk.
        if end == len(buf) and not final:
            return None
        return value, end
