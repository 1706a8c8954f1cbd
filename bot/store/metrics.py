"""Prometheus metrics, one registry per running Baton (so tests can run several side by side)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.store.models import Incident


class Metrics:
    def __init__(self) -> None:
        # No *_created series: a timestamp per counter that dashboards never use and that doubles
        # the series count. The switch is process-wide in prometheus_client, so set it before any
        # metric is made.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_errors = Counter(
            "baton_slack_errors",
            "Slack Web API calls that failed, by method and error",
            ["method", "error"],
            registry=self.registry,
        )
        self.config_reloads = Counter(
            "baton_config_reloads", "Config reloads, by result", ["result"], registry=self.registry
        )
        self.requests = Counter(
            "baton_slack_requests", "Requests from Slack, by kind", ["kind"], registry=self.registry
        )
        # Baton's own SLI as a receiver of alerts: alert on its 5xx ratio to watch the watcher.
        self.alert_requests = Counter(
            "baton_alert_webhook_requests",
            "Requests to POST /alerts/alertmanager, by HTTP status code",
            ["code"],
            registry=self.registry,
        )
        self.alerts_cut = Counter(
            "baton_alerts_cut",
            "Alerts of a notification not read: left out by Alertmanager (max_alerts) or past the "
            "alerts Baton reads of one notification",
            ["by"],
            registry=self.registry,
        )
        self.feedback_requests = Counter(
            "baton_feedback_requests",
            "Requests to POST /feedback, by HTTP status code",
            ["code"],
            registry=self.registry,
        )
        self.feedback_cases = Counter(
            "baton_feedback_cases",
            "Failure cases the AI product reported through POST /feedback, by area and kind",
            ["area", "kind"],
            registry=self.registry,
        )

        self.pages_due = Counter(
            "baton_pages_due", "Pages that came due (DMs Baton owed someone)", registry=self.registry
        )
        self.pages_sent = Counter(
            "baton_pages_sent", "Pages sent (DMs delivered to Slack)", registry=self.registry
        )
        self.pages_on_time = Counter(
            "baton_pages_sent_on_time", "Pages sent within 1 s of their due time", registry=self.registry
        )
        self.breaches = Counter("baton_window_breaches", "Response windows breached", registry=self.registry)
        self.job_retries = Counter(
            "baton_job_retries",
            "Jobs that failed and will be tried again, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.jobs_given_up = Counter(
            "baton_jobs_given_up",
            "Jobs given up for good (and reported to a person), by kind",
            ["kind"],
            registry=self.registry,
        )
        self.tick_failures = Counter(
            "baton_tick_failures",
            "Ticks of the job queue that failed (the database refused); each is tried again within 2 s",
            registry=self.registry,
        )
        self.time_to_ack = Histogram(
            "baton_time_to_acknowledge_seconds",
            "Time from declaration to acknowledgement",
            buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 86400),
            registry=self.registry,
        )

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class IncidentStates(Collector):
    """baton_incidents{state=…}: read from the database at scrape time, so every replica agrees.
    Drills are never counted in it: they are baton_drills{state=…}."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):  # type: ignore[no-untyped-def]
        incidents = GaugeMetricFamily(
            "baton_incidents", "Incidents by state (drills not counted)", labels=["state"]
        )
        drills = GaugeMetricFamily("baton_drills", "Drills (rehearsal incidents) by state", labels=["state"])
        counts = {drill: {"open": 0, "acknowledged": 0, "resolved": 0} for drill in (False, True)}
        query = select(Incident.drill, Incident.state, func.count()).group_by(
            col(Incident.drill), col(Incident.state)
        )
        with Session(self.engine) as s:
            for drill, state, n in s.exec(query).all():
                counts[bool(drill)][state] = n
        for gauge, drill in ((incidents, False), (drills, True)):
            for state, n in counts[drill].items():
                gauge.add_metric([state], n)
            yield gauge


class ClockOffset(Collector):
    """baton_clock_offset_seconds: how far this machine's clock is behind the database's
    (negative: ahead), as last measured; Baton keeps the database's time (bot/store/clock.py)."""

    def __init__(self, offset: Callable[[], float]):
        self.offset = offset

    def collect(self):  # type: ignore[no-untyped-def]
        gauge = GaugeMetricFamily(
            "baton_clock_offset_seconds",
            "This machine's clock behind the database's (negative: ahead); Baton keeps the database's time",
        )
        gauge.add_metric([], self.offset())
        yield gauge
