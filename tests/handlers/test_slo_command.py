"""/slo through the real path: a Slack-signed request to a running Baton; the ack goes back at
once and the SLIs follow through respond() (the fake Slack's response_url), against a stand-in
Prometheus. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.monitoring import slo
from bot.slack.standin import FakeSlack, ResponseUrlPost
from tests.conftest import RunningBaton, start_baton
from tests.monitoring.test_slo import MODEL, PromStandIn, healthy
from tests.slack_signing import post_signed, slash_command_body

MAYA = "U07MAYA001"
GENERAL = "C0GENERAL"


@pytest.fixture
def prom() -> Iterator[PromStandIn]:
    stand_in = PromStandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def measuring(fake_slack: FakeSlack, db_url: str, prom: PromStandIn) -> Iterator[RunningBaton]:
    """A running Baton with PROMETHEUS_URL on the stand-in."""
    rb = start_baton(fake_slack, db_url, PROMETHEUS_URL=prom.url)
    yield rb
    rb.stop()


def ask(rb: RunningBaton, text: str, *, timeout: float = 10.0) -> tuple[dict[str, Any] | None, str]:
    """`/slo <text>` from maya in #general: (the ack's body, or None when empty; the response_url)."""
    url = rb.fake.response_url(GENERAL, MAYA)
    body = slash_command_body("/slo", text, user_id=MAYA, response_url=url)
    resp = post_signed(f"{rb.url}/slack/events", body, rb.secret, timeout=timeout)
    assert resp.status_code == 200, resp.text
    return (resp.json() if resp.content else None), url


def answer(rb: RunningBaton, url: str) -> ResponseUrlPost:
    (posted,) = rb.fake.wait_for(lambda: rb.fake.responses(url), timeout=15, message="respond()")
    assert posted.body["response_type"] == "ephemeral"
    return posted


def lines(posted: ResponseUrlPost) -> list[str]:
    return str(posted.body["blocks"][1]["text"]["text"]).splitlines()


def test_slo_area_acks_at_once_then_responds_with_each_sli(
    measuring: RunningBaton, prom: PromStandIn
) -> None:
    healthy(prom)
    # Prometheus answers nothing until the ack came back: an ack that waited for it would never
    # come (the 30 s is only a guard against a hang), so the ack cannot have waited.
    held = prom.holds[MODEL["success_rate"]] = threading.Event()
    acked, url = ask(measuring, "model", timeout=30)
    assert acked is None  # an empty ack: the answer follows
    held.set()
    posted = answer(measuring, url)
    assert posted.body["blocks"][0]["text"]["text"] == "SLOs · Model / Prompt"
    assert lines(posted) == [
        ":red_circle: *success_rate* 97.0 % (objective ≥ 99.5 %) · past alert &lt; 99 %",
        ":large_green_circle: *latency_p95* 1.2 s (objective ≤ 3 s)",
    ]
    assert posted.body["text"].startswith("SLOs · Model / Prompt: 1 past alert, 1 met")
    assert posted.user_id == MAYA
    assert MODEL["success_rate"] in prom.asked
    assert measuring.fake.messages(GENERAL) == []  # nothing said in the channel


def test_slo_shows_the_incident_the_digest_declared(measuring: RunningBaton, prom: PromStandIn) -> None:
    healthy(prom)
    slo.run_digest(measuring.baton)
    _, url = ask(measuring, "model-quality")
    assert lines(answer(measuring, url))[0].endswith("past alert &lt; 99 % → incident #1 open")


def test_slo_alone_lists_the_areas_and_their_slis(measuring: RunningBaton, prom: PromStandIn) -> None:
    acked, _ = ask(measuring, "")
    assert acked is not None and acked["response_type"] == "ephemeral"
    shown = json.dumps(acked["blocks"], ensure_ascii=False)
    assert "*Model / Prompt* (`model-quality`): success_rate, latency_p95" in shown
    assert "*Data* (`data`): _no slo_queries_" in shown
    assert prom.asked == []  # listing asks Prometheus nothing


def test_a_misspelt_area_gets_did_you_mean_and_its_slis(measuring: RunningBaton, prom: PromStandIn) -> None:
    healthy(prom)
    acked, url = ask(measuring, "modle-quality")
    assert acked is None
    posted = answer(measuring, url)
    assert posted.body["text"].startswith(
        ":warning: There is no area `modle-quality`. Did you mean `model-quality`? Showing it below."
    )
    assert any(
        b["type"] == "header" and b["text"]["text"] == "SLOs · Model / Prompt" for b in posted.body["blocks"]
    )


def test_nonsense_and_areas_without_slos_are_answered_in_the_ack(measuring: RunningBaton) -> None:
    acked, _ = ask(measuring, "zzzzzz")
    assert (
        acked is not None
        and "There is no area `zzzzzz`. Areas: `model-quality`, `infra-deploy`" in acked["text"]
    )
    acked, _ = ask(measuring, "search")  # an alias of data, which has no slo_queries
    assert (
        acked is not None
        and "Data (`data`) has no SLOs: add PromQL per SLI under `areas.data.slo_queries`" in (acked["text"])
    )


def test_prometheus_failing_is_named_in_the_answer(measuring: RunningBaton, prom: PromStandIn) -> None:
    prom.error(MODEL["success_rate"], "execution", "query processing would load too many samples", status=422)
    _, url = ask(measuring, "model-quality")
    assert lines(answer(measuring, url)) == [
        ":white_circle: *success_rate* not measured: "
        "query error (execution): query processing would load too many samples",
        ":white_circle: *latency_p95* not measured: empty result: the query matched no series",
    ]


def test_without_prometheus_url_slo_says_how_to_set_it(running: RunningBaton) -> None:
    acked, _ = ask(running, "model-quality")
    assert acked is not None
    assert acked["text"] == (
        ":warning: Cannot measure `model-quality`: set PROMETHEUS_URL in Baton's environment to your "
        "Prometheus server's base URL (e.g. http://prometheus:9090) and restart Baton."
    )
