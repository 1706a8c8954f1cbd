"""What a follow-up says, as it goes into each tracker: shown as typed, notifying and linking
nothing there; and a tracker's own words as Baton keeps them (no token, masked)."""

from __future__ import annotations

from datetime import timedelta

from bot.followups import calls, github, jira

Z = "\u200b"


def test_github_quoted_breaks_mentions_and_issue_links_and_nothing_else() -> None:
    assert github.quoted("ask @maya and @acme/sre") == f"ask @{Z}maya and @{Z}acme/sre"
    assert github.quoted("see #12, acme/x#7 and gh-3") == f"see #{Z}12, acme/x#{Z}7 and gh-{Z}3"
    assert github.quoted("a@b.com") == f"a@{Z}b.com"  # harmless: it still reads the same
    plain = "Rotate keys @ 5pm, item # two, 100% done"
    assert github.quoted(plain) == plain
    assert github.quoted(github.quoted("@maya #1")).replace(Z, "") == "@maya #1"


def test_jira_quoted_puts_mentions_and_smart_links_in_code_and_keeps_lines() -> None:
    nodes = jira.quoted("ping [~accountid:5b10] or [~maya]\nsee https://x.example/a?b=1 now")
    assert nodes == [
        {"type": "text", "text": "ping "},
        {"type": "text", "text": "[~accountid:5b10]", "marks": [{"type": "code"}]},
        {"type": "text", "text": " or "},
        {"type": "text", "text": "[~maya]", "marks": [{"type": "code"}]},
        {"type": "hardBreak"},
        {"type": "text", "text": "see "},
        {"type": "text", "text": "https://x.example/a?b=1", "marks": [{"type": "code"}]},
        {"type": "text", "text": " now"},
    ]
    assert jira.quoted("plain words") == [{"type": "text", "text": "plain words"}]
    assert all(n.get("text") != "" for n in jira.quoted("@maya"))  # ADF refuses an empty text node


def test_jira_summary_is_one_line_within_255_and_mentions_nobody() -> None:
    assert jira.summary("fix\nthe  thing") == "fix the thing"
    assert "[~" not in jira.summary("ask [~maya]")
    assert len(jira.summary("x" * 400)) == jira.SUMMARY


def test_a_trackers_words_lose_the_token_and_are_masked() -> None:
    text = "Bad credentials for tok-123456 from ops@example.com <@U07MAYA001>"
    kept = calls.said(text, ("tok-123456",))
    assert "tok-123456" not in kept and "ops@example.com" not in kept
    assert "<@" not in kept


def test_retry_after_in_seconds_or_githubs_rate_limit_reset() -> None:
    assert calls.retry_after({"retry-after": "30"}) == timedelta(seconds=30)
    assert calls.retry_after({}) is None
    assert calls.retry_after({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}) == timedelta(seconds=1)
    assert calls.retry_after({"x-ratelimit-remaining": "12", "x-ratelimit-reset": "1"}) is None
