"""Readiness: scores against both checklists,
the "still an experiment" threshold, the services' input rules, the nudge's content and where it
goes, its posts through the ticker, and two replicas ticking one item at once. On an injected
clock, SQLite and PostgreSQL, on the shipped ownership.yaml (legal has no channel)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import select

from bot.access.rule import NotAllowed
from bot.nudges import readiness as nudge
from bot.readiness import services
from bot.readiness.checklist import EXPERIMENT_AT, KEYS, Readiness, readiness
from bot.readiness.services import ReadinessError
from bot.records.handoffs import snapshot
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Job, ReadinessTick
from bot.store.runtime import Baton
from bot.text.typed import Unknown
from tests.monitoring.test_slo import Clocked, clocked_baton

MAYA, OMAR, LI = "U07MAYA001", "U07OMAR001", "ULIE"  # ML Team (li by e-mail, resolved by the fake)
ROSA, BEN = "U07ROSA001", "UBENE"  # Legal / Compliance (no channel); rosa is A of policy-guardrails
ANA, JONAS = "U07ANA0001", "U07JONAS01"
CHANNELS = {"ml": "C07MLTEAM", "platform": "C07PLATFORM", "data": "C07DATATEAM", "product": "C07PRODUCT"}
PRODUCTION_OPEN = ["business-metric", "data-access", "workflow-fit", "monitoring", "rollout-plan"]


@pytest.fixture
def c(fake_slack: FakeSlack, db_url: str) -> Iterator[Clocked]:
    for name, channel in CHANNELS.items():
        fake_slack.add_channel(f"{name}-team", channel_id=channel)
    clocked = clocked_baton(fake_slack, db_url)
    yield clocked
    clocked.ticker.shutdown()
    clocked.baton.engine.dispose()


def state(baton: Baton, area: str) -> Readiness:
    with session(baton.engine) as s:
        return readiness(baton.config, s, area)


def tick(baton: Baton, area: str, *items: str, user: str = MAYA) -> None:
    for item in items:
        services.check_item(baton=baton, area=area, item=item, user=user)


def rows(baton: Baton) -> list[tuple[str, str, str]]:
    with session(baton.engine) as s:
        return sorted((t.area, t.item, t.ticked_by) for t in s.exec(select(ReadinessTick)).all())


def test_scores_count_proven_and_ticked_items(c: Clocked) -> None:
    model = state(c.baton, "model-quality")
    # Proven by the shipped file: raci-defined, incident-owner, slos-defined, runbook; one-owner.
    assert (model.organization, model.production) == (4, 1)
    assert {s.item.key for s in model.items if s.proven} == {
        "raci-defined",
        "incident-owner",
        "slos-defined",
        "runbook",
        "one-owner",
    }
    assert (state(c.baton, "data").organization, state(c.baton, "data").production) == (3, 1)  # no SLOs
    tick(c.baton, "model-quality", "dashboard", "pii-policy", "monitoring")
    model = state(c.baton, "model-quality")
    assert (model.organization, model.production) == (6, 2)
    assert model.summary() == "organization 6/11 · production 2/6 · still an experiment"
    assert len(model.open_items) == 17 - 8
    assert state(c.baton, "data").organization == 3  # ticks are per area


def test_still_an_experiment_from_three_open_production_checkpoints(c: Clocked) -> None:
    assert EXPERIMENT_AT == 3
    area = "infra-deploy"
    # one-owner is proven: five production items open; tick them one by one.
    opened = []
    for n, item in enumerate(PRODUCTION_OPEN):
        r = state(c.baton, area)
        open_production = 6 - r.production
        assert open_production == 5 - n
        opened.append((open_production, r.experiment))
        tick(c.baton, area, item, user=JONAS)
    assert opened == [(5, True), (4, True), (3, True), (2, False), (1, False)]
    done = state(c.baton, area)
    assert (done.production, done.experiment) == (6, False)
    assert done.summary() == "organization 4/11 · production 6/6"


def test_who_may_tick_is_the_areas_r_and_a_and_admins(c: Clocked) -> None:
    for user in (MAYA, OMAR, LI, JONAS):
        services.check_item(baton=c.baton, area="model", item="rollback", user=user)
    with pytest.raises(NotAllowed) as refused:
        services.check_item(baton=c.baton, area="model-quality", item="rollback", user=ANA)
    assert str(refused.value) == (
        "Only the area's owners (ML Team, <@U07MAYA001>) or an admin (<@U07JONAS01>) can tick "
        "readiness items of Model / Prompt. Ask one of them."
    )
    assert rows(c.baton) == [("model-quality", "rollback", JONAS)]  # each tick replaced the one before
    with pytest.raises(NotAllowed):
        services.uncheck_item(baton=c.baton, area="model-quality", item="rollback", user=ROSA)
    # rosa is A of policy-guardrails, ben is in its responsible team.
    tick(c.baton, "policy", "pii-policy", user=ROSA)
    tick(c.baton, "policy", "data-classified", user=BEN)
    assert len(rows(c.baton)) == 3


def test_input_rules_of_the_services(c: Clocked) -> None:
    assert services.item_of("PII policy").key == "pii-policy"
    assert services.item_of("`Dashboard`").key == "dashboard"
    with pytest.raises(Unknown, match="Did you mean `rollout-plan`"):
        services.item_of("rollout-plans")
    clean = services.clean_link
    assert (
        clean("<https://x.example/a?b=1&amp;c=2|x.example>", area="a", item="b")
        == "https://x.example/a?b=1&c=2"
    )
    assert clean("HTTP://x.example", area="a", item="b") == "HTTP://x.example"
    for bad in ("x.example", "https://", "javascript:alert(1)", "<mailto:a@b.example>", "ftp://x.example"):
        with pytest.raises(ReadinessError, match="is not a link"):
            clean(bad, area="a", item="b")
    with pytest.raises(ReadinessError, match="up to 2000"):
        clean("https://x.example/" + "a" * 2000, area="a", item="b")
    with pytest.raises(Unknown) as unknown:
        services.check_item(baton=c.baton, area="modle", item="dashboard", user=MAYA)
    assert unknown.value.guess == "model-quality"
    assert rows(c.baton) == []
    # An e-mail in a link is masked before it is stored.
    done = services.check_item(
        baton=c.baton,
        area="data",
        item="data-classified",
        user="U07DANA001",
        link="https://wiki.example/jane@corp.example",
    )
    assert done.link == "https://wiki.example/[email]" and done.masked == {"email": 1}


def test_the_handoff_snapshot_has_each_item_and_the_scores(c: Clocked) -> None:
    tick(c.baton, "model-quality", "dashboard", "monitoring")
    with session(c.baton.engine) as s:
        snap = snapshot(c.baton, s, "model-quality")["readiness"]
    assert set(snap) == {*KEYS, "scores"}
    assert snap["dashboard"] is True and snap["raci-defined"] is True and snap["rollback"] is False
    assert snap["scores"] == {"organization": 5, "production": 2, "experiment": True}


def test_the_nudge_names_open_items_and_owners_to_the_team_channel_or_the_accountable_dm(c: Clocked) -> None:
    every = [k for k in KEYS if k not in ("raci-defined", "incident-owner", "one-owner", "runbook")]
    tick(c.baton, "data", *every, user=JONAS)  # data: nothing open, no nudge
    posts = nudge.digest(c.baton)
    assert [(p.area, p.target, p.where) for p in posts] == [
        ("model-quality", "C07MLTEAM", "<#C07MLTEAM>"),
        ("infra-deploy", "C07PLATFORM", "<#C07PLATFORM>"),
        ("user-experience", "C07PRODUCT", "<#C07PRODUCT>"),
        ("policy-guardrails", ROSA, f"<@{ROSA}> by DM"),  # Legal / Compliance has no channel
    ]
    model = posts[0]
    assert model.tell == MAYA  # told if Slack refuses the post for good
    assert model.text.startswith(
        "Readiness · Model / Prompt: 12 items open (organization 4/11 · production 1/6"
    )
    owners = f"ML Team (<@{MAYA}>, <@{LI}>, <@{OMAR}>) and <@{MAYA}> (accountable)"
    assert owners in model.text
    blocks = json.dumps(model.blocks)
    assert '"model-quality:rollout-plan"' in blocks and '"model-quality:runbook"' not in blocks
    assert "Incident runbook" not in blocks  # proven: not open
    assert len(model.blocks) <= 50
    legal = posts[3]
    assert f"Legal / Compliance (<@{ROSA}>, <@{BEN}>) and <@{ROSA}> (accountable)" in legal.text


def test_run_queues_posts_that_the_ticker_sends(c: Clocked) -> None:
    found = nudge.run(c.baton)
    assert len(found) == 5
    with session(c.baton.engine) as s:
        queued = s.exec(select(Job).where(Job.kind == "post")).all()
    assert sorted(j.payload["about"] for j in queued) == sorted(
        f"the readiness nudge of {name}"
        for name in ("Model / Prompt", "Infra / Deploy", "Data", "User Experience", "Policy / Guardrails")
    )
    ml = c.posts("C07MLTEAM")
    assert [m["text"].split(":")[0] for m in ml] == ["Readiness · Model / Prompt"]
    assert ml[0]["blocks"][0]["text"]["text"] == "Readiness · Model / Prompt: 12 items open"
    dm = c.fake.dm_messages(ROSA)
    assert [m["text"].split(":")[0] for m in dm] == ["Readiness · Policy / Guardrails"]
    with session(c.baton.engine) as s:
        assert {j.state for j in s.exec(select(Job).where(Job.kind == "post")).all()} == {"done"}


def test_two_replicas_ticking_one_item_at_once_both_succeed_with_one_row(
    fake_slack: FakeSlack, db_url: str
) -> None:
    replicas = [clocked_baton(fake_slack, db_url) for _ in range(2)]
    users = [MAYA, OMAR]
    results: list[object] = []
    for round_ in range(5):  # a few rounds: the race is real, not scheduled
        barrier = threading.Barrier(2)
        item = ["dashboard", "rollback", "pii-policy", "feedback-loop", "data-classified"][round_]

        def run(replica: Clocked, user: str, item: str = item, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                results.append(
                    services.check_item(baton=replica.baton, area="model-quality", item=item, user=user)
                )
            except Exception as e:  # collected: the assertion below names it
                results.append(e)

        threads = [threading.Thread(target=run, args=(r, u)) for r, u in zip(replicas, users, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    try:
        assert all(isinstance(r, services.Checked) for r in results), results
        assert len(results) == 10
        found = rows(replicas[0].baton)
        assert [(a, i) for a, i, _ in found] == sorted(
            ("model-quality", i)
            for i in ["dashboard", "rollback", "pii-policy", "feedback-loop", "data-classified"]
        )
        assert all(by in (MAYA, OMAR) for _, _, by in found)
    finally:
        for r in replicas:
            r.ticker.shutdown()
            r.baton.engine.dispose()
