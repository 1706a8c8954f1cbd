"""Instant queries to Prometheus's HTTP API (`GET {PROMETHEUS_URL}/api/v1/query?query=…`).

Each query comes back as a number or as the reason there is none (unreachable, a timeout, an
HTTP error, Prometheus's own error, an empty result, several series, NaN), never as an
exception: an SLO digest must say which query failed and carry on with the others.

A user name and password in PROMETHEUS_URL (`https://baton:secret@prometheus.example.com`) are
sent as HTTP basic auth and never shown: the URL Baton shows, logs and hands to httpx (whose
request log names the URL) is the one without them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.slack import outbound
from bot.text.outside import excerpt

if TYPE_CHECKING:
    import httpx  # loaded at the first query: an idle Baton does without it

log = logging.getLogger(__name__)

# A query Prometheus cannot answer in this long will not be answered usefully in a digest either.
TIMEOUT = 5.0
CONNECT_TIMEOUT = 3.0


@dataclass(frozen=True)
class Measured:
    """The query's single number (a ratio, seconds or a plain number, as the PromQL computes it)."""

    value: float


@dataclass(frozen=True)
class NotMeasured:
    """Why a query has no number. `kind` is one of: unset, unreachable, timeout, http, error,
    empty, series, nan, answer; `reason` says it in a few words for people."""

    kind: str
    reason: str

    def __str__(self) -> str:
        return self.reason


Result = Measured | NotMeasured


def shown(url: str) -> str:
    """PROMETHEUS_URL as it may be shown and logged: without a user name or password."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "PROMETHEUS_URL"
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else str(parsed)


def graph_link(url: str, query: str) -> str:
    """Prometheus's own graph page for a query, for people to look further (no credentials)."""
    return f"{shown(url).rstrip('/')}/graph?g0.expr={quote(query, safe='')}&g0.tab=0"


class Prometheus:
    """One httpx client for a run of queries (a digest, one `/slo`); close it when done.

    `budget` caps the whole run (seconds): each query waits at most what is left of it, and
    queries after it ran out are not sent. Once Prometheus cannot be reached at all, the
    remaining queries of the run are not tried again: they would each wait for the same failure.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = TIMEOUT,
        budget: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        import httpx

        parsed = httpx.URL(url)
        auth = None
        if parsed.userinfo:
            auth = httpx.BasicAuth(parsed.username, parsed.password)
            parsed = parsed.copy_with(userinfo=b"")
        self.url = str(parsed)
        self._endpoint = self.url.rstrip("/") + "/api/v1/query"
        self._timeout = timeout
        self._deadline = None if budget is None else time.monotonic() + budget
        self._budget = budget
        self._down: NotMeasured | None = None
        self._client = outbound.client(total=timeout, auth=auth, transport=transport, follow_redirects=False)

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def query(self, promql: str) -> Result:
        """The instant value of `promql` now, or why there is none."""
        if self._down is not None:
            return self._down
        wait = self._timeout
        if self._deadline is not None:
            wait = min(wait, self._deadline - time.monotonic())
            if wait <= 0.05:
                return NotMeasured("timeout", f"not asked: this answer's {self._budget:g} s were used up")
        import httpx

        timeout = httpx.Timeout(wait, connect=min(wait, CONNECT_TIMEOUT))
        try:
            resp = self._client.get(
                self._endpoint, params={"query": promql}, timeout=timeout, extensions=outbound.within(wait)
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            self._down = NotMeasured("unreachable", f"Prometheus unreachable at {self.url} ({_why(e)})")
            log.warning("%s", self._down)
            return self._down
        except httpx.TimeoutException:
            return NotMeasured("timeout", f"Prometheus did not answer within {wait:.3g} s")
        except httpx.HTTPError as e:  # the connection dropped mid-answer, a bad redirect, …
            return NotMeasured("unreachable", f"no answer from Prometheus at {self.url} ({_why(e)})")
        return _read(resp)


def _why(e: Exception) -> str:
    """A short cause from an httpx error, without the URL (it could carry credentials); masked,
    mentioning nobody, like any text from outside."""
    return excerpt(str(e) or type(e).__name__, 120)


def _read(resp: httpx.Response) -> Result:
    """Prometheus's JSON answer to an instant query, as one number or why not."""
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        # Prometheus's words (or a proxy's pretending to be it), said in the digest: masked,
        # mentioning nobody, clipped; the digest escapes them.
        error_type = excerpt(str(body.get("errorType") or f"HTTP {resp.status_code}"), 40)
        error = excerpt(str(body.get("error") or "no message"), 300)
        return NotMeasured("error", f"query error ({error_type}): {error}")
    if resp.status_code == 404:
        return NotMeasured(
            "http",
            "HTTP 404 for /api/v1/query: is PROMETHEUS_URL the server's base URL (e.g. http://prometheus:9090)?",
        )
    if resp.status_code in (401, 403):
        return NotMeasured(
            "http", f"HTTP {resp.status_code}: Prometheus refused Baton (credentials in PROMETHEUS_URL?)"
        )
    if resp.status_code >= 300:
        return NotMeasured("http", f"Prometheus answered HTTP {resp.status_code}")
    data = body.get("data") if isinstance(body, dict) and body.get("status") == "success" else None
    if not isinstance(data, dict):
        return NotMeasured("answer", "not a Prometheus API answer: is PROMETHEUS_URL the server's base URL?")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return _number(result)
    if kind != "vector":
        what = {"matrix": "a range vector", "string": "a string"}.get(
            str(kind), f"a {excerpt(str(kind), 40)}"
        )
        return NotMeasured("answer", f"the query returns {what}, not a number: write an instant expression")
    if not isinstance(result, list) or not result:
        return NotMeasured("empty", "empty result: the query matched no series")
    if len(result) > 1:
        return NotMeasured(
            "series",
            f"{len(result)} series, not one number: aggregate the query (e.g. sum(…) or sum by () (…))",
        )
    sample = result[0].get("value") if isinstance(result[0], dict) else None
    return _number(sample)


def _number(sample: Any) -> Result:
    """A [timestamp, "value"] pair as a finite number."""
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return NotMeasured("answer", "not a Prometheus API answer: a sample without a number")
    if math.isnan(value):
        return NotMeasured("nan", "NaN: no data to compute it from (e.g. a ratio with no requests)")
    if math.isinf(value):
        sign = "+" if value > 0 else "-"
        return NotMeasured(
            "nan", f"{sign}Inf: not a finite number (a division by zero, or a quantile in the +Inf bucket)"
        )
    return Measured(value)
