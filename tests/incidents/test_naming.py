"""Incident channel names: `inc-<yyyymmdd>-<number>-<slug of title>`, lowercase `a-z0-9-`, at most
80 characters, with `-2`, `-3`… after a collision."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents.naming import MAX_LEN, channel_name, slug
from tests.conftest import RunningBaton
from tests.handlers.test_incident_command import LEO, SLUG, TITLE, channel_of, declare, page_dms

SLACK_NAME = re.compile(r"^[a-z0-9-]{1,80}$")
AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
PREFIX = "inc-20261122-7"

UNICODE_TITLES = {
    "accents": "Évaluation ÉCHOUÉE: réponses incohérentes à Zürich",
    "cjk": "検索インデックスが壊れた",
    "emoji": "🔥🔥 prod down 🚨",
    "mixed": "Ошибка 検索 café — 99.9% → 12% ⚠️ naïve RAG",
    "symbols": "!!! ... --- ///",
    "fullwidth": "ＧＰＵ ｏｏｍ １２３",
    "rtl": "خطأ في النموذج model error",
}


def _valid(name: str) -> None:
    assert len(name) <= MAX_LEN, (len(name), name)
    assert SLACK_NAME.match(name), name
    assert "--" not in name and not name.endswith("-"), name


# -- slug -------------------------------------------------------------------------------------


def test_slug_of_a_plain_title() -> None:
    assert slug(TITLE) == SLUG
    assert slug("  P95 latency > 5s (EU-West)  ") == "p95-latency-5s-eu-west"


@pytest.mark.parametrize("title", list(UNICODE_TITLES.values()), ids=list(UNICODE_TITLES))
def test_slug_is_only_lowercase_ascii_letters_digits_and_dashes(title: str) -> None:
    s = slug(title)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*|", s), s


def test_slug_folds_accents_and_drops_other_scripts() -> None:
    assert slug(UNICODE_TITLES["accents"]) == "evaluation-echouee-reponses-incoherentes-a-zurich"
    assert slug(UNICODE_TITLES["cjk"]) == ""
    assert slug(UNICODE_TITLES["emoji"]) == "prod-down"
    assert slug(UNICODE_TITLES["fullwidth"]) == "gpu-oom-123"
    assert slug(UNICODE_TITLES["rtl"]) == "model-error"


# -- channel_name -----------------------------------------------------------------------------


def test_channel_name_format() -> None:
    assert channel_name(number=7, declared_at=AT, title=TITLE) == f"{PREFIX}-{SLUG}"


@pytest.mark.parametrize("title", list(UNICODE_TITLES.values()), ids=list(UNICODE_TITLES))
def test_unicode_titles_give_valid_names(title: str) -> None:
    name = channel_name(number=7, declared_at=AT, title=title)
    _valid(name)
    assert name.startswith(PREFIX)


def test_title_that_slugs_to_nothing_gives_the_bare_prefix() -> None:
    for title in ("検索インデックスが壊れた", "🔥🔥🔥", "!!! ... ///", "", "   "):
        assert channel_name(number=7, declared_at=AT, title=title) == PREFIX


def test_3000_character_title_is_cut_to_80() -> None:
    title = ("Hallucination spike on checkout after prompt v42 " * 80)[:3000]
    name = channel_name(number=7, declared_at=AT, title=title)
    _valid(name)
    assert len(name) >= MAX_LEN - 12  # uses the room it has (cut on a word boundary at worst)
    assert name.startswith(f"{PREFIX}-hallucination-spike-on-checkout-after-prompt-v42-")


def test_3000_character_unicode_title_is_cut_to_80() -> None:
    title = ("Ünïcödé façade 検索 🔥 naïve-RAG ✓ " * 200)[:3000]
    name = channel_name(number=7, declared_at=AT, title=title)
    _valid(name)
    assert name.startswith(f"{PREFIX}-unicode-facade-naive-rag-")


def test_a_long_incident_number_still_fits() -> None:
    name = channel_name(number=123456789, declared_at=AT, title="x" * 3000)
    _valid(name)
    assert name.startswith("inc-20261122-123456789-x")


def test_collisions_add_2_then_3() -> None:
    first = channel_name(number=7, declared_at=AT, title=TITLE)
    assert channel_name(number=7, declared_at=AT, title=TITLE, attempt=1) == f"{first}-2"
    assert channel_name(number=7, declared_at=AT, title=TITLE, attempt=2) == f"{first}-3"


@pytest.mark.parametrize(
    "title", ["a" * 3000, ("word " * 700), UNICODE_TITLES["mixed"] * 100, "検索", "x"], ids=str.__len__
)
def test_collision_suffixes_stay_within_80_and_distinct(title: str) -> None:
    names = [channel_name(number=7, declared_at=AT, title=title, attempt=a) for a in range(20)]
    for attempt, name in enumerate(names):
        _valid(name)
        if attempt:
            assert name.endswith(f"-{attempt + 1}"), name
    assert len(set(names)) == len(names)


def test_suffix_after_a_cut_slug_never_makes_a_double_dash() -> None:
    # The cut lands right after a word: the dash before the suffix must not double up.
    prefix_len = len(f"{PREFIX}-")
    for cut in range(1, 12):
        title = "a" * (MAX_LEN - prefix_len - 2 - cut) + " " + "b" * 40
        for attempt in (0, 1, 2, 9):
            _valid(channel_name(number=7, declared_at=AT, title=title, attempt=attempt))


# -- through /incident ------------------------------------------------------------------------


def _days() -> list[str]:
    now = datetime.now(UTC)
    return sorted({f"{now:%Y%m%d}", f"{now + timedelta(seconds=5):%Y%m%d}"})


def test_existing_channel_name_gets_the_2_suffix(fast: RunningBaton) -> None:
    fake = fast.fake
    taken = {fake.add_channel(f"inc-{day}-1-{SLUG}").id for day in _days()}
    declare(fast)
    channel = channel_of(fake)
    assert channel.id not in taken
    assert channel.name in {f"inc-{day}-1-{SLUG}-2" for day in _days()}, channel.name
    creates = fake.calls_to("conversations.create")
    assert [c.error for c in creates] == ["name_taken", None]
    assert creates[1].params["name"] == channel.name
    assert channel.pins and LEO in channel.members  # set-up went on as usual


def test_3000_character_unicode_title_through_the_command(fast: RunningBaton) -> None:
    fake = fast.fake
    title = ("Ünïcödé façade 検索 🔥 naïve-RAG ✓ " * 200)[:3000].strip()
    body = declare(fast, f"P1 model-quality {title}")
    assert len(body["blocks"][0]["text"]["text"]) <= 3000
    channel = channel_of(fake)
    _valid(channel.name)
    assert re.match(r"^inc-\d{8}-1-unicode-facade-naive-rag-", channel.name), channel.name
    opening = next(m for m in fake.messages(channel.id) if m["ts"] == channel.pins[0])
    assert len(opening["blocks"][0]["text"]["text"]) <= 150  # a header's limit
    fake.wait_for(lambda: len(page_dms(fake)) >= 3, message="pages still go out")
    assert all(c.ok for c in fake.calls_to("chat.postMessage"))


def test_title_of_only_cjk_and_emoji_through_the_command(fast: RunningBaton) -> None:
    declare(fast, "P2 data 検索インデックスが壊れた 🔥")
    channel = channel_of(fast.fake)
    assert re.fullmatch(r"inc-\d{8}-1", channel.name), channel.name
