"""Open follow-ups in the weekly failure review, on an injected clock (15 days pass in a
millisecond), SQLite and PostgreSQL: every open one of the area, a drill's included while the
drill stays out of the incident figures, those open over 14 days marked overdue, done ones gone;
in `baton nudge review`'s Markdown and in the post the ticker sends to the team's channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.drills import start as drills
from bot.followups import services as followups
from bot.incidents import services as incidents
from bot.nudges import review
from bot.slack.standin import FakeSlack
from tests.monitoring.test_slo import Clocked, clocked_baton
from tests.nudges.test_review import pass_time

MAYA, OMAR, LEO, JONAS = "U07MAYA001", "U07OMAR001", "U07LEO0002", "U07JONAS01"
ML = "C07MLTEAM"


@pytest.fixture
def clocked(fake_slack: FakeSlack, db_url: str) -> Iterator[Clocked]:
    fake_slack.add_channel("ml-team", channel_id=ML)
    c = clocked_baton(fake_slack, db_url)
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def test_open_and_overdue_follow_ups_in_the_weekly_review(clocked: Clocked) -> None:
    c, b = clocked, clocked.baton
    incidents.declare(baton=b, severity="P2", area="model-quality", title="Stale embeddings", reporter=LEO)
    drills.start(baton=b, severity="P2", area="model-quality", title="Game day", starter=MAYA)
    pass_time(c, timedelta(minutes=1))
    followups.add(baton=b, number=1, text="Add a canary <!channel>", owner=None, user=LEO)
    followups.add(baton=b, number=2, text="Page the right team", owner=None, user=MAYA)
    finished = followups.add(baton=b, number=1, text="Already done", owner=None, user=LEO)
    assert finished.id is not None
    followups.done(baton=b, follow_up_id=finished.id, user=JONAS)

    pass_time(c, timedelta(days=10))
    followups.add(baton=b, number=1, text="Alert on staleness", owner=OMAR, user=LEO)
    pass_time(c, timedelta(days=5))  # the first two are 15 days old now; the last one 5

    found = review.review(b)
    area = found.area("model-quality")
    listed = [(f.incident.id, f.follow_up.text, f.overdue) for f in area.follow_ups]
    assert listed == [
        (1, "Add a canary <!channel>", True),
        (2, "Page the right team", True),
        (1, "Alert on staleness", False),
    ]
    assert [i.number for i in area.still_open] == [1]  # the drill is not counted as an incident

    md = found.markdown()
    assert "### Open follow-ups: 3 open, 2 overdue (open over 14 days)" in md
    assert f"- #1: Add a canary <!channel> · owner {MAYA} · overdue, added " in md
    assert f"- drill #2: Page the right team · owner {MAYA} · overdue, added " in md
    assert f"- #1: Alert on staleness · owner {OMAR} · added " in md
    assert "Already done" not in md

    review.run(b)
    post = c.fake.wait_for(
        lambda: next((m for m in c.posts(ML) if "Weekly failure review" in m.get("text", "")), None),
        message="the review in the team's channel",
    )
    shown = "\n".join(block["text"]["text"] for block in post["blocks"] if block.get("text"))
    assert "*Open follow-ups*: 3 open, 2 overdue (open over 14 days)" in shown
    assert f"• *#1* Add a canary &lt;!channel&gt; · owner <@{MAYA}> · open · :hourglass: *overdue*" in shown
    drill = f"• *#2* Page the right team · owner <@{MAYA}> · open · :hourglass: *overdue* · DRILL added"
    assert drill in shown
    assert f"• *#1* Alert on staleness · owner <@{OMAR}> · open · added" in shown
    assert "<!channel>" not in shown


def test_an_area_with_only_a_follow_up_open_is_not_a_quiet_week(clocked: Clocked) -> None:
    c, b = clocked, clocked.baton
    incidents.declare(baton=b, severity="P2", area="model-quality", title="Stale embeddings", reporter=LEO)
    pass_time(c, timedelta(minutes=1))
    followups.add(baton=b, number=1, text="Add a canary", owner=None, user=LEO)
    incidents.resolve(baton=b, number=1, summary="Reindexed", user=MAYA)
    pass_time(c, timedelta(days=8))  # the incident is out of this week's; its follow-up is not
    area = review.review(b).area("model-quality")
    assert not area.incidents and not area.still_open
    assert not area.quiet and len(area.follow_ups) == 1
