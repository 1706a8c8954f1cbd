"""No secret or personal data in Baton's log: a database error and a failed command are logged
without the values involved. Signed `/readiness` requests to a running Baton whose database
refuses the tick (a trigger on SQLite; a CHECK constraint on PostgreSQL, whose error DETAIL
quotes the failing row). On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from tests.conftest import RunningBaton
from tests.slack_signing import slash_command_body

OMAR = "U07OMAR001"  # ML Team: may tick model-quality's items
GENERAL = "C0GENERAL"
# Not a shape masking knows (it stays in the stored link): only the log's own care keeps it out.
SECRET = "hunter2-4f9a2b7c1d"
LINK = f"https://grafana.example.com/d/llm?auth={SECRET}"


def refuse_ticks(rb: RunningBaton) -> None:
    """The database refuses every tick with a link, as a database error would."""
    with rb.baton.engine.begin() as conn:
        if rb.baton.engine.dialect.name == "postgresql":
            refuse = "ALTER TABLE readiness_tick ADD CONSTRAINT test_refuses CHECK (link IS NULL)"
            conn.execute(sa.text(refuse))
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER test_refuses BEFORE INSERT ON readiness_tick WHEN NEW.link IS NOT NULL "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


def test_a_database_error_and_a_failed_command_log_no_typed_text(
    running: RunningBaton, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refuse_ticks(running)
    url = running.fake.response_url(GENERAL, OMAR)
    text = f"model-quality check dashboard {LINK}"
    resp = running.post(slash_command_body("/readiness", text, user_id=OMAR, response_url=url))
    assert resp.status_code == 200, resp.text
    (posted,) = running.fake.wait_for(lambda: running.fake.responses(url), timeout=30, message="respond()")
    assert "/readiness failed (IntegrityError)" in str(posted.body)
    # The failure is logged, with the database's error and its traceback ...
    failed = [r for r in caplog.records if r.exc_info and r.getMessage().startswith("/readiness")]
    assert failed, caplog.text
    assert "readiness_tick" in caplog.text  # the statement is kept: it says what failed
    # ... but neither the typed text nor the statement's values nor the failing row.
    assert SECRET not in caplog.text
    assert "Failing row contains" not in caplog.text
