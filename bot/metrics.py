"""Prometheus metrics, one registry per running Baton (so tests can run several side by side)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
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

    def add_collector(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
