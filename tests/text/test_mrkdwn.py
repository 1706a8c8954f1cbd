"""Text from people is shown as text: property tests over escape() and over every
message builder that carries a title, status, summary, evidence or note."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.incidents import messages
from bot.store.models import Incident, TimelineEvent
from bot.store.policy import Policy
from bot.text.mrkdwn import LIVE, chunks, escape, unescape
from handlers.render import incident as render

# Pieces a hostile (or careless) person types, mixed with ordinary text.
NASTY = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S07MLTEAM|ml-team>",
    "<https://evil.example.com|Acknowledge>",
    "<http://evil.example.com>",
    "<mailto:a@b.c|click>",
    "&lt;!channel&gt;",
    "&amp;",
    "&",
    "<",
    ">",
    "<@U07MAYA001|maya>",
    "<@U07MAYA001>",
    "<#C07MLTEAM|ml-team>",
    "<!date^1795000000^{date}|x>",
    "*bold* _it_ `code`",
    "é漢字🙂",
]
typed = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)), max_size=8).map(" ".join)


def tokens(text: str) -> list[str]:
    return re.findall(r"<[^<>]*>", text)


def live_in(text: str) -> set[str]:
    return set(LIVE.findall(text))


@given(typed)
def test_escaped_text_has_no_markup_but_mentions_and_channel_links(text: str) -> None:
    out = escape(text)
    assert not (set(tokens(out)) - live_in(text)), out
    assert "<" not in LIVE.sub("", out) and ">" not in LIVE.sub("", out)
    assert live_in(text) <= live_in(out)  # Slack's own mentions stay live


@given(typed)
def test_escape_is_idempotent(text: str) -> None:
    assert escape(escape(text)) == escape(text)


def _as_slack_sends(text: str) -> str:
    """Command and message text as Slack delivers what was typed: `&`, `<`, `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@given(typed)
def test_unescape_gives_back_what_was_typed(text: str) -> None:
    assert unescape(_as_slack_sends(text)) == text


def test_no_property_has_a_deadline() -> None:
    # A deadline is a timed assert (tests/conftest.py): a slow machine would fail a correct example.
    assert settings.default.deadline is None


def test_unescape_examples() -> None:
    assert unescape("a &amp;amp; b &amp;lt;c&amp;gt;") == "a &amp; b &lt;c&gt;"  # typed as entities
    assert unescape("v41&amp;canary &lt;b&gt;") == "v41&canary <b>"
    # What Slack wrote itself (a mention, a link) is left as it is.
    assert unescape("<@U07MAYA001|maya> see <https://x.example/?a=1&amp;b=2|dash>") == (
        "<@U07MAYA001|maya> see <https://x.example/?a=1&b=2|dash>"
    )


def test_escape_examples() -> None:
    assert escape("<!channel> fix & ship <https://evil|Ack>") == (
        "&lt;!channel&gt; fix &amp; ship &lt;https://evil|Ack&gt;"
    )
    assert escape("ask <@U07MAYA001|maya> in <#C1|ml>") == "ask <@U07MAYA001|maya> in <#C1|ml>"
    assert escape("already &lt;b&gt; &amp; done") == "already &lt;b&gt; &amp; done"


# -- every builder -----------------------------------------------------------------------------

POLICY = Policy.model_validate(
    {
        "level": "P1",
        "level_name": "Core feature failure",
        "notify": "owning-team",
        "response_time": "1h",
        "window_seconds": 3600,
        "area_name": "Model / Prompt",
        "team": "ml",
        "runbook": "https://wiki.example.com/runbooks/model-quality",
        "steps": [{"index": 0, "after": 0, "notify": [{"ref": "maya", "user": "U07MAYA001"}], "groups": []}],
    }
)
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def incident(title: str = "Refusals up", status: str | None = None) -> Incident:
    return Incident(
        id=7,
        title=title,
        area="model-quality",
        severity="P1",
        declared_by="U07LEO0002",
        declared_at=NOW,
        deadline=NOW + timedelta(hours=1),
        commander="U07MAYA001",
        channel_id="C0INC00007",
        policy=POLICY,
        status=status,
    )


def everything(payload: Any) -> str:
    """All the mrkdwn a message carries (its fallback text and its blocks' mrkdwn)."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, tuple):
        return "\n".join(everything(p) for p in payload)
    if isinstance(payload, dict):
        if payload.get("type") == "plain_text":
            return ""  # Slack shows plain_text as it is: no mentions, no links
        parts = [everything(v) for k, v in payload.items() if k != "type" or isinstance(v, dict)]
        return "\n".join(parts)
    if isinstance(payload, list):
        return "\n".join(everything(p) for p in payload)
    return ""


def timeline_reply(text: str) -> Any:
    event = TimelineEvent(incident_id=7, at=NOW, actor="U07LEO0002", kind="status", text=text)
    return render.timeline(incident(), [event])


BUILDERS: dict[str, Callable[[str], Any]] = {
    "headline": lambda x: messages.headline(incident(x)),
    "topic": lambda x: messages.topic(incident(status=x)),
    "opening": lambda x: messages.opening(incident(x), ["U07MAYA001"]),
    "page_dm": lambda x: messages.page_dm(incident(x), reason="page owning-team"),
    "backlog_post": lambda x: messages.backlog_post(incident(x)),
    "status": lambda x: messages.status("U07LEO0002", x),
    "resolved": lambda x: messages.resolved("U07MAYA001", x),
    "commander_note": lambda x: messages.commander_changed("U07MAYA001", "U07SAM0001", x),
    "evidence": lambda x: messages.evidence_added("U07LEO0002", text=x, link=None, masked=0),
    "resolve_note": lambda x: messages.resolve_note(7, f"# Incident #7: {x}\n" + f"- {x}\n" * 400),
    "declared_reply": lambda x: render.declared(incident(x)),
    "list_reply": lambda x: render.incident_list([incident(x)]),
    "timeline_reply": timeline_reply,
    "note_reply": lambda x: render.note(incident(), f"# Incident #7: {x}\n- summary: {x}\n"),
}


@settings(max_examples=60)
@given(typed)
def test_no_builder_carries_markup_from_what_a_person_typed(text: str) -> None:
    for name, build in BUILDERS.items():
        baton_own = set(tokens(everything(build("Refusals up"))))  # Baton's own markup
        out = everything(build(text))
        foreign = set(tokens(out)) - baton_own - live_in(text)
        assert not foreign, f"{name}: {foreign}"
        for token in tokens(text):
            if token.startswith(("<!", "<http", "<mailto")):
                assert token not in out, f"{name} passed {token} through"


def test_mentions_typed_by_a_person_stay_live() -> None:
    typed_text = "ask <@U07MAYA001|maya> in <#C07MLTEAM|ml-team> <!channel>"
    for name in ("status", "resolved", "commander_note", "evidence", "timeline_reply"):
        out = everything(BUILDERS[name](typed_text))
        assert "<@U07MAYA001|maya>" in out and "<#C07MLTEAM|ml-team>" in out, name
        assert "<!channel>" not in out and "&lt;!channel&gt;" in out, name


def test_a_long_line_is_not_cut_inside_an_entity() -> None:
    text = escape("x" * 45 + "<<<<<<<<<<" * 10)
    for piece in chunks(text, 50):
        assert not re.search(r"&[a-z]{0,3}$", piece), piece
