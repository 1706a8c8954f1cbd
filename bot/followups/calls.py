"""One HTTP call to a tracker (GitHub or Jira) and what its answer means.

Every call goes through `call`: httpx through bot/slack/outbound.py (a deadline for the whole
call, a connect timeout of its own), redirects never followed (a renamed repo's 301 would send
the token on to wherever it points). What a tracker answered is turned into an `Answer`, or a
`TrackerError` that says, in one sentence fit for the incident channel, what went wrong and
whether another try may work. The token is never part of either: it travels in a header only,
and any answer that echoes it has it replaced before it is masked and kept
(bot/text/outside.py).
"""

from __future__ import annotations

import email.utils
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from bot.text import outside

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for a whole call, the answer read
CONNECT = 5.0  # seconds to connect
EXCERPT = 300  # characters of a tracker's own words kept and shown
_READ = 256 * 1024  # bytes of an answer read at most (a page of 100 issues fits)

# What went wrong, by what a person does about it:
# token: refused (401/403) — set another token; missing: no such repo or project (404/410);
# invalid: the tracker refused the issue (400/422); limited: rate-limited (429, or GitHub's 403
# with Retry-After or no requests left); down: 5xx, a timeout, a broken connection — another
# try may work; other: anything else (3xx, other 4xx) — it would answer the same again.
Kind = Literal["token", "missing", "invalid", "limited", "down", "other"]
RETRIED: tuple[Kind, ...] = ("limited", "down")


class TrackerError(Exception):
    """A call that did not work. `problem` names neither token nor e-mail; `sent`: the request
    may have reached the tracker (a timeout, a broken connection, a 5xx)."""

    def __init__(
        self, problem: str, *, kind: Kind, status: int | None = None, after: timedelta | None = None
    ):
        super().__init__(problem)
        self.problem = problem
        self.kind = kind
        self.status = status
        self.after = after

    @property
    def retry(self) -> bool:
        return self.kind in RETRIED


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any  # the JSON answer (None when it was not JSON)
    text: str  # the answer as text, for an error's message (not masked: use said())
    headers: dict[str, str]


@dataclass(frozen=True)
class Issue:
    """An issue made (or found) in a tracker."""

    key: str  # acme/ml-platform#12, MLOPS-7
    url: str  # where people open it

    def stored(self) -> str:
        return json.dumps({"key": self.key, "url": self.url})

    @classmethod
    def read(cls, stored: str | None) -> Issue:
        data = json.loads(stored or "{}")
        return cls(key=str(data.get("key", "")), url=str(data.get("url", "")))


def said(text: str, secrets: tuple[str, ...]) -> str:
    """A tracker's own words as Baton keeps and shows them: any secret it echoes replaced,
    masked, mentions as text, on one line, clipped. Escape it where it is posted."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[token]")
    return outside.excerpt(text, EXCERPT)


def call(
    method: str,
    url: str,
    *,
    service: str,
    headers: dict[str, str],
    secrets: tuple[str, ...],
    auth: tuple[str, str] | None = None,
    payload: Any = None,
    params: dict[str, str] | None = None,
) -> Answer:
    """One request; never raises for the network, only TrackerError (kind "down") naming what
    happened without the URL's query or any secret."""
    import httpx

    from bot.slack import outbound

    timeout = httpx.Timeout(TIMEOUT, connect=CONNECT)
    try:
        with (
            outbound.client(total=TIMEOUT, timeout=timeout, follow_redirects=False) as client,
            client.stream(
                method,
                url,
                json=payload,
                params=params,
                headers={"User-Agent": "Baton", **headers},
                auth=auth,
            ) as resp,
        ):
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) >= _READ:
                    break
            text = body[:_READ].decode(resp.encoding or "utf-8", errors="replace")
            status, answer_headers = resp.status_code, {k.lower(): v for k, v in resp.headers.items()}
    except (httpx.ConnectTimeout, httpx.ConnectError):
        raise TrackerError(f"could not connect to {service}", kind="down") from None
    except httpx.TimeoutException:
        raise TrackerError(f"{service} did not answer within {TIMEOUT:g} s", kind="down") from None
    except httpx.HTTPError as e:  # the connection broke, or the answer was not HTTP
        raise TrackerError(f"the connection to {service} failed ({type(e).__name__})", kind="down") from None
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    return Answer(status, data, text, answer_headers)


def retry_after(headers: dict[str, str]) -> timedelta | None:
    """Retry-After as seconds or an HTTP date (GitHub may send x-ratelimit-reset instead)."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return max(timedelta(0), when - datetime.now(UTC))
    reset = headers.get("x-ratelimit-reset", "").strip()
    if reset.isdigit() and headers.get("x-ratelimit-remaining") == "0":
        return max(timedelta(seconds=1), datetime.fromtimestamp(int(reset), UTC) - datetime.now(UTC))
    return None


def refusal(answer: Answer, *, service: str, where: str, message: str) -> TrackerError:
    """A TrackerError for an answer that is not the one wanted. `where`: the repo or project,
    `message`: the tracker's own words, already through said()."""
    status = answer.status
    words = f": {message}" if message else ""
    after = retry_after(answer.headers)
    if status == 429 or (status == 403 and after is not None):
        return TrackerError(
            f"{service} is rate-limiting Baton (HTTP {status})", kind="limited", status=status, after=after
        )
    if status in (401, 403):
        return TrackerError(
            f"{service} refused the token (HTTP {status}): give it one that may create issues in {where}",
            kind="token",
            status=status,
        )
    if status in (404, 410):
        gone = " (its issues are switched off)" if status == 410 else ""
        return TrackerError(
            f"wrong repo or project: {where}{gone} ({service} answered HTTP {status})",
            kind="missing",
            status=status,
        )
    if status in (400, 422):
        return TrackerError(
            f"{service} refused the issue (HTTP {status}){words}", kind="invalid", status=status
        )
    if status >= 500:
        return TrackerError(f"{service} answered HTTP {status}", kind="down", status=status)
    if 300 <= status < 400:
        return TrackerError(
            f"{service} answered HTTP {status}, a redirect, which Baton does not follow: put the current "
            f"address and name of {where} in ownership.yaml",
            kind="other",
            status=status,
        )
    return TrackerError(f"{service} answered HTTP {status}{words}", kind="other", status=status)
