"""Monitoring end to end with the real servers: Debian's Prometheus and
Alertmanager (tests/promstack.py) scraping a target the test serves at a 97 % success rate.

- rule → real Alertmanager → Baton's webhook → one P1 incident paging the owning team;
- `baton nudge slo` (a real process) reads 97.0 % against 99.5 % from the real Prometheus and
  declares the incident.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Evidence, Incident
from tests.conftest import BATON, FAST_SEVERITY, clean_env, serve_env, start_baton
from tests.handlers.test_incident_command import OWNING_TEAM, page_dms, paged_users
from tests.promstack import SUCCESS_RATE_QUERY, PromStack

pytestmark = pytest.mark.prometheus

TOKEN = "e2e-alert-token-0123456789"


def test_a_rule_fires_through_alertmanager_and_baton_pages_the_owning_team(
    fake_slack: FakeSlack, sqlite_url: str, promstack: Callable[..., PromStack]
) -> None:
    rb = start_baton(fake_slack, sqlite_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY), BATON_ALERT_TOKEN=TOKEN)
    try:
        stack = promstack(webhook_url=f"{rb.url}/alerts/alertmanager", token=TOKEN)
        stack.prometheus.wait_for_alert("LLMSuccessRateBelowSLO")

        def declared() -> list[Incident]:
            with session(rb.baton.engine) as s:
                return list(s.exec(select(Incident).order_by(col(Incident.id))).all())

        (inc,) = fake_slack.wait_for(declared, timeout=60, message="an incident from Alertmanager")
        assert (inc.area, inc.severity, inc.declared_by) == ("model-quality", "P1", "alertmanager")
        assert inc.title.startswith("LLMSuccessRateBelowSLO: Model success rate 97")
        fake_slack.wait_for(
            lambda: paged_users(page_dms(fake_slack)) == OWNING_TEAM, message="owning team paged"
        )

        def evidence() -> list[Evidence]:
            with session(rb.baton.engine) as s:
                return list(s.exec(select(Evidence)).all())

        (row,) = fake_slack.wait_for(evidence, message="the alert's annotations as evidence")
        assert row.kind == "alert" and "below 99%" in row.text
        assert row.link is not None and row.link.startswith(stack.prometheus.url)
        # Alertmanager keeps the group and sends again on changes only: still the one incident.
        stack.prometheus.wait_for_alert("LLMSuccessRateBelowSLO")
        assert len(declared()) == 1
    finally:
        rb.stop()


def test_baton_nudge_slo_reads_97_percent_from_prometheus_and_declares(
    fake_slack: FakeSlack, tmp_path: Path, promstack: Callable[..., PromStack]
) -> None:
    stack = promstack()  # no Alertmanager: the digest alone
    assert stack.prometheus.wait_for_value(SUCCESS_RATE_QUERY) == pytest.approx(0.97, abs=0.005)
    for name, channel_id in (("ml-team", "C07MLTEAM"), ("platform", "C07PLATFORM")):
        fake_slack.add_channel(name, channel_id=channel_id)
    env = serve_env(fake_slack, tmp_path, PROMETHEUS_URL=stack.prometheus.url)
    run = subprocess.run(
        [BATON, "nudge", "slo"],
        env={**clean_env(), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "*success_rate* 97.0 % (objective ≥ 99.5 %)" in run.stdout
    assert "declared incident #1 (P1, model-quality)" in run.stdout
    digest = next(m["text"] for m in fake_slack.messages("C07MLTEAM") if "SLO digest" in m["text"])
    assert "97.0 %" in digest
    posted = str(fake_slack.messages("C07MLTEAM")[-1].get("blocks"))
    assert "incident #1 declared (P1)" in posted
