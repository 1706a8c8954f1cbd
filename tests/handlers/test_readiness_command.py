"""/readiness and the Tick button through the real path: Slack-signed requests to a running
Baton; the ack goes back empty and the answer follows through respond() (the fake Slack's
response_url). On SQLite and PostgreSQL, on the shipped ownership.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from bot.nudges import readiness as nudge
from bot.readiness.messages import TICK
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import ReadinessTick
from tests.conftest import RunningBaton, settle
from tests.slack_signing import block_actions_body, slash_command_body

MAYA = "U07MAYA001"  # ML Team, accountable for model-quality
OMAR = "U07OMAR001"  # ML Team
ANA = "U07ANA0001"  # Product Team: no owner of model-quality
JONAS = "U07JONAS01"  # admin (Platform Team)
GENERAL = "C0GENERAL"
ML_CHANNEL = "C07MLTEAM"


@pytest.fixture
def rb(fake_slack: FakeSlack, running: RunningBaton) -> Iterator[RunningBaton]:
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    yield running


def ask(rb: RunningBaton, text: str, user: str = MAYA) -> dict[str, Any]:
    """`/readiness <text>` from `user` in #general: what respond() said (the ack is empty)."""
    url = rb.fake.response_url(GENERAL, user)
    resp = rb.post(slash_command_body("/readiness", text, user_id=user, response_url=url))
    assert resp.status_code == 200, resp.text
    assert not resp.content  # acked at once, empty
    (posted,) = rb.fake.wait_for(lambda: rb.fake.responses(url), timeout=10, message="respond()")
    assert posted.body["response_type"] == "ephemeral" and posted.user_id == user
    return posted.body


def shown(body: dict[str, Any]) -> str:
    """Every text a reader sees in the blocks, one block per line."""
    out = []
    for block in body["blocks"]:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(text["text"])
        for element in block.get("elements", []):
            out.append(element.get("text", ""))
    return "\n".join(out)


def item_block(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The section of one item (its text names the key in code; a note above may name it too)."""
    return [b for b in body["blocks"] if b["type"] == "section" and f"`{key}`" in b["text"]["text"]][-1]


def ticks(rb: RunningBaton) -> list[tuple[str, str, str, str | None]]:
    with session(rb.baton.engine) as s:
        rows = s.exec(select(ReadinessTick)).all()
        return sorted((t.area, t.item, t.ticked_by, t.link) for t in rows)


def click(rb: RunningBaton, user: str, value: str, **where: Any) -> dict[str, Any]:
    """Press a Tick button as `user`; what respond() said."""
    url = rb.fake.response_url(where.get("channel_id"), user, where.get("message_ts"))
    resp = rb.post(block_actions_body(TICK, value, user_id=user, response_url=url, **where))
    assert resp.status_code == 200, resp.text
    return rb.fake.wait_for(lambda: rb.fake.responses(url)[-1], timeout=10, message="respond()").body


def test_readiness_alone_lists_every_areas_scores(rb: RunningBaton) -> None:
    body = ask(rb, "")
    text = shown(body)
    assert body["blocks"][0]["text"]["text"] == "Readiness by area"
    # model-quality: RACI, incident owner, SLOs, runbook proven (4/11); one owner (1/6).
    assert "*Model / Prompt* (`model-quality`): organization 4/11 · production 1/6" in text
    # data has no slo_queries: one fewer proven.
    assert "*Data* (`data`): organization 3/11 · production 1/6 · :test_tube: still an experiment" in text
    assert text.count("(`") == 5


def test_an_area_shows_both_checklists_with_proven_items_and_tick_buttons(rb: RunningBaton) -> None:
    body = ask(rb, "model")  # an alias
    assert body["blocks"][0]["text"]["text"] == "Readiness · Model / Prompt"
    text = shown(body)
    assert "*Organization checklist* 4/11" in text and "*Production checklist* 1/6" in text
    assert "still an experiment: 5 of 6 production checkpoints open" in text
    runbook = item_block(body, "runbook")
    assert runbook["text"]["text"].startswith(":white_check_mark: *Incident runbook* `runbook`\nBaton: ")
    assert "accessory" not in runbook
    dashboard = item_block(body, "dashboard")
    assert dashboard["text"]["text"] == ":white_large_square: *Dashboard* `dashboard`"
    assert dashboard["accessory"]["action_id"] == TICK
    assert dashboard["accessory"]["value"] == "model-quality:dashboard"
    buttons = [b for b in body["blocks"] if "accessory" in b]
    assert len(buttons) == 12  # 17 items, 5 proven
    assert len(body["blocks"]) <= 50


def test_check_with_a_link_then_the_view_shows_who_when_and_the_link_then_uncheck(rb: RunningBaton) -> None:
    done = ask(rb, "model-quality check dashboard <https://grafana.example.com/d/llm?a=1&amp;b=2>", OMAR)
    assert shown(done).startswith(f":white_check_mark: <@{OMAR}> ticked *Dashboard* `dashboard`.")
    assert ticks(rb) == [("model-quality", "dashboard", OMAR, "https://grafana.example.com/d/llm?a=1&b=2")]
    line = item_block(ask(rb, "model-quality"), "dashboard")
    assert line["text"]["text"].startswith(
        f":white_check_mark: *Dashboard* `dashboard`\nticked by <@{OMAR}> <!date^"
    )
    assert line["text"]["text"].endswith(" · https://grafana.example.com/d/llm?a=1&amp;b=2")
    assert "accessory" not in line
    assert "*Organization checklist* 5/11" in shown(ask(rb, "model-quality"))

    # Ticking again replaces who, when and link, and says so.
    again = ask(rb, "model-quality check dashboard", MAYA)
    assert f"It replaces the tick by <@{OMAR}>" in shown(again)
    assert ticks(rb) == [("model-quality", "dashboard", MAYA, None)]

    gone = ask(rb, "model-quality uncheck dashboard", MAYA)
    assert shown(gone).startswith(
        ":white_large_square: *Dashboard* `dashboard` unticked (it was ticked by <@"
    )
    assert ticks(rb) == []
    assert "accessory" in item_block(gone, "dashboard")  # its button is back
    assert "was not ticked; nothing changed" in shown(ask(rb, "model-quality uncheck dashboard", MAYA))


def test_a_non_owner_is_refused_with_who_may_and_nothing_changes(rb: RunningBaton) -> None:
    body = ask(rb, "model-quality check dashboard", ANA)
    assert body["text"] == (
        ":warning: Only the area's owners (ML Team, <@U07MAYA001>) or an admin (<@U07JONAS01>) can tick "
        "readiness items of Model / Prompt. Ask one of them."
    )
    assert ticks(rb) == []
    ask(rb, "model-quality check rollback", JONAS)  # an admin may
    refused = ask(rb, "model-quality uncheck rollback", ANA)
    assert refused["text"].startswith(":warning: Only the area's owners (ML Team, <@U07MAYA001>)")
    assert "can untick readiness items of Model / Prompt" in refused["text"]
    assert ticks(rb) == [("model-quality", "rollback", JONAS, None)]
    # ana is A of user-experience: she may tick there.
    ask(rb, "ux check pii-policy", ANA)
    assert ("user-experience", "pii-policy", ANA, None) in ticks(rb)


def test_bad_input_says_what_would_be_right(rb: RunningBaton) -> None:
    unknown = ask(rb, "model-quality check dashbord")["text"]
    assert "There is no readiness item `dashbord`. Did you mean `dashboard`?" in unknown
    assert "`stakeholders-approved`" in unknown and "`rollout-plan`" in unknown
    nothing_close = ask(rb, "model-quality check zzz")["text"]
    assert "Did you mean" not in nothing_close and "Organization: `stakeholders-approved`" in nothing_close
    proven = ask(rb, "model-quality uncheck runbook")["text"]
    assert proven.startswith(":warning: *Incident runbook* (`runbook`) of Model / Prompt is ticked by Baton")
    assert "It cannot be unticked" in proven
    already = ask(rb, "model-quality check one-owner")
    assert "is ticked by Baton: ownership.yaml names exactly one accountable person" in shown(already)
    not_a_link = ask(rb, "model-quality check dashboard grafana")["text"]
    assert "`grafana` is not a link" in not_a_link and "https://" in not_a_link
    typo = ask(rb, "modle-quality check dashboard")["text"]
    assert "There is no area `modle-quality`. Did you mean `model-quality`?" in typo
    assert ticks(rb) == []  # a guessed area is never ticked
    shown_anyway = ask(rb, "modle")
    assert "Did you mean `model`" in shown(shown_anyway) or "Did you mean `model-quality`" in shown(
        shown_anyway
    )
    assert "Readiness · Model / Prompt" in shown(shown_anyway)
    lost = ask(rb, "nothing-like-it")["text"]
    assert "Areas: `model-quality`, `infra-deploy`, `data`, `user-experience`, `policy-guardrails`" in lost
    assert "Name the item to check" in ask(rb, "model-quality check")["text"]


def test_typed_broadcasts_in_links_and_text_are_escaped(rb: RunningBaton) -> None:
    # Slack sends typed `<`, `>` as entities (should_escape) and wraps links it recognised.
    for text in (
        "model-quality check dashboard &lt;!channel&gt;",
        "model-quality check &lt;!channel&gt;",
        "&lt;!here&gt; check dashboard",
        "&lt;!everyone&gt;",
        "model-quality check dashboard <https://evil.example|Acknowledge> more",
    ):
        body = ask(rb, text)
        raw = json.dumps(body)
        for live in ("<!channel>", "<!here>", "<!everyone>", "<https://evil"):
            assert live not in raw, (text, raw)
        assert body["text"].startswith(":warning:")
    assert ticks(rb) == []
    # A link Slack wrapped with a label is kept as its URL: the label cannot disguise it.
    ask(rb, "model-quality check rollback <https://evil.example/x|Acknowledge>")
    assert ticks(rb) == [("model-quality", "rollback", MAYA, "https://evil.example/x")]
    assert "Acknowledge" not in json.dumps(ask(rb, "model-quality"))
    # A link with a broadcast inside its path stays text, even once stored.
    ask(rb, "model-quality check dashboard https://x.example/&lt;!channel&gt;")
    view = json.dumps(ask(rb, "model-quality"))
    assert "<!channel>" not in view and "https://x.example/&lt;!channel&gt;" in view


def test_a_secret_in_a_link_is_masked_before_storage(rb: RunningBaton) -> None:
    body = ask(
        rb, "model-quality check dashboard https://grafana.example.com/d/x?token=xoxb-1234567890-abcdefghij"
    )
    assert "Masked in the link before storage" in shown(body)
    ((_, _, _, link),) = ticks(rb)
    assert link is not None and "xoxb-" not in link and link.startswith("https://grafana.example.com/d/x?")


def test_the_tick_button_ticks_as_the_clicker_and_obeys_who_may(rb: RunningBaton) -> None:
    # Clicked in the person's own /readiness answer (ephemeral): the answer is refreshed in place.
    refused = click(
        rb, ANA, "model-quality:rollback", channel_id=GENERAL, message_ts="1.000001", is_ephemeral=True
    )
    assert refused["text"].startswith(":warning: Only the area's owners (ML Team, <@U07MAYA001>)")
    assert refused.get("replace_original") is False
    assert ticks(rb) == []
    done = click(
        rb, OMAR, "model-quality:rollback", channel_id=GENERAL, message_ts="1.000001", is_ephemeral=True
    )
    assert done.get("replace_original") is True
    assert shown(done).startswith(f":white_check_mark: <@{OMAR}> ticked *Rollback procedure* `rollback`.")
    assert "accessory" not in item_block(done, "rollback")
    assert ticks(rb) == [("model-quality", "rollback", OMAR, None)]
    # A second click on a stale button keeps the first tick.
    stale = click(
        rb, MAYA, "model-quality:rollback", channel_id=GENERAL, message_ts="1.000001", is_ephemeral=True
    )
    assert f"was ticked already, by <@{OMAR}>" in shown(stale)
    assert ticks(rb) == [("model-quality", "rollback", OMAR, None)]


def test_the_tick_button_in_the_nudge_leaves_the_nudge_and_answers_the_clicker(rb: RunningBaton) -> None:
    nudge.run(rb.baton)
    settle(rb)
    (posted,) = [
        m for m in rb.fake.messages(ML_CHANNEL) if m["text"].startswith("Readiness · Model / Prompt")
    ]
    before = json.dumps(posted["blocks"])
    assert '"model-quality:data-classified"' in before
    answer = click(rb, MAYA, "model-quality:data-classified", channel_id=ML_CHANNEL, message_ts=posted["ts"])
    assert answer["response_type"] == "ephemeral" and answer.get("replace_original") is False
    assert "ticked *Data classified*" in shown(answer)
    assert json.dumps(rb.fake.messages(ML_CHANNEL)[-1]["blocks"]) == before
    assert ticks(rb) == [("model-quality", "data-classified", MAYA, None)]


def test_the_owner_card_shows_readiness(rb: RunningBaton) -> None:
    ask(rb, "model-quality check dashboard", MAYA)
    resp = rb.command("/owner", "model-quality", user_id=ANA)
    card = json.dumps(resp.json(), ensure_ascii=False)
    assert "*Readiness* organization 5/11 · production 1/6 · still an experiment" in card
