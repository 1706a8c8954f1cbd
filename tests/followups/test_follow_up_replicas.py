"""Two replicas on one PostgreSQL take a Done click each for the same follow-up at once: it is
marked done once, recorded once and said in the channel once; the second person is told it
was already done."""

from __future__ import annotations

import threading
from typing import Any

from bot.slack.standin import FakeSlack
from tests.conftest import settle, start_baton
from tests.followups.test_follow_ups import CANARY, JONAS, add, click_done, follow_ups, kinds, started
from tests.handlers.test_incident_command import MAYA, texts


def test_two_replicas_take_done_at_once_and_record_it_once(fake_slack: FakeSlack, pg_url: str) -> None:
    first, second = start_baton(fake_slack, pg_url), start_baton(fake_slack, pg_url)
    try:
        channel = started(first)
        add(first, channel, CANARY)
        (fu,) = follow_ups(first)
        assert fu.id is not None
        answers: dict[str, dict[str, Any]] = {}
        gate = threading.Barrier(2)

        def press(rb: Any, user: str) -> None:
            gate.wait()
            answers[user] = click_done(rb, channel, fu.id or 0, user)

        threads = [threading.Thread(target=press, args=a) for a in ((first, MAYA), (second, JONAS))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert set(answers) == {MAYA, JONAS}
        settle(first)
        settle(second)

        (after,) = follow_ups(first)
        assert after.state == "done" and after.done_by in (MAYA, JONAS)
        loser = JONAS if after.done_by == MAYA else MAYA
        notice = answers[loser]["blocks"][0]["text"]["text"]
        assert f"already done (by <@{after.done_by}>)" in notice
        assert kinds(first).count("follow_up_done") == 1
        said = [t for t in texts(fake_slack, channel.id) if "marked a follow-up done" in t]
        who = after.done_by
        assert said == [f":ballot_box_with_check: <@{who}> marked a follow-up done: {CANARY}"]
    finally:
        first.stop()
        second.stop()
