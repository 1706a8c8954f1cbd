"""The weekly failure review on an injected clock, SQLite and PostgreSQL: the
week's incidents with time to acknowledge against their windows, breaches and evidence counts;
what is still open (incidents of any age, unsigned handoffs); the product's failure cases with
masked examples; the Markdown `baton nudge review` prints, and the per-area posts the ticker
sends to the team channel or the accountable person's DM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.incidents import services as incidents
from bot.monitoring import feedback
from bot.nudges import review
from bot.records import evidence, handoffs
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Job
from bot.store.runtime import Baton
from tests.monitoring.test_slo import Clocked, clocked_baton

MAYA, DANA, ROSA, LEO = "U07MAYA001", "U07DANA001", "U07ROSA001", "U07LEO0002"
KENJI = "U07KENJI01"
ML, DATA, PRODUCT, PLATFORM = "C07MLTEAM", "C07DATATEAM", "C07PRODUCT", "C07PLATFORM"


def pass_time(c: Clocked, delta: timedelta) -> None:
    """Move the clock on by `delta`, running every job at its due time on the way (a page that
    comes due an hour in runs an hour in, not days later)."""
    end = c.clock.now() + delta
    while True:
        c.ticker.run_until_idle()
        with session(c.baton.engine) as s:
            due = s.exec(
                select(func.min(func.coalesce(col(Job.retry_at), col(Job.due_at)))).where(
                    col(Job.state) == "pending"
                )
            ).one()
        if due is None:
            break
        due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite gives it back naive
        if due > end:
            break
        c.clock.advance(max(due - c.clock.now(), timedelta(0)))
    c.clock.advance(end - c.clock.now())
    c.ticker.run_until_idle()


def report(baton: Baton, text: str, *, kind: str = "thumbs_down", area: str = "model-quality") -> None:
    body = {"area": area, "kind": kind, "text": text, "confidence": 0.31, "ref": "conv-1"}
    feedback.receive(baton=baton, body=json.dumps(body).encode())


@pytest.fixture
def week(fake_slack: FakeSlack, db_url: str) -> Iterator[Clocked]:
    """Ten days of a workspace, from Sunday 2026-11-22 09:00 UTC to Wednesday 2026-12-02 09:00:

    day 0: #1 P2 model-quality, never resolved; #2 P1 data, resolved; a thumbs down (too old).
    day 4: #3 P1 model-quality acknowledged after 20m (inside 1h), 2 evidence, resolved;
           #4 P1 model-quality acknowledged after 1h30m (outside 1h, breached), 1 evidence, open.
    day 6: dana hands the data area to kenji (unsigned); the product reports 4 model-quality
           cases and 1 for data.
    """
    for name, channel in (("ml-team", ML), ("data-team", DATA), ("product", PRODUCT), ("platform", PLATFORM)):
        fake_slack.add_channel(name, channel_id=channel)
    c = clocked_baton(fake_slack, db_url)
    b = c.baton
    incidents.declare(baton=b, severity="P2", area="model-quality", title="Stale embeddings", reporter=LEO)
    incidents.declare(baton=b, severity="P1", area="data", title="Index lag", reporter=LEO)
    pass_time(c, timedelta(seconds=1))
    incidents.resolve(baton=b, number=2, summary="Reindexed", user=DANA)
    report(b, "too old to count this week")

    pass_time(c, timedelta(days=4))
    incidents.declare(baton=b, severity="P1", area="model-quality", title="Hallucination spike", reporter=LEO)
    pass_time(c, timedelta(minutes=20))
    incidents.acknowledge(baton=b, number=3, user=MAYA)
    evidence.add(baton=b, number=3, author=MAYA, text="refusals 12% since 14:05")
    evidence.add(baton=b, number=3, author=MAYA, text="https://grafana.example.com/d/llm")
    incidents.resolve(baton=b, number=3, summary="Rolled back prompt v42", user=MAYA)
    incidents.declare(baton=b, severity="P1", area="model-quality", title="Checkout <!channel>", reporter=LEO)
    pass_time(c, timedelta(minutes=90))  # past the 1h window: breached
    incidents.acknowledge(baton=b, number=4, user=MAYA)
    evidence.add(baton=b, number=4, author=MAYA, text="checkout errors")

    pass_time(c, timedelta(days=2))
    handoffs.start(
        baton=b, area="data", role="accountable", to="kenji", peer=None, note="parental leave", user=DANA
    )
    report(b, "refund answer wrong, mail jane.doe@corp.example")
    report(b, "asked for a human <@U07SAM0001> <!here>", kind="handed_to_human")
    report(b, "said 30 days instead of 14")
    report(b, "", kind="low_confidence")
    report(b, "no results for invoice", area="data", kind="other")
    pass_time(c, timedelta(days=4))
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def test_the_review_reads_the_week_per_area(week: Clocked) -> None:
    found = review.review(week.baton, now=week.clock.now())
    assert found.end - found.start == timedelta(days=7)
    model = found.area("model-quality")
    assert [(i.number, i.severity, i.title) for i in model.incidents] == [
        (3, "P1", "Hallucination spike"),
        (4, "P1", "Checkout <!channel>"),
    ]
    three, four = model.incidents
    assert (three.response(), three.state, three.evidence, three.breached) == (
        "acknowledged after 20m, inside the 1h window",
        "resolved",
        2,
        False,
    )
    assert (four.response(), four.state, four.evidence, four.breached) == (
        "acknowledged after 1h30m, outside the 1h window",
        "acknowledged",
        1,
        True,
    )
    assert model.breaches == 1
    # Open incidents of any age: #1 from ten days ago, #4 from this week; #2 is resolved.
    assert [(i.number, i.state, i.response()) for i in model.still_open] == [
        (1, "open", "not acknowledged yet (4h window, breached)"),
        (4, "acknowledged", "acknowledged after 1h30m, outside the 1h window"),
    ]
    assert model.failures.counts == {"thumbs_down": 2, "handed_to_human": 1, "low_confidence": 1}
    assert model.failures.examples == (
        "thumbs_down, confidence 0.31, ref conv-1: said 30 days instead of 14",
        "handed_to_human, confidence 0.31, ref conv-1: asked for a human @U07SAM0001 <!here>",
        "thumbs_down, confidence 0.31, ref conv-1: refund answer wrong, mail [email]",
    )
    data = found.area("data")
    assert (data.incidents, data.still_open) == ((), ())
    (pending,) = data.handoffs
    assert (pending.role, pending.from_ref, pending.to_ref, pending.waiting_for) == (
        "accountable",
        "dana",
        "kenji",
        (("kenji", KENJI),),
    )
    assert data.failures.counts == {"other": 1}
    assert found.area("user-experience").quiet and found.area("user-experience").summary() == "a quiet week"
    assert found.summary() == "2 incidents (1 breached), 2 still open, 1 unsigned handoff, 5 failure cases"


def test_the_markdown_shows_every_area(week: Clocked) -> None:
    text = review.review(week.baton, now=week.clock.now()).markdown()
    assert text.startswith(
        "# Weekly failure review, 2026-11-25 10:50 UTC – 2026-12-02 10:50 UTC\n\n"
        "All areas: 2 incidents (1 breached), 2 still open, 1 unsigned handoff, 5 failure cases.\n"
    )
    assert (
        "## Model / Prompt (model-quality): 2 incidents (1 breached), 2 still open, 4 failure cases\n\n"
        "### This week: 2 incidents, 1 breached\n"
        "- #3 P1 Hallucination spike · declared 2026-11-26 09:00 UTC · acknowledged after 20m, inside the "
        "1h window · resolved · 2 evidence\n"
        "- #4 P1 Checkout <!channel> · declared 2026-11-26 09:20 UTC · acknowledged after 1h30m, outside the "
        "1h window · acknowledged · 1 evidence\n\n"
        "### Still open\n"
        "- #1 P2 Stale embeddings · open since 2026-11-22 09:00 UTC · not acknowledged yet (4h window, "
        "breached) · open · no evidence\n"
    ) in text
    assert (
        "### Failure cases from the product: 4 (thumbs_down 2, low_confidence 1, handed_to_human 1)\n"
        "- thumbs_down, confidence 0.31, ref conv-1: said 30 days instead of 14\n"
    ) in text
    assert "jane.doe" not in text and "too old" not in text
    assert (
        "### Unsigned handoffs\n- receipt #1: accountable, dana → kenji, started 2026-11-28 10:50 UTC; "
        "waiting for kenji\n"
    ) in text
    assert "## Policy / Guardrails (policy-guardrails): a quiet week\n" in text


def test_run_queues_each_area_to_its_team_channel_or_the_accountable_dm(week: Clocked) -> None:
    found = review.run(week.baton)
    assert found.summary().startswith("2 incidents")
    week.ticker.run_until_idle()
    (ml,) = [m for m in week.fake.messages(ML) if m["text"].startswith("Weekly failure review")]
    assert ml["text"] == (
        "Weekly failure review · Model / Prompt: 2 incidents (1 breached), 2 still open, 4 failure cases"
    )
    shown = "\n".join(b["text"]["text"] for b in ml["blocks"] if b["type"] == "section")
    assert "*This week*: 2 incidents, 1 breached" in shown
    four = incidents.get(baton=week.baton, number=4)
    assert four.channel_id and f":red_circle: #4 <#{four.channel_id}> P1 Checkout &lt;!channel&gt;" in shown
    assert "<!channel>" not in shown and "acknowledged after 20m, inside the 1h window" in shown
    assert "*Still open*: 2" in shown and "*Unsigned handoffs*" not in shown  # only what there is
    assert "*Failure cases from the product*: 4 (thumbs_down 2, low_confidence 1, handed_to_human 1)" in shown
    assert (
        "> handed_to_human, confidence 0.31, ref conv-1: asked for a human @U07SAM0001 &lt;!here&gt;" in shown
    )
    assert "[email]" in shown and "jane.doe" not in json.dumps(ml) and "<@U07SAM0001>" not in shown
    note = ml["blocks"][-1]["elements"][0]["text"]
    assert "all areas: 2 incidents (1 breached), 2 still open, 1 unsigned handoff, 5 failure cases" in note

    (data,) = [m for m in week.fake.messages(DATA) if m["text"].startswith("Weekly failure review")]
    assert f"waiting for <@{KENJI}>" in json.dumps(data["blocks"])
    # Legal / Compliance has no channel: the accountable person (rosa) gets policy-guardrails by DM.
    dms = [m for m in week.fake.dm_messages(ROSA) if m["text"].startswith("Weekly failure review")]
    assert [m["text"] for m in dms] == ["Weekly failure review · Policy / Guardrails: a quiet week"]
    assert dms[0]["blocks"][1]["text"]["text"].startswith("A quiet week: no incidents, nothing open")
    assert [p.where for p in review.digest(week.baton) if p.area == "policy-guardrails"] == [
        f"<@{ROSA}> by DM"
    ]
