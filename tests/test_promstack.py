"""The test stack itself (tests/promstack.py) and the shipped examples/ it runs.

Real Prometheus and Alertmanager (Debian's packages): the target is scraped and read as
ownership.yaml's queries read it, the example rules load and evaluate, and an alert from them
reaches a webhook through the example receiver with Baton's token and labels.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.config.thresholds import parse_comparison
from bot.monitoring import alertstream
from tests.promstack import (
    EXAMPLE_RECEIVER,
    EXAMPLE_RULES,
    LATENCY_P95_QUERY,
    ROOT,
    SUCCESS_RATE_QUERY,
    PromStack,
    Received,
    WebhookRecorder,
    amtool_binary,
    binary,
    promtool_binary,
    run_prometheus,
    serve_metrics_target,
    write_test_alertmanager_config,
    write_test_rules,
)

pytestmark = pytest.mark.prometheus

TOKEN = "test-alert-token-0123456789"


def example_alerts() -> list[dict[str, Any]]:
    doc = yaml.safe_load(EXAMPLE_RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


# -- the examples, offline ---------------------------------------------------------------------


def test_promtool_accepts_the_example_rules() -> None:
    run = subprocess.run(
        [promtool_binary(), "check", "rules", str(EXAMPLE_RULES)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(example_alerts())} rules found" in run.stdout


def test_amtool_accepts_the_example_receiver_and_the_tests_copy(tmp_path: Path) -> None:
    copy = write_test_alertmanager_config(
        tmp_path, webhook_url="http://127.0.0.1:9/alerts/alertmanager", token=TOKEN
    )
    for config in (EXAMPLE_RECEIVER, copy):
        run = subprocess.run([amtool_binary(), "check-config", str(config)], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "SUCCESS" in run.stdout


def test_the_example_receiver_sends_to_baton_as_baton_expects() -> None:
    doc = yaml.safe_load(EXAMPLE_RECEIVER.read_text())
    (baton,) = [r for r in doc["receivers"] if r["name"] == "baton"]
    (hook,) = baton["webhook_configs"]
    assert hook["url"].endswith("/alerts/alertmanager")
    assert hook["send_resolved"] is True
    # Alertmanager sends at most the alerts Baton reads of a notification, and says how many it cut.
    assert hook["max_alerts"] == alertstream.MAX_ALERTS
    auth = hook["http_config"]["authorization"]
    assert auth.get("type", "Bearer") == "Bearer" and ("credentials_file" in auth or "credentials" in auth)
    (route,) = [r for r in doc["route"]["routes"] if r["receiver"] == "baton"]
    areas = yaml.safe_load((ROOT / "ownership.yaml").read_text())["areas"]
    for area in areas:  # every shipped area reaches Baton
        assert area in route["matchers"][0], (area, route["matchers"])


def test_the_example_rules_are_ownership_yamls_queries_and_thresholds() -> None:
    """Each alert is `<the area's slo_query> <op> <slo: alert threshold>` at that SLI's severity,
    so the page and `/slo` show the same number; every SLI of `slo:` has a rule."""
    ownership = yaml.safe_load((ROOT / "ownership.yaml").read_text())
    thresholds = ownership["slo"]
    alerts = example_alerts()
    assert {rule["labels"]["sli"] for rule in alerts} == set(thresholds)
    queried = 0
    for rule in alerts:
        labels = rule["labels"]
        area, sli = labels["area"], labels["sli"]
        assert area in ownership["areas"], rule["alert"]
        alert = parse_comparison(thresholds[sli]["alert"])
        assert labels["severity"] == thresholds[sli]["severity"], rule["alert"]
        assert rule["expr"].endswith(f" {alert.op} {alert.value:g}"), (rule["alert"], rule["expr"], alert)
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["for"] == "5m", rule["alert"]
        query = ownership["areas"][area].get("slo_queries", {}).get(sli)
        if query is not None:
            assert rule["expr"] == f"{query} {alert.op} {alert.value:g}", rule["alert"]
            queried += 1
    # The four SLIs ownership.yaml queries (model-quality and infra-deploy); cost has no query there.
    assert queried == 4


def test_the_tests_copy_of_the_rules_changes_only_for_and_interval(tmp_path: Path) -> None:
    copy = yaml.safe_load(write_test_rules(tmp_path).read_text())
    original = yaml.safe_load(EXAMPLE_RULES.read_text())
    for mine, theirs in zip(copy["groups"], original["groups"], strict=True):
        assert "interval" not in mine
        for a, b in zip(mine["rules"], theirs["rules"], strict=True):
            assert a["for"] == "0s"
            assert {**a, "for": b["for"]} == b


# -- skipping without the binaries --------------------------------------------------------------


def test_missing_binaries_skip_locally_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: nothing is found
    monkeypatch.delenv("BATON_REQUIRE_PROMETHEUS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="prometheus-alertmanager / alertmanager not found"):
        binary("prometheus-alertmanager", "alertmanager")
    monkeypatch.setenv("BATON_REQUIRE_PROMETHEUS", "1")
    with pytest.raises(pytest.fail.Exception, match="BATON_REQUIRE_PROMETHEUS=1"):
        binary("prometheus")


# -- the metrics target ---------------------------------------------------------------------------


def test_the_metrics_target_is_valid_exposition_and_counts_scrapes() -> None:
    with serve_metrics_target() as target:
        text = httpx.get(target.url, trust_env=False).text
        again = httpx.get(target.url, trust_env=False).text
        assert target.wait_for_scrapes(2) == 2
    run = subprocess.run([promtool_binary(), "check", "metrics"], input=text, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'llm_requests_total{code="200"} 97\n' in text and 'llm_requests_total{code="500"} 3\n' in text
    assert 'llm_requests_total{code="200"} 194\n' in again and 'llm_requests_total{code="500"} 6\n' in again


# -- real servers ---------------------------------------------------------------------------------


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        return s.connect_ex((host, int(port))) != 0


def test_prometheus_reads_the_target_as_ownership_yaml_does_and_evaluates_the_example(tmp_path: Path) -> None:
    with (
        serve_metrics_target(ok=97, errors=3, p95=2.0) as target,
        run_prometheus(tmp_path, targets=[target.address], rules=write_test_rules(tmp_path)) as prom,
    ):
        assert prom.wait_for_value(SUCCESS_RATE_QUERY) == pytest.approx(0.97, abs=0.005)
        assert prom.wait_for_value(LATENCY_P95_QUERY) == pytest.approx(2.0, abs=0.05)
        # At 97 % the P1 success-rate rule fires, and only it: p95 is 2 s, no http_* or cost series.
        firing = prom.wait_for_alert("LLMSuccessRateBelowSLO")
        assert firing["labels"]["severity"] == "P1" and firing["labels"]["area"] == "model-quality"
        assert "97%" in firing["annotations"]["summary"]
        # Every example rule is loaded and evaluated without error.
        loaded = {
            rule["name"]: rule
            for group in prom.wait_for_rules_evaluated()
            for rule in group["rules"]
            if rule["type"] == "alerting"
        }
        assert set(loaded) == {rule["alert"] for rule in example_alerts()}
        assert {name: (r["health"], r.get("lastError", "")) for name, r in loaded.items()} == {
            name: ("ok", "") for name in loaded
        }
        assert {name for name, r in loaded.items() if r["state"] != "inactive"} == {"LLMSuccessRateBelowSLO"}
    # Torn down: the process has exited and its port answers no more.
    assert prom.proc.returncode is not None
    assert refused(prom.url)


def test_an_alert_reaches_the_webhook_with_the_token_and_baton_labels_then_resolves(
    promstack: Callable[..., PromStack],  # noqa: F811  (the fixtures imported above)
    alert_webhook: WebhookRecorder,  # noqa: F811
) -> None:
    # A 3 s rate window in the rules, so that the alert resolves seconds after the target recovers.
    stack = promstack(webhook_url=alert_webhook.url, token=TOKEN, rate_window="3s")

    def notification(status: str) -> Callable[[list[Received]], Received | None]:
        return lambda got: next((r for r in got if r.json()["status"] == status), None)

    fired = alert_webhook.wait_for(notification("firing"), message="a firing notification")
    assert fired.path == "/alerts/alertmanager"
    assert fired.headers["authorization"] == f"Bearer {TOKEN}"
    body = fired.json()
    assert body["version"] == "4"
    assert body["receiver"] == "baton"
    (alert,) = body["alerts"]
    assert alert["labels"]["alertname"] == "LLMSuccessRateBelowSLO"
    assert alert["labels"]["area"] == "model-quality"
    assert alert["labels"]["severity"] == "P1"
    assert "97%" in alert["annotations"]["summary"] and alert["annotations"]["description"]
    assert alert["generatorURL"].startswith(stack.prometheus.url)

    stack.target.set(ok=100, errors=0)  # recovered: send_resolved tells the webhook
    resolved = alert_webhook.wait_for(notification("resolved"), message="a resolved notification")
    assert resolved.json()["groupKey"] == body["groupKey"]
    assert resolved.headers["authorization"] == f"Bearer {TOKEN}"
