"""SLOs: instant queries to Prometheus, each area's SLIs against the `slo:`
thresholds, the digest to the team channel (or the accountable person by DM), one incident per
area and SLI past its alert threshold while it is open, and every way Prometheus can fail named
in the digest. A stand-in Prometheus (a local HTTP server answering /api/v1/query in
Prometheus's JSON shape) gives exact control; the database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import col, select

from bot.app.runner import JOB_KINDS, boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.config.thresholds import default_slo
from bot.incidents import rooms
from bot.incidents import services as incidents
from bot.monitoring import slo
from bot.monitoring.prometheus import Measured, NotMeasured, Prometheus
from bot.nudges import schedule
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Evidence, Incident, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import BATON, SHIPPED_OWNERSHIP, SHIPPED_SEVERITY, clean_env, closed_port, settings_for

MAYA = "U07MAYA001"
CONFIG = load_config(ownership_path=SHIPPED_OWNERSHIP, severity_path=SHIPPED_SEVERITY)
MODEL = CONFIG.ownership.areas["model-quality"].slo_queries
INFRA = CONFIG.ownership.areas["infra-deploy"].slo_queries
ML_CHANNEL, PLATFORM_CHANNEL = "C07MLTEAM", "C07PLATFORM"


# -- a stand-in Prometheus -------------------------------------------------------------------


class PromStandIn:
    """Answers `GET /api/v1/query?query=…` as Prometheus does, from what the test set per query
    (an unknown query gets an empty result); records every query asked."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str]] = {}
        self.delays: dict[str, float] = {}
        # A query held here is answered only once its Event is set (a test proves something did
        # not wait for Prometheus by answering while the query is held, not with a stopwatch).
        self.holds: dict[str, threading.Event] = {}
        self.asked: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                if parts.path != "/api/v1/query":
                    self._send(404, "404 page not found", "text/plain")
                    return
                query = parse_qs(parts.query).get("query", [""])[0]
                stand_in.asked.append(query)
                time.sleep(stand_in.delays.get(query, 0))
                held = stand_in.holds.get(query)
                if held is not None:
                    held.wait(60)  # a guard: a test that forgot to release it still ends
                status, body = stand_in.answers.get(query, (200, _vector([])))
                self._send(status, body, "application/json")

            def _send(self, status: int, body: str, kind: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def value(self, query: str, value: float | str) -> None:
        self.answers[query] = (200, _vector([{"metric": {}, "value": [1764000000.0, str(value)]}]))

    def error(self, query: str, error_type: str, error: str, status: int = 400) -> None:
        body = {"status": "error", "errorType": error_type, "error": error}
        self.answers[query] = (status, json.dumps(body))

    def stop(self) -> None:
        for held in self.holds.values():
            held.set()
        self.server.shutdown()
        self.server.server_close()


def _vector(result: list[dict[str, Any]]) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})


@pytest.fixture
def prom() -> Iterator[PromStandIn]:
    stand_in = PromStandIn()
    yield stand_in
    stand_in.stop()


def healthy(prom: PromStandIn) -> None:
    """Model / Prompt: success rate 97% (past alert < 99%), p95 1.2 s (met); Infra / Deploy:
    errors 0.5% (met), p95 6 s (past alert > 5s)."""
    prom.value(MODEL["success_rate"], 0.97)
    prom.value(MODEL["latency_p95"], 1.2)
    prom.value(INFRA["error_rate"], 0.005)
    prom.value(INFRA["latency_p95"], 6)


# -- a Baton on an injected clock, with the environment and ownership.yaml a test wants -------------


@dataclasses.dataclass
class Clocked:
    baton: Baton
    ticker: Ticker
    clock: FakeClock
    fake: FakeSlack

    def posts(self, channel: str) -> list[dict[str, Any]]:
        self.ticker.run_until_idle()
        return self.fake.messages(channel)


def clocked_baton(fake: FakeSlack, db_url: str, ownership: Path = SHIPPED_OWNERSHIP, **env: str) -> Clocked:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(ownership), **env)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock()  # Sunday 2026-11-22 09:00 UTC
    baton = boot(settings, config, clock=clock)
    ticker = Ticker(
        baton,
        handlers=JOB_KINDS,
        on_failure=rooms.report_failure,
    )
    return Clocked(baton, ticker, clock, fake)


@pytest.fixture
def team_channels(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    fake_slack.add_channel("platform-team", channel_id=PLATFORM_CHANNEL)
    return fake_slack


@pytest.fixture
def measured(team_channels: FakeSlack, db_url: str, prom: PromStandIn) -> Iterator[Clocked]:
    """A clocked Baton on the shipped files, PROMETHEUS_URL on the stand-in; SQLite and PostgreSQL."""
    c = clocked_baton(team_channels, db_url, PROMETHEUS_URL=prom.url)
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def slo_incidents(baton: Baton) -> list[Incident]:
    with session(baton.engine) as s:
        return list(
            s.exec(
                select(Incident).where(col(Incident.declared_by) == "prometheus").order_by(col(Incident.id))
            )
        )


def digest_text(message: dict[str, Any]) -> str:
    """The section of a digest message: one line per SLI."""
    return str(message["blocks"][1]["text"]["text"])


# -- the HTTP client -------------------------------------------------------------------------


def _answer(status: int, body: Any) -> httpx.MockTransport:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.MockTransport(lambda request: httpx.Response(status, text=content))


def _sample(*values: str) -> dict[str, Any]:
    result = [{"metric": {"pod": str(i)}, "value": [1764000000.0, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, _sample("0.97"), Measured(0.97)),
        (200, {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3.5"]}}, Measured(3.5)),
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'},
            NotMeasured("error", 'query error (bad_data): parse error: unexpected "}"'),
        ),
        (
            503,
            {"status": "error", "errorType": "timeout", "error": "query timed out in expression evaluation"},
            NotMeasured("error", "query error (timeout): query timed out in expression evaluation"),
        ),
        (200, _sample(), NotMeasured("empty", "empty result: the query matched no series")),
        (200, _sample("1", "2", "3"), "3 series, not one number"),
        (200, _sample("NaN"), "NaN: no data to compute it from"),
        (200, _sample("+Inf"), "+Inf: not a finite number"),
        (502, "<html>Bad Gateway</html>", NotMeasured("http", "Prometheus answered HTTP 502")),
        (404, "404 page not found", "is PROMETHEUS_URL the server's base URL"),
        (200, "<html>Grafana</html>", "not a Prometheus API answer"),
        (
            200,
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "the query returns a range vector, not a number",
        ),
    ],
)
def test_each_answer_is_a_number_or_why_not(status: int, body: Any, expected: Any) -> None:
    with Prometheus("http://prometheus:9090", transport=_answer(status, body)) as client:
        got = client.query("up")
    if isinstance(expected, str):
        assert isinstance(got, NotMeasured) and expected in got.reason, got
    else:
        assert got == expected


def test_the_request_is_an_instant_query_with_basic_auth_and_no_credentials_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.params["query"] == "down":
            raise httpx.ConnectError("[Errno 111] Connection refused")
        return httpx.Response(200, json=_sample("1"))

    caplog.set_level(logging.DEBUG)
    url = "https://baton:s3cr3t-pw@prom.example.com/prometheus/"
    with Prometheus(url, transport=httpx.MockTransport(answer)) as client:
        assert client.query('sum(rate(x{code=~"2.."}[5m]))') == Measured(1.0)
        down = client.query("down")
    request = seen[0]
    assert str(request.url).startswith("https://prom.example.com/prometheus/api/v1/query?query=")
    assert request.url.params["query"] == 'sum(rate(x{code=~"2.."}[5m]))'
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"baton:s3cr3t-pw").decode()
    assert down == NotMeasured(
        "unreachable",
        "Prometheus unreachable at https://prom.example.com/prometheus/ ([Errno 111] Connection refused)",
    )
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in str(seen[1].url)


def test_once_prometheus_is_unreachable_the_rest_of_the_run_is_not_tried() -> None:
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["query"])
        raise httpx.ConnectTimeout("timed out")

    with Prometheus("http://prometheus:9090", transport=httpx.MockTransport(refuse)) as client:
        first, second = client.query("a"), client.query("b")
    assert calls == ["a"]
    assert first == second and isinstance(first, NotMeasured) and first.kind == "unreachable"


def test_a_run_out_of_budget_asks_nothing_more() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["query"])
        return httpx.Response(200, json=_sample("1"))

    with Prometheus("http://prometheus:9090", budget=0.0, transport=httpx.MockTransport(answer)) as client:
        got = client.query("a")
    assert calls == [] and got == NotMeasured("timeout", "not asked: this answer's 0 s were used up")


def test_a_query_slower_than_the_timeout_is_named(prom: PromStandIn) -> None:
    prom.value("slow", 1)
    prom.delays["slow"] = 1.0
    prom.value("fast", 2)
    with Prometheus(prom.url, timeout=0.2) as client:
        slow, fast = client.query("slow"), client.query("fast")
    assert slow == NotMeasured("timeout", "Prometheus did not answer within 0.2 s")
    assert fast == Measured(2.0)  # a slow query is not an unreachable server


# -- thresholds and how values read ------------------------------------------------------------


def reading(sli: str, value: float) -> slo.Reading:
    return slo.Reading(sli, "q", default_slo()[sli], Measured(value))


def test_percentages_compare_as_ratios_and_times_as_seconds() -> None:
    # 99% is 0.99; 3s is 3 seconds.
    assert reading("success_rate", 0.9899).alerting and reading("success_rate", 0.9899).met is False
    assert not reading("success_rate", 0.992).alerting and reading("success_rate", 0.992).met is False
    assert reading("success_rate", 0.996).met is True
    assert reading("latency_p95", 5.5).alerting and reading("latency_p95", 2.9).met is True
    assert reading("daily_cost", 301).alerting and not reading("daily_cost", 250).alerting


def test_values_and_thresholds_read_as_people_write_them() -> None:
    r = reading("success_rate", 0.97)
    assert slo.value_text(r) == "97.0 %"
    assert slo.threshold_text(r.objective) == "≥ 99.5 %" and slo.threshold_text(r.alert) == "< 99 %"
    assert (
        slo.breach_title(r) == "success_rate 97.0 % is below the alert threshold < 99 % (objective ≥ 99.5 %)"
    )
    assert slo.value_text(reading("success_rate", 0.99712)) == "99.71 %"
    # Rounding never puts a value on the other side of a threshold.
    assert slo.value_text(reading("success_rate", 0.98996)) == "98.996 %"
    assert slo.value_text(reading("latency_p95", 4.2)) == "4.2 s"
    assert slo.value_text(reading("latency_p95", 0.35)) == "0.35 s"
    assert slo.breach_title(reading("latency_p95", 6)) == (
        "latency_p95 6.0 s is above the alert threshold > 5 s (objective ≤ 3 s)"
    )
    assert slo.value_text(reading("daily_cost", 250)) == "250"
    assert slo.value_text(reading("monthly_cost", 6212.456)) == "6,212"
    assert slo.line(reading("latency_p95", 4.2)) == (
        ":large_yellow_circle: *latency_p95* 4.2 s (objective ≤ 3 s missed; alert > 5 s)"
    )


# -- the digest ------------------------------------------------------------------------------


def test_the_digest_posts_each_sli_against_its_objective_and_declares_once(
    measured: Clocked, prom: PromStandIn
) -> None:
    healthy(prom)
    slo.run_digest(measured.baton)
    (ml,) = measured.posts(ML_CHANNEL)
    assert ml["blocks"][0]["text"]["text"] == "SLO digest · Model / Prompt"
    assert digest_text(ml).splitlines() == [
        ":red_circle: *success_rate* 97.0 % (objective ≥ 99.5 %) · past alert &lt; 99 % "
        "→ incident #1 declared (P1)",
        ":large_green_circle: *latency_p95* 1.2 s (objective ≤ 3 s)",
    ]
    assert ml["text"].startswith("SLO digest · Model / Prompt: 1 past alert, 1 met")
    (platform,) = measured.posts(PLATFORM_CHANNEL)
    assert digest_text(platform).splitlines() == [
        ":large_green_circle: *error_rate* 0.5 % (objective ≤ 1 %)",
        ":red_circle: *latency_p95* 6.0 s (objective ≤ 3 s) · past alert &gt; 5 s "
        "→ incident #2 declared (P2)",
    ]

    first, second = slo_incidents(measured.baton)
    assert (first.area, first.severity, first.declared_by, first.title) == (
        "model-quality",
        "P1",
        "prometheus",
        "success_rate 97.0 % is below the alert threshold < 99 % (objective ≥ 99.5 %)",
    )
    assert (second.area, second.severity) == ("infra-deploy", "P2")
    with session(measured.baton.engine) as s:
        (evidence,) = s.exec(select(Evidence).where(col(Evidence.incident_id) == first.id)).all()
    assert (evidence.author, evidence.kind) == ("prometheus", "measurement")
    assert evidence.text.startswith(
        "success_rate = 0.97 (97.0 %; alert < 99 %, objective ≥ 99.5 %) from `sum("
    )
    assert evidence.link and evidence.link.startswith(f"{prom.url}/graph?g0.expr=sum%28rate")

    # Still past alert the next day: nothing new is declared; the open incident hears the value.
    measured.clock.advance(timedelta(days=1))
    prom.value(MODEL["success_rate"], 0.965)
    slo.run_digest(measured.baton)
    assert [i.id for i in slo_incidents(measured.baton)] == [1, 2]
    again = measured.posts(ML_CHANNEL)[-1]
    assert "→ incident #1 open" in digest_text(again)
    with session(measured.baton.engine) as s:
        noted = s.exec(
            select(TimelineEvent.text).where(
                col(TimelineEvent.incident_id) == 1, col(TimelineEvent.kind) == "measured"
            )
        ).all()
    assert noted == ["still past alert: success_rate = 96.5 % (alert < 99 %, objective ≥ 99.5 %)"]

    # Resolved, and still past alert: the next digest declares a new one.
    incidents.resolve(baton=measured.baton, number=1, summary="Rolled back prompt v42", user=MAYA)
    slo.run_digest(measured.baton)
    assert [(i.id, i.area, i.state) for i in slo_incidents(measured.baton)] == [
        (1, "model-quality", "resolved"),
        (2, "infra-deploy", "open"),
        (3, "model-quality", "open"),
    ]
    assert "→ incident #3 declared (P1)" in digest_text(measured.posts(ML_CHANNEL)[-1])


def test_without_a_team_channel_the_accountable_person_gets_the_digest_by_dm(
    fake_slack: FakeSlack, db_url: str, prom: PromStandIn, tmp_path: Path
) -> None:
    ownership = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    ownership.write_text(text.replace("    channel: C07MLTEAM ", "    # no channel ", 1))
    healthy(prom)
    c = clocked_baton(fake_slack, db_url, ownership, PROMETHEUS_URL=prom.url)
    try:
        found = slo.run_digest(c.baton)
        assert [(p.area, p.where) for p in found.posts] == [
            ("model-quality", f"<@{MAYA}> by DM"),
            ("infra-deploy", f"<#{PLATFORM_CHANNEL}>"),
        ]
        c.ticker.run_until_idle()
        digests = [
            m for m in fake_slack.dm_messages(MAYA) if m["text"].startswith("SLO digest · Model / Prompt")
        ]
        assert len(digests) == 1
        assert ":red_circle: *success_rate* 97.0 % (objective ≥ 99.5 %)" in digest_text(digests[0])
    finally:
        c.ticker.shutdown()
        c.baton.engine.dispose()


def test_prometheus_errors_and_empty_results_are_each_named_and_declare_nothing(
    measured: Clocked, prom: PromStandIn
) -> None:
    prom.error(MODEL["success_rate"], "bad_data", "1:5: parse error: unexpected <by>")
    # MODEL["latency_p95"] is not set: an empty result.
    prom.value(INFRA["error_rate"], "NaN")
    prom.answers[INFRA["latency_p95"]] = (502, "<html>Bad Gateway</html>")
    slo.run_digest(measured.baton)
    assert digest_text(measured.posts(ML_CHANNEL)[0]).splitlines() == [
        ":white_circle: *success_rate* not measured: "
        "query error (bad_data): 1:5: parse error: unexpected &lt;by&gt;",
        ":white_circle: *latency_p95* not measured: empty result: the query matched no series",
    ]
    assert digest_text(measured.posts(PLATFORM_CHANNEL)[0]).splitlines() == [
        ":white_circle: *error_rate* not measured: "
        "NaN: no data to compute it from (e.g. a ratio with no requests)",
        ":white_circle: *latency_p95* not measured: Prometheus answered HTTP 502",
    ]
    assert slo_incidents(measured.baton) == []


def test_prometheus_error_text_is_masked_and_pings_nobody_in_the_digest(
    measured: Clocked, prom: PromStandIn
) -> None:
    """Prometheus's error (or whatever answers at PROMETHEUS_URL) is an outside system's text:
    the digest quotes it masked, mentioning nobody, escaped."""
    prom.error(
        MODEL["success_rate"],
        "bad_data <@U0ATTACKER>",
        "<!channel> <@U0ATTACKER> xoxb-1234567890-abcdefghijkl",
    )
    slo.run_digest(measured.baton)
    line = digest_text(measured.posts(ML_CHANNEL)[0]).splitlines()[0]
    assert line == (
        ":white_circle: *success_rate* not measured: "
        "query error (bad_data @U0ATTACKER): &lt;!channel&gt; @U0ATTACKER [slack-token]"
    )


def test_prometheus_unreachable_is_named_and_asked_once_per_digest(
    team_channels: FakeSlack, db_url: str
) -> None:
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        c = clocked_baton(team_channels, db_url, PROMETHEUS_URL=url)
        try:
            found = slo.run_digest(c.baton)
            lines = digest_text(c.posts(ML_CHANNEL)[0]).splitlines()
            assert len(lines) == 2 and all(
                f"not measured: Prometheus unreachable at {url}" in line for line in lines
            )
            assert len(c.posts(PLATFORM_CHANNEL)) == 1
            reasons = {str(r.result) for rep in found.reports for r in rep.readings}
            assert len(reasons) == 1  # the same failure, not four waits for it
            assert slo_incidents(c.baton) == []
        finally:
            c.ticker.shutdown()
            c.baton.engine.dispose()


def test_without_prometheus_url_the_digest_says_how_to_set_it(team_channels: FakeSlack, db_url: str) -> None:
    c = clocked_baton(team_channels, db_url)
    try:
        slo.run_digest(c.baton)
        (ml,) = c.posts(ML_CHANNEL)
        assert digest_text(ml) == (
            ":warning: PROMETHEUS_URL is not set: set PROMETHEUS_URL in Baton's environment to your "
            "Prometheus server's base URL (e.g. http://prometheus:9090) and restart Baton. "
            "Not measured: *success_rate*, *latency_p95*."
        )
        assert ml["text"].startswith("SLO digest · Model / Prompt: not measured")
    finally:
        c.ticker.shutdown()
        c.baton.engine.dispose()


def test_two_digests_at_once_on_two_replicas_declare_one_incident_per_sli(
    team_channels: FakeSlack, db_url: str, prom: PromStandIn
) -> None:
    healthy(prom)
    replicas = [clocked_baton(team_channels, db_url, PROMETHEUS_URL=prom.url) for _ in range(2)]
    barrier = threading.Barrier(2)
    digests: list[slo.Digest] = []

    def run(c: Clocked) -> None:
        barrier.wait()
        digests.append(slo.run_digest(c.baton))

    try:
        threads = [threading.Thread(target=run, args=(c,)) for c in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        found = slo_incidents(replicas[0].baton)
        assert sorted((i.area, i.severity) for i in found) == [
            ("infra-deploy", "P2"),
            ("model-quality", "P1"),
        ]
        declared = [r.declared for d in digests for _, r in d.incidents()]
        assert sorted(declared) == [False, False, True, True]  # each SLI: declared once, joined once
    finally:
        for c in replicas:
            c.ticker.shutdown()
            c.baton.engine.dispose()


def test_the_digest_runs_on_its_cron_once_per_due_time(measured: Clocked, prom: PromStandIn) -> None:
    healthy(prom)
    baton, clock = measured.baton, measured.clock  # Sunday 09:00 UTC, 09:00 in London
    assert schedule.tick(baton, worker="a") == []  # first sight: the schedule is noted
    clock.advance(timedelta(hours=23, minutes=59))  # Monday 08:59 in London
    assert "slo_digest" not in schedule.tick(baton, worker="a")
    assert measured.posts(ML_CHANNEL) == []
    clock.advance(timedelta(minutes=1))  # Monday 09:00: slo_digest "0 9 * * MON-FRI"
    assert "slo_digest" in schedule.tick(baton, worker="a")
    assert "slo_digest" not in schedule.tick(baton, worker="b")  # another replica: claimed already
    (posted,) = measured.posts(ML_CHANNEL)
    assert "→ incident #1 declared (P1)" in digest_text(posted)
    # Down from Monday until Saturday noon: the digests missed run once (Friday's), not four times.
    clock.advance(timedelta(days=5, hours=3))
    assert "slo_digest" in schedule.tick(baton, worker="a")
    clock.advance(timedelta(days=1))  # Sunday: no digest at the weekend
    assert "slo_digest" not in schedule.tick(baton, worker="a")
    # The readiness nudge (Monday 10:00) and the failure review (Friday 15:00) posted there too.
    digests = [m for m in measured.posts(ML_CHANNEL) if m["text"].startswith("SLO digest")]
    assert len(digests) == 2


# -- baton nudge slo -------------------------------------------------------------------------


def nudge(fake: FakeSlack, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **clean_env(),
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_API_URL": fake.url,
        **env,
    }
    return subprocess.run([BATON, "nudge", "slo"], env=full, capture_output=True, text=True, timeout=60)


def test_baton_nudge_slo_posts_now_and_says_what_it_declared(
    fake_slack: FakeSlack, db_url: str, prom: PromStandIn
) -> None:
    healthy(prom)
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)  # the platform team's channel is missing
    run = nudge(fake_slack, db_url, PROMETHEUS_URL=prom.url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines()[:3] == [
        f"posted to <#{ML_CHANNEL}>: SLO digest · Model / Prompt: 1 past alert, 1 met",
        "  :red_circle: *success_rate* 97.0 % (objective ≥ 99.5 %) · past alert < 99 % "
        "→ incident #1 declared (P1)",
        "  :large_green_circle: *latency_p95* 1.2 s (objective ≤ 3 s)",
    ]
    assert (
        "declared incident #1 (P1, model-quality): success_rate 97.0 % is below the alert threshold < 99 % "
        "(objective ≥ 99.5 %); its channel and pages go out from `baton serve`"
    ) in run.stdout
    assert "declared incident #2 (P2, infra-deploy)" in run.stdout
    assert (
        f"baton: could not post the SLO digest of infra-deploy to <#{PLATFORM_CHANNEL}>: "
        "Slack chat.postMessage failed: channel_not_found"
    ) in run.stderr
    assert len(fake_slack.messages(ML_CHANNEL)) == 1

    fake_slack.add_channel("platform-team", channel_id=PLATFORM_CHANNEL)
    again = nudge(fake_slack, db_url, PROMETHEUS_URL=prom.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "incident #1 is open for model-quality success_rate: not declared again" in again.stdout
    assert (
        f"posted to <#{PLATFORM_CHANNEL}>: SLO digest · Infra / Deploy: 1 past alert, 1 met" in again.stdout
    )
    assert "declared" not in again.stdout.replace("not declared again", "")


def test_baton_nudge_slo_without_prometheus_url_says_so(team_channels: FakeSlack, db_url: str) -> None:
    run = nudge(team_channels, db_url)
    assert run.returncode == 0, run.stderr
    assert "PROMETHEUS_URL is not set" in run.stdout
    assert "PROMETHEUS_URL is not set" in team_channels.messages(ML_CHANNEL)[0]["blocks"][1]["text"]["text"]
