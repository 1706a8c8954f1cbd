"""How fast POST /alerts/alertmanager answers, on loopback.

A real Baton (HTTP server, ticker, SQLite file in a temp dir) with the shipped YAML talks to
bot.slack.standin.FakeSlack. For groups of 1, 100 and 1,000 alerts it sends Alertmanager's v4
notification for a new group (which declares an incident), then the same notification again
(a resend: nothing new), and prints p50 / max of the answer time over a few groups each.

Run: ``.venv/bin/python bench/alert_webhook.py [--groups N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bot.app.runner import Runner, boot  # noqa: E402
from bot.config.loader import load_config  # noqa: E402
from bot.slack.standin import FakeSlack  # noqa: E402
from bot.store.settings import Settings  # noqa: E402
from handlers.app import create_app  # noqa: E402
from tests.conftest import add_people  # noqa: E402

TOKEN = "bench-alert-token"


def notification(group: str, size: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "LLMSuccessRateLow",
                "area": "model-quality",
                "severity": "P2",
                "pod": f"p{i}",
            },
            "annotations": {"summary": "Success rate under 99%", "description": f"pod p{i % 7}"},
            "startsAt": "2026-11-29T14:05:00Z",
            "generatorURL": "http://prometheus.example.com/graph",
            "fingerprint": f"{group}-{i:08x}",
        }
        for i in range(size)
    ]
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": group,
        "status": "firing",
        "receiver": "baton",
        "groupLabels": {"alertname": "LLMSuccessRateLow"},
        "commonLabels": {"alertname": "LLMSuccessRateLow", "area": "model-quality", "severity": "P2"},
        "commonAnnotations": {"summary": "Success rate under 99%"},
        "externalURL": "http://alertmanager.example.com",
        "alerts": alerts,
    }
    return json.dumps(body).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=5, help="new groups per size (default 5)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = []
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        add_people(fake, ROOT / "ownership.yaml")
        fake.add_channel("ai-backlog", channel_id="C07BACKLOG")
        env = {
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": "bench-signing-secret-0123456789abcdef",
            "SLACK_API_URL": fake.url,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'baton.db'}",
            "BATON_OWNERSHIP_FILE": str(ROOT / "ownership.yaml"),
            "BATON_SEVERITY_FILE": str(ROOT / "severity.yaml"),
            "BATON_ALERT_TOKEN": TOKEN,
            "PORT": "0",
        }
        settings = Settings.from_env(env)
        config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
        baton = boot(settings, config)
        runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
        runner.start()
        url = f"http://127.0.0.1:{runner.http.port}/alerts/alertmanager"
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            with httpx.Client(timeout=30) as client:
                for size in (1, 100, 1000):
                    first, again = [], []
                    for g in range(args.groups):
                        body = notification(f"bench-{size}-{g}", size)
                        for times in (first, again):
                            t0 = time.perf_counter()
                            resp = client.post(url, content=body, headers=headers)
                            times.append((time.perf_counter() - t0) * 1000)
                            assert resp.status_code == 200, resp.text
                    rows.append((size, "new group (declares)", first))
                    rows.append((size, "resend (unchanged)", again))
        finally:
            runner.stop()
    print(f"POST /alerts/alertmanager answer time, {args.groups} groups per size, SQLite, loopback\n")
    print(f"{'alerts':>6}  {'notification':<22}  {'p50':>9}  {'max':>9}")
    print(f"{'-' * 6}  {'-' * 22}  {'-' * 9}  {'-' * 9}")
    for size, what, times in rows:
        print(f"{size:>6}  {what:<22}  {statistics.median(times):>6.0f} ms  {max(times):>6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
