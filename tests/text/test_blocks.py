"""bot/text/blocks.py: every block Baton sends is built here, within Slack's limits."""

from __future__ import annotations

from bot.text.blocks import (
    HEADER_LIMIT,
    LABEL_LIMIT,
    MARKUP_LIMIT,
    actions,
    button,
    clip_markup,
    context,
    fields,
    header,
    section,
)
from bot.text.mrkdwn import Markup, escape, safe

# What a person typed, raw (text from outside Slack is not escaped by Slack): each must come out
# as text, whichever constructor carries it.
RAW = [
    "<!channel> down",
    "<!here|here>",
    "<!subteam^S07ML|ml> look",
    "<https://evil.example|Acknowledge>",
    "<!date^1795333732^{date}^https://evil.example|click>",
    "a & b <c>",
]


def test_markup_is_cut_at_slacks_limit_and_never_inside_an_entity_or_a_mention() -> None:
    assert clip_markup("short") == "short"
    long = escape("a & b ") * 1000  # "a &amp; b " repeated: entities all along
    cut = clip_markup(long)
    assert len(cut) <= MARKUP_LIMIT and cut.endswith("…")
    assert cut[:-1].count("&") == cut[:-1].count("&amp;")  # no "&am" left at the end
    mention = "x" * (MARKUP_LIMIT - 5) + "<@U07MAYA001>"
    assert clip_markup(mention) == "x" * (MARKUP_LIMIT - 5) + "…"
    link = "y" * (MARKUP_LIMIT - 10) + "<https://example.com|here> and more"
    assert "<https" not in clip_markup(link)


def test_a_cut_never_leaves_half_a_link_whose_url_holds_an_entity_or_a_raw_ampersand() -> None:
    for link in (
        "<https://g.example/d?a=1&amp;b=2|dashboard>",
        "<http://prom/graph?g0.expr=up&g0.tab=0|graph>",
    ):
        cut = clip_markup("x" * (MARKUP_LIMIT - 35) + link + " tail")
        assert "<http" not in cut and cut.endswith("x…"), cut[-60:]
    plain = "*Search & Ranking* " * 200  # a raw & in text from ownership.yaml is not an entity
    assert len(clip_markup(plain)) == MARKUP_LIMIT


def test_a_section_and_a_context_carry_the_markup_clipped() -> None:
    block = section("*bold* " * 1000, block_id="b1", accessory=button("Go", "go", "1"))
    assert block["type"] == "section" and block["block_id"] == "b1"
    assert block["text"]["type"] == "mrkdwn" and len(block["text"]["text"]) == MARKUP_LIMIT
    assert block["accessory"]["action_id"] == "go"
    assert context("c" * 4000)["elements"][0]["text"].endswith("…")
    assert [f["text"] for f in fields("*A*\n1", "*B*\n2")["fields"]] == ["*A*\n1", "*B*\n2"]


def test_labels_are_plain_text_cut_at_their_own_limits() -> None:
    b = button("L" * 100, "act", "v", style="danger")
    assert b["text"]["type"] == "plain_text" and len(b["text"]["text"]) == LABEL_LIMIT
    assert b["style"] == "danger" and b["value"] == "v"
    h = header("<!channel> " * 40)
    assert h["text"]["type"] == "plain_text" and len(h["text"]["text"]) == HEADER_LIMIT
    link = button("Open runbook", "open_runbook", url="https://example.com/runbook")
    assert link["url"] == "https://example.com/runbook" and "value" not in link
    row = actions(b, link, block_id="row")
    assert row["type"] == "actions" and row["block_id"] == "row" and len(row["elements"]) == 2


def test_a_caller_that_forgets_to_escape_sends_no_markup() -> None:
    for raw in RAW:
        for block in (section(raw), context(raw), fields(raw)):
            text = str(block)
            assert "<!" not in text and "<http" not in text, (raw, text)
            assert escape(raw) in text, (raw, text)


def test_escaping_first_changes_nothing_and_bakes_in_once() -> None:
    for raw in RAW:
        assert section(escape(raw)) == section(raw)
        assert "&amp;amp;" not in str(section(escape(escape(raw))))


def test_batons_own_mentions_dates_and_plain_links_go_through() -> None:
    own = (
        "<@U07MAYA001> in <#C07MLTEAM|ml-team> by "
        "<!date^1795333732^{date_short_pretty} {time}|2026-11-20 09:00 UTC>, runbook <https://runbook.example/p1?a=1&amp;b=2>"
    )
    assert section(own)["text"]["text"] == own
    assert safe(own) == own
    quoted = "*Feedback*\n> refund answer wrong -> see #3\n&gt; already escaped"
    assert safe(quoted) == "*Feedback*\n> refund answer wrong -&gt; see #3\n&gt; already escaped"


def test_markup_is_trusted_as_it_is_and_only_markup() -> None:
    ping = "<!subteam^S07ML> see <https://x.example/1|source>"
    assert section(Markup(ping))["text"]["text"] == ping
    assert section(ping)["text"]["text"] == escape(ping)
    assert isinstance(Markup(ping), str)
