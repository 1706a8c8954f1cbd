"""A real Prometheus and Alertmanager for one test, on free loopback ports.

Debian's ``prometheus`` and ``prometheus-alertmanager`` (installed by ``.ci/run``) run as
subprocesses, each with its own config and data directory under the test's ``tmp_path``, and
are terminated and waited for when the test ends. Where a binary is missing the test is
skipped, or failed when ``BATON_REQUIRE_PROMETHEUS=1`` (CI).

* ``serve_metrics_target()``: a ``/metrics`` endpoint the test serves. Every scrape adds ``ok``
  2xx and ``errors`` 5xx requests to ``llm_requests_total``, so the shipped success-rate query
  reads ``ok / (ok + errors)`` exactly (0.97 by default), and 100 observations to the
  ``llm_request_seconds`` histogram placed so that its p95 is exactly ``p95`` seconds (2 s).
* ``serve_webhook_recorder()``: a plain HTTP server recording every POST (Alertmanager's
  webhook without Baton).
* ``run_prometheus()``: scrapes the targets every second, evaluates a test copy of
  ``examples/prometheus/baton-slo-rules.yml`` every second, sends alerts to an Alertmanager.
* ``run_alertmanager()``: ``examples/alertmanager/baton-receiver.yml`` pointed at a webhook URL
  with a bearer token, waiting 1 s to group.
* ``run_promstack()``: the three together. The fixtures ``promstack`` (a factory) and
  ``alert_webhook`` wrap them for tests (``pytest_plugins = ["tests.promstack"]``).

The test copy of the rules changes only what makes the example slow to test: every ``for:``
becomes ``for_`` (default ``0s``), group ``interval:`` overrides are dropped (1 s applies), and
with ``rate_window`` the ``[5m]`` ranges become that window (to see an alert resolve quickly).
The expressions, labels and annotations are the example's own.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import pytest
import yaml

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_RULES = ROOT / "examples" / "prometheus" / "baton-slo-rules.yml"
EXAMPLE_RECEIVER = ROOT / "examples" / "alertmanager" / "baton-receiver.yml"
BATON_RECEIVER = "baton"  # the receiver in EXAMPLE_RECEIVER that posts to Baton

#: The model-quality queries of the shipped ownership.yaml, as /slo and the digest run them.
_SLO_QUERIES: dict[str, str] = yaml.safe_load((ROOT / "ownership.yaml").read_text())["areas"][
    "model-quality"
]["slo_queries"]
SUCCESS_RATE_QUERY = _SLO_QUERIES["success_rate"]
LATENCY_P95_QUERY = _SLO_QUERIES["latency_p95"]

#: Upper bounds of the llm_request_seconds histogram; a target's ``p95`` must be one of them.
BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
OBSERVATIONS_PER_SCRAPE = 100

START_TIMEOUT = 30.0  # seconds for a server to answer /-/ready (Prometheus opens its TSDB first)
# Deadline of the waits for a value, an alert or a notification. Not a measure of speed: typical
# is 7 s for a first rate (Prometheus applies its scrape targets every 5 s, then needs two
# scrapes) and 9 s for a first notification; a busy 2-core CI machine may take longer.
WAIT_TIMEOUT = 60.0


# -- binaries -------------------------------------------------------------------------------


def _missing(reason: str) -> NoReturn:
    if os.environ.get("BATON_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(reason + " (BATON_REQUIRE_PROMETHEUS=1 makes this a failure)")
    pytest.skip(reason)


def binary(*names: str) -> str:
    """The first of ``names`` on PATH; else skip the test (fail under BATON_REQUIRE_PROMETHEUS=1)."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    _missing(
        f"{' / '.join(names)} not found on PATH: install Debian's prometheus and "
        "prometheus-alertmanager (`apt-get install prometheus prometheus-alertmanager`, as .ci/run does)"
    )


def prometheus_binary() -> str:
    return binary("prometheus")


def alertmanager_binary() -> str:
    # Debian names it prometheus-alertmanager; upstream's tarball, alertmanager.
    return binary("prometheus-alertmanager", "alertmanager")


def promtool_binary() -> str:
    return binary("promtool")


def amtool_binary() -> str:
    return binary("amtool")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the metrics target ---------------------------------------------------------------------


class MetricsTarget:
    """``GET /metrics`` in Prometheus' text format. Each request is a scrape and adds the same
    amounts to the counters, so a ratio of their rates is exact however the scrapes are timed."""

    def __init__(self, *, ok: int = 97, errors: int = 3, p95: float = 2.0, cost: float = 0.0) -> None:
        self._lock = threading.Condition()
        self._ok = self._errors = 0
        self._buckets = [0] * len(BUCKETS)
        self._observations = 0
        self._seconds = 0.0
        self._cost_total = 0.0
        self.scrapes = 0
        self.set(ok=ok, errors=errors, p95=p95, cost=cost)
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = target._scrape().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet: one line a second
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="metrics-target")
        self._thread.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, as a scrape target."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def set(
        self,
        *,
        ok: int | None = None,
        errors: int | None = None,
        p95: float | None = None,
        cost: float | None = None,
    ) -> None:
        """Change what each later scrape adds: 2xx and 5xx requests, the p95 (one of BUCKETS), cost."""
        with self._lock:
            if ok is not None:
                self._per_ok = ok
            if errors is not None:
                self._per_errors = errors
            if p95 is not None:
                if p95 not in BUCKETS:
                    raise ValueError(f"p95 must be one of the histogram's bounds {BUCKETS}, not {p95}")
                self._per_bucket = _cumulative_for_p95(BUCKETS.index(p95))
            if cost is not None:
                self._per_cost = cost

    def wait_for_scrapes(self, n: int, timeout: float = WAIT_TIMEOUT) -> int:
        """Block until ``n`` scrapes have happened in all; returns the count."""
        with self._lock:
            if not self._lock.wait_for(lambda: self.scrapes >= n, timeout=timeout):
                raise AssertionError(f"{self.scrapes} scrape(s) of {self.url} in {timeout} s, expected {n}")
            return self.scrapes

    def _scrape(self) -> str:
        with self._lock:
            self.scrapes += 1
            self._ok += self._per_ok
            self._errors += self._per_errors
            self._buckets = [have + add for have, add in zip(self._buckets, self._per_bucket, strict=True)]
            self._observations += OBSERVATIONS_PER_SCRAPE
            # The sum only needs to grow plausibly: no shipped query reads it.
            self._seconds += OBSERVATIONS_PER_SCRAPE * 0.5
            self._cost_total += self._per_cost
            self._lock.notify_all()
            lines = [
                "# HELP llm_requests_total Requests to the model, by HTTP status code.",
                "# TYPE llm_requests_total counter",
                f'llm_requests_total{{code="200"}} {self._ok}',
                f'llm_requests_total{{code="500"}} {self._errors}',
                "# HELP llm_request_seconds Model request latency.",
                "# TYPE llm_request_seconds histogram",
                *(
                    f'llm_request_seconds_bucket{{le="{bound}"}} {count}'
                    for bound, count in zip(BUCKETS, self._buckets, strict=True)
                ),
                f'llm_request_seconds_bucket{{le="+Inf"}} {self._observations}',
                f"llm_request_seconds_sum {self._seconds}",
                f"llm_request_seconds_count {self._observations}",
                "# HELP llm_cost_total Money spent on the model, in the budget's currency.",
                "# TYPE llm_cost_total counter",
                f"llm_cost_total {self._cost_total}",
            ]
        return "\n".join(lines) + "\n"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _cumulative_for_p95(k: int) -> list[int]:
    """Per-scrape cumulative bucket counts whose 95th percentile is exactly BUCKETS[k].

    70 observations below every bucket before k, the 95th in bucket k (so histogram_quantile's
    linear interpolation lands on its upper bound), the last 5 one bucket higher (or +Inf).
    """
    return [70 if i < k else 95 if i == k else OBSERVATIONS_PER_SCRAPE for i in range(len(BUCKETS))]


@contextmanager
def serve_metrics_target(
    *, ok: int = 97, errors: int = 3, p95: float = 2.0, cost: float = 0.0
) -> Iterator[MetricsTarget]:
    """A metrics target: success rate ok/(ok+errors), p95 latency ``p95`` s, ``cost`` per scrape."""
    target = MetricsTarget(ok=ok, errors=errors, p95=p95, cost=cost)
    try:
        yield target
    finally:
        target.close()


# -- a webhook receiver that records ----------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One POST: its path, headers (names lowercased) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookRecorder:
    """Records every POST and answers ``status`` (200); ``url`` is Baton's path on its port."""

    def __init__(self, *, path: str = "/alerts/alertmanager", status: int = 200) -> None:
        self.path = path
        self.status = status
        self._cond = threading.Condition()
        self._received: list[Received] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with recorder._cond:
                    recorder._received.append(Received(self.path, headers, body))
                    recorder._cond.notify_all()
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="webhook-recorder"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def wait_for(
        self,
        predicate: Callable[[list[Received]], T | None],
        timeout: float = WAIT_TIMEOUT,
        message: str = "",
    ) -> T:
        """Block until ``predicate(received so far)`` is truthy (checked on each POST); return it."""
        with self._cond:
            found: T | None = None

            def ready() -> bool:
                nonlocal found
                found = predicate(list(self._received))
                return bool(found)

            if not self._cond.wait_for(ready, timeout=timeout):
                raise AssertionError(
                    f"no POST to {self.url} matched {message or predicate!r} in {timeout} s; "
                    f"{len(self._received)} received: {[r.body[:300] for r in self._received[-3:]]}"
                )
            assert found is not None
            return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def serve_webhook_recorder(
    *, path: str = "/alerts/alertmanager", status: int = 200
) -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder(path=path, status=status)
    try:
        yield recorder
    finally:
        recorder.close()


# -- servers as subprocesses ------------------------------------------------------------------


@dataclass
class _Server:
    """A Prometheus or Alertmanager process and its HTTP API."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    workdir: Path
    log: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5, trust_env=False))

    def api(self, path: str, **params: Any) -> Any:
        """GET ``path`` and return the ``data`` of the JSON answer (Prometheus' API shape), or the
        whole answer when it has no ``data``; an HTTP or API error raises with its body."""
        response = self.client.get(f"{self.url}{path}", params=params)
        if response.status_code != 200:
            raise AssertionError(f"{self.name} {path} {params}: HTTP {response.status_code}: {response.text}")
        body = response.json()
        if isinstance(body, dict) and "status" in body and body["status"] != "success":
            raise AssertionError(f"{self.name} {path} {params}: {body}")
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Terminate and wait (kill after 10 s); idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.client.close()


class Prometheus(_Server):
    """A running Prometheus: instant queries, its rules and alerts."""

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result of an instant query, now (a vector: ``[{"metric": …, "value": [t, "v"]}]``)."""
        data = self.api("/api/v1/query", query=expr)
        result = data["result"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def value(self, expr: str) -> float | None:
        """The first sample's value, or None while the query returns nothing."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def wait_for_value(
        self,
        expr: str,
        predicate: Callable[[float], bool] = lambda v: not math.isnan(v),
        timeout: float = WAIT_TIMEOUT,
    ) -> float:
        """Poll the instant query until it returns a value ``predicate`` accepts (by default: any
        number, not NaN) and return it. A first rate takes about 7 s after start (WAIT_TIMEOUT)."""
        deadline = time.monotonic() + timeout
        last: float | None = None
        while True:
            last = self.value(expr)
            if last is not None and predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(f"{expr} is {last} after {timeout} s\n{self.logs()[-2000:]}")
            time.sleep(0.2)  # a new sample arrives once a second: nothing to wait on but the clock

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups (``/api/v1/rules``), with each rule's health and lastError."""
        return list(self.api("/api/v1/rules")["groups"])

    def wait_for_rules_evaluated(self, timeout: float = WAIT_TIMEOUT) -> list[dict[str, Any]]:
        """The rule groups, once every rule in them has been evaluated at least once."""
        deadline = time.monotonic() + timeout
        while True:
            groups = self.rules()
            pending = [
                r["name"] for g in groups for r in g["rules"] if r["lastEvaluation"].startswith("0001-")
            ]
            if not pending:
                return groups
            if time.monotonic() >= deadline:
                raise AssertionError(f"rules never evaluated after {timeout} s: {pending}")
            time.sleep(0.2)  # groups are evaluated once a second

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (``/api/v1/alerts``)."""
        return list(self.api("/api/v1/alerts")["alerts"])

    def wait_for_alert(
        self, name: str, state: str = "firing", timeout: float = WAIT_TIMEOUT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = [a for a in self.alerts() if a["labels"].get("alertname") == name and a["state"] == state]
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise AssertionError(f"alert {name} not {state} after {timeout} s: {self.alerts()}")
            time.sleep(0.2)  # rules are evaluated once a second


class Alertmanager(_Server):
    """A running Alertmanager."""

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts it holds (``/api/v2/alerts``), each with ``labels`` and ``status.state``."""
        return list(self.api("/api/v2/alerts"))


S = TypeVar("S", bound=_Server)


def _start(kind: type[S], name: str, argv: Callable[[str], list[str]], workdir: Path) -> S:
    """Start a server on a free port and wait until ``/-/ready`` answers 200. A port taken
    between choosing and binding it is retried on another."""
    for _attempt in range(3):
        port = free_port()
        address = f"127.0.0.1:{port}"
        log = workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(argv(address), stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
        server = kind(name=name, proc=proc, url=f"http://{address}", workdir=workdir, log=log)
        deadline = time.monotonic() + START_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if server.client.get(f"{server.url}/-/ready").status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # a separate process: nothing to wait on but its answer
        server.stop()
        output = server.logs()
        if "address already in use" not in output:
            raise AssertionError(f"{name} did not become ready (exit {proc.returncode}):\n{output[-3000:]}")
    raise AssertionError(f"{name}: three free ports were taken before it could bind them:\n{output[-3000:]}")


def write_test_rules(workdir: Path, *, for_: str = "0s", rate_window: str | None = None) -> Path:
    """Write the test copy of the example rules (see the module docstring) and return its path."""
    doc = yaml.safe_load(EXAMPLE_RULES.read_text())
    for group in doc["groups"]:
        group.pop("interval", None)
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = for_
            if rate_window is not None:
                rule["expr"] = rule["expr"].replace("[5m]", f"[{rate_window}]")
    path = workdir / "baton-slo-rules.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@contextmanager
def run_prometheus(
    workdir: Path,
    *,
    targets: Sequence[str],
    alertmanager: str | None = None,
    rules: Path | None = None,
) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (``host:port``) every second and evaluating ``rules`` (a
    rule file, e.g. ``write_test_rules(...)``; None: no rules) every second; alerts go to
    ``alertmanager`` (its URL) when given."""
    binary_path = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "baton-test-target", "static_configs": [{"targets": list(targets)}]}],
    }
    if rules is not None:
        config["rule_files"] = [str(rules)]
    if alertmanager is not None:
        host = alertmanager.removeprefix("http://")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    (workdir / "data").mkdir(exist_ok=True)
    server = _start(
        Prometheus,
        "prometheus",
        lambda address: [
            binary_path,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={address}",
            # generatorURL in alerts (Baton keeps it as evidence) names this address, not the host.
            f"--web.external-url=http://{address}",
            "--log.level=warn",
        ],
        workdir,
    )
    try:
        yield server
    finally:
        server.stop()


def write_test_alertmanager_config(
    workdir: Path,
    *,
    webhook_url: str,
    token: str,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> Path:
    """Write the example receiver config pointed at ``webhook_url`` with ``token`` (through its
    ``credentials_file``, in ``workdir``), grouping after ``group_wait``; return its path."""
    doc = yaml.safe_load(EXAMPLE_RECEIVER.read_text())
    token_file = workdir / "baton-alert-token"
    token_file.write_text(token)
    routes = [r for r in doc["route"].get("routes", []) if r.get("receiver") == BATON_RECEIVER]
    receivers = [r for r in doc["receivers"] if r["name"] == BATON_RECEIVER]
    assert routes and receivers, f"{EXAMPLE_RECEIVER} has no route and receiver named {BATON_RECEIVER!r}"
    for route in routes:
        route.update(group_wait=group_wait, group_interval=group_interval, repeat_interval=repeat_interval)
    for hook in receivers[0]["webhook_configs"]:
        hook["url"] = webhook_url
        hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    path = workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@contextmanager
def run_alertmanager(
    workdir: Path,
    *,
    webhook_url: str,
    token: str,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> Iterator[Alertmanager]:
    """Alertmanager on the example receiver config (``write_test_alertmanager_config``), without
    clustering (no gossip port)."""
    binary_path = alertmanager_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = write_test_alertmanager_config(
        workdir,
        webhook_url=webhook_url,
        token=token,
        group_wait=group_wait,
        group_interval=group_interval,
        repeat_interval=repeat_interval,
    )
    (workdir / "data").mkdir(exist_ok=True)
    server = _start(
        Alertmanager,
        "alertmanager",
        lambda address: [
            binary_path,
            f"--config.file={config_file}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={address}",
            f"--web.external-url=http://{address}",  # externalURL in notifications
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        workdir,
    )
    try:
        yield server
    finally:
        server.stop()


@dataclass
class PromStack:
    """A metrics target, a Prometheus scraping it with the example rules and, when a webhook was
    given, an Alertmanager posting to it."""

    target: MetricsTarget
    prometheus: Prometheus
    alertmanager: Alertmanager | None
    rules: Path


@contextmanager
def run_promstack(
    workdir: Path,
    *,
    webhook_url: str | None = None,
    token: str = "",
    ok: int = 97,
    errors: int = 3,
    p95: float = 2.0,
    cost: float = 0.0,
    for_: str = "0s",
    rate_window: str | None = None,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> Iterator[PromStack]:
    """Target, Alertmanager (only with ``webhook_url``) and Prometheus; torn down in reverse."""
    # Both binaries are looked up first: a test needing both skips before starting either.
    prometheus_binary()
    if webhook_url is not None:
        alertmanager_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        target = stack.enter_context(serve_metrics_target(ok=ok, errors=errors, p95=p95, cost=cost))
        am = None
        if webhook_url is not None:
            am = stack.enter_context(
                run_alertmanager(
                    workdir / "alertmanager",
                    webhook_url=webhook_url,
                    token=token,
                    group_wait=group_wait,
                    group_interval=group_interval,
                    repeat_interval=repeat_interval,
                )
            )
        (workdir / "prometheus").mkdir(exist_ok=True)
        rules = write_test_rules(workdir / "prometheus", for_=for_, rate_window=rate_window)
        prom = stack.enter_context(
            run_prometheus(
                workdir / "prometheus",
                targets=[target.address],
                alertmanager=am.url if am else None,
                rules=rules,
            )
        )
        yield PromStack(target=target, prometheus=prom, alertmanager=am, rules=rules)


# -- pytest fixtures (pytest_plugins = ["tests.promstack"] in tests/conftest.py) -------------


@pytest.fixture
def promstack(tmp_path: Path) -> Iterator[Callable[..., PromStack]]:
    """A factory: ``promstack(webhook_url=..., token=..., **run_promstack options)`` starts a
    stack for this test (torn down after it) and returns the PromStack."""
    counter = itertools.count(1)
    with ExitStack() as stack:

        def start(**options: Any) -> PromStack:
            return stack.enter_context(run_promstack(tmp_path / f"promstack-{next(counter)}", **options))

        yield start


@pytest.fixture
def alert_webhook() -> Iterator[WebhookRecorder]:
    """A webhook receiver recording every POST (in place of Baton)."""
    with serve_webhook_recorder() as recorder:
        yield recorder
