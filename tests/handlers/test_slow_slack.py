"""No Slack call while a database transaction is open: a reload whose
users.lookupByEmail is unanswered must not hold the database, so /incident is answered while
Slack still holds that answer. (Every test also fails if Baton logs a Slack call made inside a
transaction: see tests/conftest.py.)"""

from __future__ import annotations

import threading
from pathlib import Path

from bot.slack.standin import FakeSlack
from tests.conftest import FAST_SEVERITY, SHIPPED_OWNERSHIP, start_baton
from tests.slack_signing import post_signed, slash_command_body

NIA = "U07NIA0001"
LOOKUP = "users.lookupByEmail"


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
        # Slack holds its answer until the declaration has been answered: had the reload held
        # the database over its Slack call, the declaration would wait for an answer that only
        # comes after it (and the hang guard below would end the test).
        looked_up, asked = fake_slack.answered(LOOKUP), fake_slack.arrived_count(LOOKUP)  # at start-up
        answer_lookup = fake_slack.hold(LOOKUP)
        reload = threading.Thread(target=rb.baton.reload)
        reload.start()
        fake_slack.wait_for(
            lambda: fake_slack.arrived_count(LOOKUP) > asked, timeout=30, message="the reload asks Slack"
        )
        resp = post_signed(
            f"{rb.url}/slack/events",
            slash_command_body("/incident", "P1 model-quality Refusals up", user_id="U07LEO0002"),
            rb.secret,
            timeout=30,  # a hang guard only: the lookup is still unanswered, whatever the load
        )
        assert resp.status_code == 200 and "Declared" in resp.text, resp.text
        assert fake_slack.answered(LOOKUP) == looked_up and reload.is_alive()
        answer_lookup.set()
        reload.join(timeout=60)
        assert rb.baton.ownership.user_id("nia") == NIA  # and the reload did its work
    finally:
        fake_slack.hold(LOOKUP).set()
        rb.stop()
