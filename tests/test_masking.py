"""PII and secrets are masked before evidence is stored (PRODUCT.md §3); Slack markup survives."""

from __future__ import annotations

import dataclasses

import pytest

from bot.records.masking import KINDS, Masked, luhn_ok, mask, placeholder

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
