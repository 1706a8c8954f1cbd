"""Drills over the real path: signed slash commands into a running Baton, the Slack stand-in,
SQLite and PostgreSQL. A drill pages the real ladder marked DRILL, only its owners may start
one, no external pager hears of it, and it is scored when resolved or when its last step fired
unanswered, with the picture uploaded as Slack asks (files.getUploadURLExternal, the bytes,
files.completeUploadExternal)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.slack.standin import Channel, FakeSlack
from bot.store.db import session
from bot.store.models import Incident, Job
from tests.conftest import (
    BATON,
    FAST_SEVERITY,
    SHIPPED_OWNERSHIP,
    SHIPPED_SEVERITY,
    RunningBaton,
    clean_env,
    page_dms,
    settle,
    start_baton,
)
from tests.webhookserver import WebhookServer, webhook_server

MAYA, LI, OMAR = "U07MAYA001", "ULIE", "U07OMAR001"
OWNING_TEAM = {MAYA, LI, OMAR}  # model-quality's R (ML Team); maya is its A too
SAM = "U07SAM0001"  # Platform Team: no owner of model-quality, no admin
JONAS = "U07JONAS01"  # an admin
PNG = b"\x89PNG\r\n\x1a\n"


def _drill_channel(fake: FakeSlack) -> Channel:
    return fake.wait_for(
        lambda: next((c for c in fake.channels.values() if c.name.startswith("drill-")), None),
        timeout=15,
        message="the drill's channel",
    )


def _card(fake: FakeSlack, channel: Channel) -> dict:  # type: ignore[type-arg]
    return fake.wait_for(
        lambda: next((m for m in channel.messages if "scored" in m.get("text", "")), None),
        timeout=20,
        message="the score card",
    )


def _drills(rb: RunningBaton) -> list[Incident]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Incident).where(col(Incident.drill).is_(True))).all())


def test_a_drill_pages_the_p1_scope_with_drill_in_every_message(running: RunningBaton) -> None:
    resp = running.command("/incident", "drill P1 model-quality Rehearse <!channel> night", user_id=MAYA)
    assert resp.status_code == 200 and resp.json()["text"].startswith("DRILL"), resp.text
    fake = running.fake
    fake.wait_for(lambda: len(page_dms(fake)) >= 3 or None, timeout=15, message="three pages")
    channel = _drill_channel(fake)
    settle(running)
    pages = page_dms(fake)
    # Exactly P1's scope (the owning team) at step 0; the rest of the 1h ladder is not due.
    assert sorted(str(c.params["channel"]) for c in pages) == sorted(OWNING_TEAM)
    for page in pages:
        assert str(page.params["text"]).startswith("DRILL"), page.params["text"]
        assert "DRILL" in str(page.params["blocks"]).split("incident_ack")[0]
    assert channel.name.startswith("drill-") and channel.name.endswith("-rehearse-channel-night")
    assert channel.topic.startswith("DRILL"), channel.topic
    said = [m for m in channel.messages if m.get("user") != MAYA]
    assert said and all(m["text"].startswith("DRILL") for m in said), [m["text"] for m in said]
    # What was typed is shown, not obeyed (a header is plain_text, which Slack never reads as a mention).
    assert not any("<!channel>" in m["text"] for m in said)
    assert "&lt;!channel&gt;" in said[0]["text"]
    (inc,) = _drills(running)
    assert inc.drill and inc.declared_by == MAYA and inc.policy.response_time == "1h"


def test_acknowledge_and_resolve_score_the_drill_with_its_picture(running: RunningBaton) -> None:
    running.command("/incident", "drill P1 model-quality", user_id=MAYA)
    fake = running.fake
    fake.wait_for(lambda: len(page_dms(fake)) >= 3 or None, timeout=15, message="three pages")
    channel = _drill_channel(fake)
    running.command("/incident", "ack #1", user_id=OMAR)
    resp = running.command("/incident", "resolve #1 rehearsal done", user_id=MAYA)
    assert resp.status_code == 200
    card = _card(fake, channel)
    assert card["text"].startswith("DRILL #1 scored: Passed: acknowledged by <@U07OMAR001> in "), card["text"]
    shown = str(card["blocks"])
    for user in OWNING_TEAM:
        assert f"<@{user}> at " in shown  # who step 0 paged, at which second
    assert "inside the 1h window" in shown
    # The picture: uploaded the way Slack asks now, the bytes a PNG, shared in the drill's channel.
    fake.wait_for(lambda: fake.calls_to("files.completeUploadExternal") or None, timeout=15, message="upload")
    (png,) = [f for f in fake.files.values() if f.completed]
    assert png.content is not None and png.content.startswith(PNG)
    assert png.channels == [channel.id] and png.title.startswith("DRILL")
    # And to the starter, by DM.
    dm = fake.wait_for(
        lambda: next(
            (
                c
                for c in fake.calls_to("chat.postMessage")
                if c.params.get("channel") == MAYA and "scored" in str(c.params.get("text"))
            ),
            None,
        ),
        timeout=15,
        message="the starter's copy",
    )
    assert str(dm.params["text"]).startswith("DRILL #1 scored")
    settle(running)
    # One card, one picture: resolving scored it once.
    assert len([m for m in channel.messages if "scored" in m.get("text", "")]) == 1
    assert len(fake.calls_to("files.completeUploadExternal")) == 1


def test_a_drill_nobody_answers_is_scored_when_its_last_step_fired(
    fake_slack: FakeSlack, db_url: str
) -> None:
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))  # 6 s windows
    try:
        rb.command("/incident", "drill P2 model-quality quiet afternoon", user_id=JONAS)
        channel = _drill_channel(fake_slack)
        card = _card(fake_slack, channel)
        assert card["text"] == "DRILL #1 scored: Nobody acknowledged: the 6s window was breached."
        assert "breach" in str(card["blocks"])
        fake_slack.wait_for(lambda: fake_slack.calls_to("files.completeUploadExternal") or None, timeout=15)
        settle(rb)
        with session(rb.baton.engine) as s:
            inc = s.get(Incident, 1)
            assert inc is not None and inc.breached and inc.scored_at is not None
            # Every step had fired before the card: none of the ladder is left.
            left = s.exec(
                select(Job).where(
                    col(Job.incident_id) == 1, col(Job.ladder).is_(True), col(Job.state) == "pending"
                )
            ).all()
            assert left == []
        # A later resolve does not score it again.
        rb.command("/incident", "resolve #1 nobody came", user_id=JONAS)
        settle(rb)
        assert len([m for m in channel.messages if "scored" in m.get("text", "")]) == 1
    finally:
        rb.stop()


def test_only_the_areas_owners_and_admins_may_start_a_drill(running: RunningBaton) -> None:
    refused = running.command("/incident", "drill P1 model-quality", user_id=SAM)
    text = refused.json()["text"]
    assert "start a drill in model-quality" in text and "<@U07JONAS01>" in text, text
    assert _drills(running) == []
    allowed = running.command("/incident", "drill P1 model-quality by an admin", user_id=JONAS)
    assert allowed.json()["text"].startswith("DRILL"), allowed.text
    assert [i.declared_by for i in _drills(running)] == [JONAS]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("drill", "Give the severity and the area"),
        ("drill P1", "Give the severity and the area"),
        ("drill P9 model-quality", "P9"),
        ("drill P1 model-qualty", "Did you mean `model-quality`? e.g. `/incident drill P1"),
        ("drill P3 model-quality", "no response window to rehearse"),
    ],
)
def test_a_wrong_drill_says_what_is_wrong(running: RunningBaton, text: str, said: str) -> None:
    answer = running.command("/incident", text, user_id=MAYA).json()["text"]
    assert said in answer, answer
    assert _drills(running) == []


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


def _with_pager(tmp_path: Path, *, external: bool) -> Path:
    ownership = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text().replace(
        "    channel: C07MLTEAM",
        '    channel: C07MLTEAM\n    pager:\n      webhook: {url: "${ML_PAGER_WEBHOOK}"}',
        1,
    )
    if external:
        text += "\ndrills: {external_pagers: true}\n"
    ownership.write_text(text)
    return ownership


@pytest.mark.parametrize("external", [False, True])
def test_external_pagers_hear_of_a_drill_only_when_asked(
    fake_slack: FakeSlack,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hook: WebhookServer,
    external: bool,
) -> None:
    monkeypatch.setenv("ML_PAGER_WEBHOOK", hook.url())
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(_with_pager(tmp_path, external=external)))
    try:
        rb.command("/incident", "drill P1 model-quality pager check", user_id=MAYA)
        fake_slack.wait_for(lambda: len(page_dms(fake_slack)) >= 3 or None, timeout=15)
        settle(rb)
        if external:
            (event,) = hook.received()
            assert event.json()["title"].startswith("DRILL")
        else:
            assert hook.received() == []
        # A real incident still triggers the pager: the switch is for drills only.
        rb.command("/incident", "P1 model-quality real one", user_id=MAYA)
        hook.wait_for(lambda: len(hook.received()) == (2 if external else 1) or None)
    finally:
        rb.stop()


def test_a_drill_is_never_in_the_slis(running: RunningBaton) -> None:
    def figures() -> dict[str, float]:
        wanted = ("baton_pages_due_total", "baton_pages_sent_total", "baton_pages_sent_on_time_total")
        return {
            line.split()[0]: float(line.split()[1])
            for line in running.metrics().splitlines()
            if line.split(" ")[0] in wanted
        }

    before = figures()
    assert before, "the SLI counters are on /metrics"
    running.command("/incident", "drill P1 model-quality", user_id=MAYA)
    running.fake.wait_for(lambda: len(page_dms(running.fake)) >= 3 or None, timeout=15)
    running.command("/incident", "ack #1", user_id=MAYA)
    settle(running)
    assert figures() == before
    # A real incident moves them, so the figures are the ones that would count.
    running.command("/incident", "P1 model-quality real", user_id=MAYA)
    running.fake.wait_for(lambda: len(page_dms(running.fake)) >= 6 or None, timeout=15)
    settle(running)
    assert figures()["baton_pages_sent_total"] == before["baton_pages_sent_total"] + 3


# -- baton drill ---------------------------------------------------------------------------------


def _baton_drill(fake: FakeSlack, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **clean_env(),
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_API_URL": fake.url,
    }
    return subprocess.run([BATON, "drill", *args], env=env, capture_output=True, text=True, timeout=60)


def test_baton_drill_shortens_the_window_and_the_running_serve_pages_it(running: RunningBaton) -> None:
    url = str(running.baton.settings.database_url)
    run = _baton_drill(
        running.fake, url, "P1", "model-quality", "game", "day", "--window", "10m", "--by", "li"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("DRILL #1 started: P1 model-quality · game day (window shortened to 10m)")
    (inc,) = _drills(running)
    # The real ladder, its steps scaled with the window: 0, T/2 = 5m, T = 10m.
    assert inc.policy.window_seconds == 600 and inc.policy.response_time == "10m"
    assert [step.after for step in inc.policy.steps] == [0, 300, 600]
    assert inc.declared_by == LI  # the score card goes to li
    assert inc.deadline is not None and (inc.deadline - inc.declared_at).total_seconds() == 600
    # The running Baton's ticker finds it in the database and pages it as a drill.
    running.fake.wait_for(lambda: len(page_dms(running.fake)) >= 3 or None, timeout=15, message="pages")
    assert all(str(c.params["text"]).startswith("DRILL") for c in page_dms(running.fake))


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("P1", "model-quality", "--window", "soon"), 2, "baton: --window 'soon' is not a duration"),
        (("P1", "model-quality", "--window", "0s"), 2, "is no time at all"),
        (("P3", "model-quality"), 1, "no response window to rehearse"),
        (("P1", "model-qualty"), 1, "Did you mean `model-quality`?"),
        (("P1", "model-quality", "--by", "mya"), 1, "did you mean"),
    ],
)
def test_baton_drill_says_what_is_wrong(
    fake_slack: FakeSlack, sqlite_url: str, args: tuple[str, ...], code: int, said: str
) -> None:
    run = _baton_drill(fake_slack, sqlite_url, *args)
    assert run.returncode == code, run.stdout + run.stderr
    assert said.lower() in run.stderr.lower(), run.stderr
    assert run.stdout == ""


def test_a_drill_is_run_as_an_incident_is(running: RunningBaton) -> None:
    """Raising, acknowledge, commander, evidence, status and resolve work in a drill's channel, each said
    there with DRILL first; and a picture Slack refused once is shared all the same, once."""
    fake = running.fake
    running.command("/incident", "drill P1 model-quality", user_id=MAYA)
    channel = _drill_channel(fake)
    fake.wait_for(lambda: len(page_dms(fake)) >= 3 or None, timeout=15)
    on = {"channel_id": channel.id}
    for user, text in (
        (MAYA, "sev P0"),
        (LI, "ack"),
        (MAYA, "commander @omar rehearsing the hand-over"),
        (OMAR, "evidence https://grafana.example/d/x answers checked"),
        (OMAR, "status rolled back prompt v42"),
    ):
        resp = running.command("/incident", text, user_id=user, **on)
        assert resp.status_code == 200 and ":warning:" not in resp.text, (text, resp.text)
    fake.inject("files.completeUploadExternal", status=500)
    running.command("/incident", "resolve rehearsal done", user_id=OMAR, **on)
    _card(fake, channel)
    fake.wait_for(
        lambda: [f for f in fake.files.values() if f.completed] or None, timeout=20, message="picture"
    )
    settle(running)
    said = [m["text"] for m in channel.messages if m.get("user") not in (MAYA, LI, OMAR)]
    for what in (
        "raised the severity",
        "acknowledged",
        "commander",
        "Evidence",
        "Status",
        "resolved",
        "scored",
    ):
        assert any(what in m for m in said), (what, said)
    assert all(m.startswith("DRILL") for m in said), said
    assert len([f for f in fake.files.values() if f.completed]) == 1
    assert channel.topic.startswith("DRILL") and "P0" in channel.topic


def test_without_files_write_the_card_stands_and_the_channel_is_told_where_the_picture_is(
    running: RunningBaton,
) -> None:
    fake = running.fake
    fake.scopes.discard("files:write")  # an app installed before drills asked for it
    running.command("/incident", "drill P1 model-quality", user_id=MAYA)
    channel = _drill_channel(fake)
    running.command("/incident", "resolve #1 done", user_id=MAYA)
    card = _card(fake, channel)
    assert card["text"].startswith("DRILL #1 scored")
    told = fake.wait_for(
        lambda: next((m["text"] for m in channel.messages if "refused the picture" in m["text"]), None),
        timeout=15,
    )
    assert "missing_scope" in told and "`baton export 1 --html`" in told
    # The starter still gets the card.
    fake.wait_for(
        lambda: (
            any(
                c.params.get("channel") == MAYA and "scored" in str(c.params.get("text"))
                for c in fake.calls_to("chat.postMessage")
            )
            or None
        ),
        timeout=15,
    )
