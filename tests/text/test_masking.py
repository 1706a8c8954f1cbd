"""PII and secrets are masked before evidence is stored; Slack markup survives."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text.masking import KINDS, Masked, luhn_ok, mask, placeholder

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8n1Uk6qYbLHDUGbFxv0TSBUMF\n"
    "kAf1c2c8l9iNv0SkmTqXg5UOlsmS3OaHE0BwBJ0nW1VDzU=\n"
    "-----END RSA PRIVATE KEY-----"
)
SLACK_BOT_TOKEN = "xoxb-2048576-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"


def only(kind: str, text: str, n: int = 1) -> None:
    """``text`` is entirely one finding of ``kind``."""
    assert mask(text) == Masked(placeholder(kind), {kind: n})


# -- each kind, positive ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        # e-mail
        ("email", "mail alice@example.com now", "mail [email] now"),
        ("email", "ping bob.smith+oncall@mail.example.co.uk.", "ping [email]."),
        ("email", "(carol_o'neil@example.org)", "([email])"),
        ("email", "'dave@example.com'", "'[email]'"),
        ("email", "ALICE@EXAMPLE.COM", "[email]"),
        # phone
        ("phone", "call +44 20 7946 0958 now", "call [phone] now"),
        ("phone", "call +1 (415) 555-0100!", "call [phone]!"),
        ("phone", "call 415-555-0100", "call [phone]"),
        ("phone", "call (415) 555 0100", "call [phone]"),
        ("phone", "call 415.555.0100 or 1-415-555-0199", "call [phone] or [phone]"),
        ("phone", "+14155550100", "[phone]"),
        ("phone", "+1.415.555.0100", "[phone]"),
        ("phone", "(mobile: 415-555-0100)", "(mobile: [phone])"),
        ("phone", "call 415 555 0100", "call [phone]"),
        # national numbers, with the trunk 0 (UK, FR, DE)
        ("phone", "call 020 7946 0958 now", "call [phone] now"),
        ("phone", "0161 496 0000, 01632 960000 or 07700 900 123", "[phone], [phone] or [phone]"),
        ("phone", "(020) 7946 0958", "[phone]"),
        ("phone", "mobile 06 12 34 56 78.", "mobile [phone]."),
        ("phone", "06.12.34.56.78 / 06-12-34-56-78 / 0612345678", "[phone] / [phone] / [phone]"),
        ("phone", "Handy 0151 23456789", "Handy [phone]"),
        ("phone", "030/1234567 or (030) 12345678 or 089 123 456 78", "[phone] or [phone] or [phone]"),
        ("phone", "tel:0151-23456789", "tel:[phone]"),
        ("phone", "020 7946 0958 020 7946 0959", "[phone] [phone]"),
        ("phone", "ring 020 7946 0958 10 times", "ring [phone] 10 times"),
        ("phone", "0044 20 7946 0958 or 0033 6 12 34 56 78", "[phone] or [phone]"),
        # what NFKC and dropping invisible characters reveal
        ("email", "ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ", "[email]"),
        ("email", "from ｊａｎｅ.ｄｏｅ＠ｃｏｒｐ．ｅｘａｍｐｌｅ please", "from [email] please"),
        ("email", "jane\u200b@corp.example", "[email]"),
        ("email", "josé.garcía@exämple.de", "[email]"),
        ("email", "请联系jane@corp.example", "请联系[email]"),
        ("email", "x@y.com.z@y.com", "[email].[email]"),
        ("phone", "０２０ ７９４６ ０９５８", "[phone]"),
        ("phone", "06\u00a012\u00a034\u00a056\u00a078", "[phone]"),
        ("phone", "+44\u202f20\u202f7946\u202f0958", "[phone]"),
        ("card", "４１１１ １１１１ １１１１ １１１１", "[card]"),
        ("slack_token", "ｘｏｘｂ-1234567890-abcdefghijkl", "[slack-token]"),
        # card
        ("card", "card 4111 1111 1111 1111 expired", "card [card] expired"),
        ("card", "4111111111111111", "[card]"),
        ("card", "5555-5555-5555-4444", "[card]"),
        ("card", "amex 3782 822463 10005", "amex [card]"),
        ("card", "amex 378282246310005.", "amex [card]."),
        ("card", "visa13 4222222222222", "visa13 [card]"),
        ("card", "19 digits 6011000000000000001", "19 digits [card]"),
        ("card", "discover 6011 1111 1111 1117, thanks", "discover [card], thanks"),
        ("card", "4111 1111 1111 1111 2026-11-22", "[card] 2026-11-22"),
        ("card", "charged 4111 1111 1111 1111 5 times", "charged [card] 5 times"),
        # slack tokens
        ("slack_token", f"token {SLACK_BOT_TOKEN} leaked", "token [slack-token] leaked"),
        ("slack_token", "xoxp-1234567890-0987654321-abcdef123456", "[slack-token]"),
        ("slack_token", "xoxa-2-abcdef-123456", "[slack-token]"),
        ("slack_token", "xoxr-abcdef-123456", "[slack-token]"),
        ("slack_token", "xoxs-abcdef-123456", "[slack-token]"),
        ("slack_token", "xapp-1-A0123456789-1234567890123-abcdef0123456789", "[slack-token]"),
        ("slack_token", "xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4", "[slack-token]"),
        (
            "slack_webhook",
            "posted to https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX ok",
            "posted to https://hooks.slack.com/services/[slack-webhook] ok",
        ),
        # aws
        ("aws_key", "key AKIAIOSFODNN7EXAMPLE used", "key [aws-key] used"),
        ("aws_key", "ASIAY34FZKBOKMUTVV7A", "[aws-key]"),
        (
            "aws_secret",
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [aws-secret]",
        ),
        (
            "aws_secret",
            'AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            'AWS_SECRET_ACCESS_KEY="[aws-secret]"',
        ),
        (
            "aws_secret",
            '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
            '"SecretAccessKey": "[aws-secret]"',
        ),
        # bearer / basic
        ("bearer_token", "Authorization: Bearer abc123.def456-ghi", "Authorization: Bearer [bearer-token]"),
        (
            "bearer_token",
            "curl -H 'authorization: bearer 9f8e7d6c5b4a'",
            "curl -H 'authorization: bearer [bearer-token]'",
        ),
        ("bearer_token", "Bearer AbCdEfGhIjKlMnOpQrStUv", "Bearer [bearer-token]"),
        ("basic_auth", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [basic-auth]"),
        # api keys
        ("api_key", "OPENAI sk-abc123DEF456ghi789JKL012mno345PQR", "OPENAI [api-key]"),
        ("api_key", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_-AbC0", "[api-key]"),
        ("api_key", "sk-ant-api03-AbCdEf0123456789_-AbCdEf0123456789", "[api-key]"),
        ("api_key", "ghp_AbCdEf0123456789AbCdEf0123456789AbCd", "[api-key]"),
        ("api_key", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789", "[api-key]"),
        ("api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "[api-key]"),
        ("api_key", "stripe sk_live_51HabcDEF0123456789", "stripe [api-key]"),
        ("api_key", "rk_live_51HabcDEF0123456789", "[api-key]"),
        ("api_key", "glpat-AbCdEf0123456789xyzw", "[api-key]"),
        # jwt
        ("jwt", f"session {JWT} expired", "session [jwt] expired"),
        ("jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "[jwt]"),
        # private key
        ("private_key", f"oops\n{PEM}\nrotate it", "oops\n[private-key]\nrotate it"),
        (
            "private_key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "[private-key]",
        ),
        (
            "private_key",
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0AAAABCADIxyz\n"
            "-----END PGP PRIVATE KEY BLOCK-----",
            "[private-key]",
        ),
        # cut off before its END line (evidence is truncated): the base64 lines still go
        (
            "private_key",
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\n"
            "AASCBKcwggSjAgEAAoIBAQC7\nthat was it",
            "[private-key]\nthat was it",
        ),
        # key = value: the value only
        ("secret", "password=hunter2 ok", "password=[secret] ok"),
        ("secret", "DB_PASSWORD=hunter2", "DB_PASSWORD=[secret]"),
        ("secret", "api_key: abc123", "api_key: [secret]"),
        ("secret", "secret=s3cr3t; next", "secret=[secret]; next"),
        ("secret", "token=abc123&user=5", "token=[secret]&user=5"),
        ("secret", '{"client_secret": "a b c", "n": 1}', '{"client_secret": "[secret]", "n": 1}'),
        ("secret", "--password='hunter 2'", "--password='[secret]'"),
        ("secret", "`secret_key=abc`", "`secret_key=[secret]`"),
        ("secret", "X-Api-Key: 0123abcd", "X-Api-Key: [secret]"),
        ("secret", "Server=db;Uid=sa;Pwd=hunter2;", "Server=db;Uid=sa;Pwd=[secret];"),
        (
            "secret",
            "postgres://app:hunter2@db.internal:5432/prod",
            "postgres://app:[secret]@db.internal:5432/prod",
        ),
        ("secret", "redis://:hunter2@cache:6379", "redis://:[secret]@cache:6379"),
    ],
)
def test_masks(kind: str, text: str, expected: str) -> None:
    result = mask(text)
    assert result.text == expected
    assert result.counts == {kind: expected.count(placeholder(kind))}


def test_phone_numbers_are_masked_with_the_phone_placeholder() -> None:
    from bot.text import phones

    assert placeholder("phone") == phones.PLACEHOLDER


def test_every_kind_is_covered_above() -> None:
    assert set(KINDS) == {
        "private_key",
        "slack_webhook",
        "jwt",
        "slack_token",
        "aws_key",
        "api_key",
        "aws_secret",
        "bearer_token",
        "basic_auth",
        "secret",
        "email",
        "card",
        "phone",
    }


# -- each kind, negative ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # not e-mail
        "user@localhost",
        "root@10.0.0.1",
        "@here please look",
        "ping @alice and @bob",
        "foo@bar",
        # not phone
        "deploy on 2026-11-22 at 14:05:33",
        "2026-11-22T14:05:33+01:00 UTC+05:30",
        "upgrade to 1.2.3 or v10.20.300",
        "host 10.0.12.255 and 192.168.100.200",
        "incident #12 and #1234",
        "42 12345 1234567",
        "epoch 1795333732",
        "+15000000 requests",
        "ID-415-555-0100",
        "100 100 1000 requests",
        "meet at 09:00, 09:30 or 10:00",
        "deploy v41 then v0.12.3 (build 0.1.2.3)",
        "incident #12 #0612345678",
        "99.9% 0.05% 12%",
        "for 30m, 2h, 1d12h, 1w",
        "on 2026-12-06, 06.12.2026 09:00 or 06/12/2026",
        "localhost:8080 and db.example.com:5432, port 443",
        "3 pages, 12 acks, 250 requests, 0 errors",
        "ratio 0.1234567890",
        "sha 0612345678abcdef",
        "0612345678:90",
        "0012345678901",
        "09 10 11",
        # not card
        "4111 1111 1111 1112",
        "4111111111111112",
        "1234567890123456",
        "epoch ms 1795333732000",  # passes Luhn but no card range starts with 1
        "order-4111111111111111",
        "id4111111111111111",
        "ratio 4111111111111111.5",
        "latencies 120 340 560 780 910 230",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        # not tokens
        "the xoxb- token lives in vault",
        "AKIA is the prefix of an access key id",
        "AKIAIOSFODNN7EXAMPLEX",
        "the bearer instruments and bearer tokens",
        "sk-learn-compatible-transformers",
        "task-force-rotation-plan-for-november",
        "eyJhbGciOiJIUzI1NiJ9 alone",
        "never paste -----BEGIN PUBLIC KEY----- blocks",
        "git sha 3f786850e387550fdab836ed7e6dc881de23001b",
        # not key = value
        "passwords: 3 rotated",
        "password_reset: done",
        "if token == null",
        "react with :secret: please",
        "tokens: 1500",
        "password: ****",
        "password: <redacted>",
        "host db.example.com:5432",
        "https://grafana.example.com/d/llm?orgId=1&from=1795333732000&to=now",
    ],
)
def test_leaves_alone(text: str) -> None:
    assert mask(text) == Masked(text, {})


# -- Slack markup -------------------------------------------------------------------------------

PERMALINK = "https://acme.slack.com/archives/C0123ABCD/p1795333732919529"


@pytest.mark.parametrize(
    "text",
    [
        "<@U123ABC> and <@W0123456789> please look",
        "moved to <#C123|general> and <#C0123ABCD>",
        "<!here> <!channel> <!subteam^S0123ABC|@oncall>",
        "see <https://x.example/a?b=c|label> and <https://grafana.example.com/d/llm?from=1795333732000>",
        "at 1795333732.919529 in thread 1795333732.919523",
        f"from {PERMALINK}?thread_ts=1795333732.919523&cid=C0123ABCD",
        "<!date^1795333732^{date_short} at {time}|22 Nov 2026>",
        "*bold* _italic_ ~strike~ `code` ```block``` > quote :fire: :rotating_light:",
        "refusal rate 12% since 14:05, p99 1.2s, error budget 99.9%",
    ],
)
def test_slack_markup_is_untouched(text: str) -> None:
    assert mask(text) == Masked(text, {})


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        (
            "<mailto:alice@example.com|alice@example.com>",
            "<mailto:[email]|[email]>",
            {"email": 2},
        ),
        (
            "write to <mailto:alice@example.com|Alice> or <@U123ABC>",
            "write to <mailto:[email]|Alice> or <@U123ABC>",
            {"email": 1},
        ),
        (
            "<https://x.example/cb?token=abc123|callback> in <#C123|general>",
            "<https://x.example/cb?token=[secret]|callback> in <#C123|general>",
            {"secret": 1},
        ),
        (
            "<tel:+14155550100|+1 415 555 0100>",
            "<tel:[phone]|[phone]>",
            {"phone": 2},
        ),
        (
            "<https://hooks.slack.com/services/T0001/B0002/XXXXXXXX|webhook>",
            "<https://hooks.slack.com/services/[slack-webhook]|webhook>",
            {"slack_webhook": 1},
        ),
        (
            f"<@U123ABC> pasted `{SLACK_BOT_TOKEN}` at 1795333732.919523",
            "<@U123ABC> pasted `[slack-token]` at 1795333732.919523",
            {"slack_token": 1},
        ),
    ],
)
def test_slack_markup_keeps_its_shape(text: str, expected: str, counts: dict[str, int]) -> None:
    assert mask(text) == Masked(expected, counts)


# -- order: a token is masked whole, not half-eaten by a generic pattern ------------------------


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        ("token=xoxp-4155550100-4111111111111111", "token=[slack-token]", {"slack_token": 1}),
        ("api_key: sk-4155550100abcdefghij4111111111111111", "api_key: [api-key]", {"api_key": 1}),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [jwt]", {"jwt": 1}),
        ("password=alice@example.com", "password=[secret]", {"secret": 1}),
        ("https://bob:s3cret@example.com/x", "https://bob:[secret]@example.com/x", {"secret": 1}),
        (f"{PEM}\npassword=hunter2", "[private-key]\npassword=[secret]", {"private_key": 1, "secret": 1}),
    ],
)
def test_order(text: str, expected: str, counts: dict[str, int]) -> None:
    assert mask(text) == Masked(expected, counts)


# -- counts -------------------------------------------------------------------------------------


def test_counts_every_finding_by_kind() -> None:
    text = (
        "From alice@example.com and bob@example.org: the bot token "
        f"{SLACK_BOT_TOKEN} and xapp-1-A0123-456-abcdef are in the log, "
        "card 4111 1111 1111 1111, call +44 20 7946 0958 or 415-555-0100, password=hunter2."
    )
    result = mask(text)
    assert result.counts == {"slack_token": 2, "secret": 1, "email": 2, "card": 1, "phone": 2}
    assert result.text == (
        "From [email] and [email]: the bot token [slack-token] and [slack-token] are in the log, "
        "card [card], call [phone] or [phone], password=[secret]."
    )
    assert sum(result.counts.values()) == sum(result.text.count(placeholder(k)) for k in KINDS)


def test_counts_are_only_for_found_kinds() -> None:
    assert mask("alice@example.com").counts == {"email": 1}
    assert mask("").counts == {}
    assert all(n > 0 for n in mask(f"{JWT} {PEM} 4111111111111111").counts.values())


def test_masked_is_frozen() -> None:
    result = mask("alice@example.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.text = "x"  # type: ignore[misc]


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("79927398710")


# -- idempotence, and nothing sensitive means nothing changes ---------------------------------

MIXED = [
    "mail alice@example.com, call +1 (415) 555-0100",
    "<mailto:alice@example.com|alice@example.com> <@U123ABC> <#C123|general>",
    f"token={SLACK_BOT_TOKEN} Authorization: Bearer {JWT} AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY password: 'hunter2'",
    f"{PEM}\nsk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z ghp_AbCdEf0123456789AbCdEf0123456789AbCd",
    "card 4111-1111-1111-1111 4111 1111 1111 1111 5 times; 3782 822463 10005",
    "https://hooks.slack.com/services/T0001/B0002/XXXX https://u:p4ss@db.example.com/x",
    'json {"password": "hunter2", "api_key": "abc123"} `secret=xyz`',
    "x-api-key: abc Authorization: Basic dXNlcjpwYXNz pwd=abc.",
]


@pytest.mark.parametrize("text", MIXED)
def test_idempotent(text: str) -> None:
    once = mask(text)
    twice = mask(once.text)
    assert once.counts
    assert twice == Masked(once.text, {})


@pytest.mark.parametrize(
    "text",
    [
        "password=[secret] token=[slack-token]. api_key: '[api-key]'",
        "Bearer [bearer-token] <mailto:[email]|[email]> [card] [phone] [private-key]",
        "https://u:[secret]@db.example.com https://hooks.slack.com/services/[slack-webhook]",
    ],
)
def test_already_masked_text_is_left_alone(text: str) -> None:
    assert mask(text) == Masked(text, {})


def test_text_with_nothing_to_hide_keeps_its_characters() -> None:
    # NFKC is how masking reads text, not what it stores when there is nothing to mask.
    text = "Ｆｕｌｌｗｉｄｔｈ ﬁle… ½ ² caf\u0065\u0301 <@U123ABC>\u200b 09:00"
    assert mask(text) == Masked(text, {})
    masked = mask("ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ wrote… ½")
    assert masked == Masked("[email] wrote... 1⁄2", {"email": 1})


def test_plain_text_is_returned_unchanged() -> None:
    text = (
        "Refusal rate on the eval set jumped to 12% at 14:05 UTC after deploy v1.2.3 (build 20261122.4). "
        "<@U123ABC> rolled back; see <https://grafana.example.com/d/llm?orgId=1|dashboard>, "
        "thread 1795333732.919523, incident #12. Next review 2026-11-29 10:00."
    )
    assert mask(text) == Masked(text, {})


# -- linear time: large and adversarial inputs finish (no timed assertion) ----------------------

ADVERSARIAL_UNITS = [
    "a",
    "1",
    "1 ",
    "1-",
    "4111 ",
    "a@",
    "a.",
    "a@b.",
    "+1 ",
    "+1(",
    "(415) ",
    "xoxb-",
    "eyJa.",
    "sk-a",
    "Bearer ",
    "password=",
    "://a:",
    "-----BEGIN RSA PRIVATE KEY-----\n",
    "-----BEGIN PRIVATE KEY-----\nAAAA",
    "aws_secret_access_key=",
    "x" * 39 + "token ",
    'password="',
]


@pytest.mark.parametrize("unit", ADVERSARIAL_UNITS)
def test_large_adversarial_input_completes(unit: str) -> None:
    text = (unit * (200_000 // len(unit) + 1))[:200_000]
    result = mask(text)
    assert sum(result.counts.values()) == sum(result.text.count(placeholder(k)) for k in KINDS)


def test_large_realistic_input_completes() -> None:
    chunk = (
        "<@U123ABC> says alice@example.com +44 20 7946 0958 4111 1111 1111 1111 "
        f"{SLACK_BOT_TOKEN} password=hunter2 at 1795333732.919523 v1.2.3 2026-11-22\n"
    )
    text = chunk * (200_000 // len(chunk) + 1)
    result = mask(text)
    copies = text.count("\n")
    assert result.counts == {
        "slack_token": copies,
        "secret": copies,
        "email": copies,
        "card": copies,
        "phone": copies,
    }
    assert "alice@example.com" not in result.text
    assert result.text.count("1795333732.919523") == copies


# -- properties (hypothesis): national numbers, lookalike characters, ordinary numbers ---------


def _digits(n: int, first: str = "0123456789") -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(first), st.text("0123456789", min_size=n - 1, max_size=n - 1)).map(
        "".join
    )


def _joined(parts: st.SearchStrategy[list[str]], seps: str) -> st.SearchStrategy[str]:
    return st.tuples(parts, st.sampled_from(list(seps))).map(lambda p: p[1].join(p[0]))


NZ = "123456789"
# UK: 0 + 10 digits as 020 7946 0958, 0161 496 0000, 01632 960000, 07700 900 123.
UK = st.one_of(
    _joined(st.tuples(_digits(3, "0"), _digits(4), _digits(4)).map(list), " -"),
    _joined(st.tuples(_digits(4, "0"), _digits(3), _digits(4)).map(list), " -"),
    _joined(st.tuples(_digits(5, "0"), _digits(6)).map(list), " -"),
    _joined(st.tuples(_digits(5, "0"), _digits(3), _digits(3)).map(list), " "),
    st.tuples(_digits(2, NZ), _digits(4), _digits(4)).map(lambda p: f"(0{p[0]}) {p[1]} {p[2]}"),
).filter(lambda s: s[1] != "0" and s[:3] != "(00")
# FR: 0 + 9 digits in pairs: 06 12 34 56 78, 06.12.34.56.78, 0612345678.
FR = st.tuples(st.sampled_from(NZ), st.lists(_digits(2), min_size=4, max_size=4)).flatmap(
    lambda p: st.sampled_from([" ", ".", "-", ""]).map(lambda sep: "0" + p[0] + sep + sep.join(p[1]))
)
# DE: 0 + area of 2-4 digits + 7-8 digits: 030 12345678, 0151 23456789, 030/1234567, (089) 1234567.
DE = (
    st.tuples(_digits(2, NZ) | _digits(3, NZ) | _digits(4, NZ), _digits(7) | _digits(8))
    .flatmap(
        lambda p: st.sampled_from(
            [f"0{p[0]} {p[1]}", f"0{p[0]}/{p[1]}", f"0{p[0]}-{p[1]}", f"(0{p[0]}) {p[1]}"]
        )
    )
    .filter(lambda s: sum(c.isdigit() for c in s) <= 12)
)
# US (NANP): (415) 555-0100, 415-555-0100, 415.555.0100, 415 555 0100, 1-415-555-0100.
US = st.tuples(_digits(3, "23456789"), _digits(3, "23456789"), _digits(4)).flatmap(
    lambda p: st.sampled_from(
        [f"({p[0]}) {p[1]}-{p[2]}", f"{p[0]}-{p[1]}-{p[2]}", f"{p[0]}.{p[1]}.{p[2]}", f"{p[0]} {p[1]} {p[2]}"]
        + [f"1-{p[0]}-{p[1]}-{p[2]}", f"+1 {p[0]} {p[1]} {p[2]}"]
    )
)
NATIONAL_PHONES = st.one_of(UK, FR, DE, US)
# Words around them: letters, spaces and the punctuation people put next to a number.
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCXYZ,;!?éü", max_size=30).filter(
    lambda s: not re.search(r"(?i)pass|pwd|secret|token|credential|key|bearer", s)  # key: value
)
OPENERS = st.sampled_from(["", " ", " (", " call ", ": ", " tel:", "\n"])
CLOSERS = st.sampled_from(["", " ", ")", ".", ",", "!", " or ", "\n"])


@settings(max_examples=400)
@given(phone=NATIONAL_PHONES, before=PROSE, after=PROSE, opener=OPENERS, closer=CLOSERS)
def test_national_numbers_are_masked_in_prose(
    phone: str, before: str, after: str, opener: str, closer: str
) -> None:
    if before and not opener:
        opener = " "
    if after and not closer:
        closer = " "
    result = mask(before + opener + phone + closer + after)
    assert result.counts == {"phone": 1}, (phone, result)
    assert not any(c.isdigit() for c in result.text), result.text


def _lookalike(text: str, draw: st.DrawFn) -> str:
    """Some characters of ``text`` in their fullwidth form, spaces as no-break or ideographic ones,
    and an invisible zero-width space here or there."""
    out = []
    for c in text:
        if "!" <= c <= "~" and draw(st.booleans()):
            c = chr(ord(c) + 0xFEE0)
        elif c == " ":
            c = draw(st.sampled_from([" ", "\u00a0", "\u202f", "\u3000"]))
        out.append(c)
        if draw(st.integers(0, 9)) == 0:
            out.append("\u200b")
    return "".join(out)


LABEL = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10).filter(
    lambda s: s[0].isalpha()
)
EMAILS = st.tuples(
    st.lists(LABEL, min_size=1, max_size=3).map(".".join),
    st.lists(LABEL, min_size=1, max_size=3).map(".".join),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
).map(lambda p: f"{p[0]}@{p[1]}.{p[2]}")


@settings(max_examples=300)
@given(data=st.data(), email=EMAILS, phone=NATIONAL_PHONES | st.just("+44 20 7946 0958"))
def test_lookalike_characters_do_not_hide_an_address_or_a_number(
    data: st.DataObject, email: str, phone: str
) -> None:
    typed_email = _lookalike(email.upper() if data.draw(st.booleans()) else email, data.draw)
    typed_phone = _lookalike(phone, data.draw)
    result = mask(f"write to {typed_email} or call {typed_phone} today")
    assert result.text == "write to [email] or call [phone] today", (typed_email, typed_phone)
    assert result.counts == {"email": 1, "phone": 1}


# Numbers people type that are not phone numbers: masking must not eat them.
DATES = st.dates(date(1970, 1, 1), date(2099, 12, 31))
ORDINARY = st.one_of(
    st.integers(1, 99999).map(lambda n: f"#{n}"),
    st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"{t[0]:02d}:{t[1]:02d}"),
    st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)).map(
        lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}"
    ),
    st.integers(0, 999).map(lambda n: f"v{n}"),
    st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 999))
    .map(lambda v: ".".join(map(str, v)))
    .map(lambda v: f"v{v}"),
    st.integers(0, 100).map(lambda n: f"{n}%"),
    st.tuples(st.integers(0, 99), st.integers(0, 99)).map(lambda p: f"{p[0]}.{p[1]:02d}%"),
    st.tuples(st.integers(1, 999), st.sampled_from("smhdw")).map(lambda p: f"{p[0]}{p[1]}"),
    st.tuples(st.integers(1, 9), st.integers(1, 23)).map(lambda p: f"{p[0]}d{p[1]}h"),
    DATES.map(lambda d: d.isoformat()),
    DATES.map(lambda d: f"{d:%d.%m.%Y}"),
    DATES.map(lambda d: f"{d:%d/%m/%Y}"),
    st.datetimes(datetime(1970, 1, 1), datetime(2099, 12, 31)).map(lambda d: d.isoformat(timespec="seconds")),
    st.integers(1, 65535).map(lambda p: f"localhost:{p}"),
    st.integers(1, 65535).map(lambda p: f"port {p}"),
    # Three counts in a row set apart by spaces can spell a US number (250 300 1000): short ones.
    st.integers(0, 999).map(str),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
        lambda ip: ".".join(map(str, ip))
    ),
    st.floats(0, 1000, allow_nan=False).map(lambda f: f"{f:.3f}s"),
)


@settings(max_examples=400)
@given(st.lists(ORDINARY, min_size=1, max_size=6), st.sampled_from([" ", ", ", " and ", "; ", " - "]))
def test_ordinary_numbers_are_left_alone(numbers: list[str], sep: str) -> None:
    text = "at " + sep.join(numbers) + " on the dashboard"
    assert mask(text) == Masked(text, {})


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(NATIONAL_PHONES, EMAILS, ORDINARY, PROSE, st.sampled_from(["4111 1111 1111 1111", JWT])),
        max_size=8,
    ),
    st.sampled_from([" ", "", ".", "-", ":", "\n"]),
)
def test_masking_twice_finds_nothing_more(parts: list[str], sep: str) -> None:
    once = mask(sep.join(parts))
    assert mask(once.text) == Masked(once.text, {})
    # Whatever it found is counted once, by its placeholder.
    shown = re.findall(r"\[[a-z-]+\]", once.text)
    assert sum(once.counts.values()) == len([p for p in shown if p.strip("[]").replace("-", "_") in KINDS])
