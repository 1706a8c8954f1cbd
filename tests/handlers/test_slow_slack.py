"""No Slack call while a database transaction is open (issue 6, item 5): a reload whose
users.lookupByEmail takes 5 s must not hold the database, so /incident is still answered within
Slack's 3 s. (Every test also fails if Baton logs a Slack call made inside a transaction: see
tests/conftest.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.conftest import FAST_SEVERITY, SHIPPED_OWNERSHIP, start_baton
from tests.fakeslack import FakeSlack
from tests.slack_signing import post_signed, slash_command_body

NIA = "U07NIA0001"


def test_a_slow_lookup_during_a_reload_does_not_delay_a_declaration(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    rb = start_baton(
        fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership), BATON_SEVERITY_FILE=str(FAST_SEVERITY)
    )
    try:
        # A new person, by e-mail: the reload has to ask Slack who that is, and Slack is slow.
        fake_slack.add_user(NIA, "nia", email="nia.new@example.com")
        ownership.write_text(
            ownership.read_text().replace(
                "  ben: ben.okafor@example.com\n",
                "  ben: ben.okafor@example.com\n  nia: nia.new@example.com\n",
            )
        )
        fake_slack.set_latency("users.lookupByEmail", 5.0)
        reload = threading.Thread(target=rb.baton.reload)
        reload.start()
        fake_slack.wait_for(
            lambda: fake_slack.arrived("users.lookupByEmail"), message="the reload asks Slack"
        )
        assert reload.is_alive()
        t0 = time.monotonic()
        resp = post_signed(
            f"{rb.url}/slack/events",
            slash_command_body("/incident", "P1 model-quality Refusals up", user_id="U07LEO0002"),
            rb.secret,
            timeout=3.0,  # Slack gives up after 3 s
        )
        answered = time.monotonic() - t0
        assert resp.status_code == 200 and "Declared" in resp.text, resp.text
        assert reload.is_alive(), "the reload had already finished: the test proves nothing"
        assert answered < 3.0
        reload.join(timeout=15)
        assert rb.baton.ownership.user_id("nia") == NIA  # and the reload did its work
    finally:
        fake_slack.set_latency("users.lookupByEmail", 0)
        rb.stop()
