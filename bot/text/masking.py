"""Mask PII and secrets in evidence text before it is stored.

``mask(text)`` replaces each finding with a placeholder naming its kind (``[email]``, ``[card]``,
``[slack-token]``…) and counts what it hid. Evidence comes from Slack, so Slack markup
(``<@U123>``, ``<#C123|name>``, ``<https://…|label>``, ``1795333732.919523``) survives untouched;
only the sensitive part inside it is replaced (``<mailto:[email]|[email]>``).

Text is looked at in its NFKC form without invisible characters, so an address typed in
fullwidth letters (``ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ``), with a zero-width space or a non-breaking
space between digit groups is found like its plain spelling. Text with nothing to hide is returned
exactly as typed; text that had something masked is returned in that normalized form.

Passes run most specific first, so a token is never half-eaten by a generic pattern (a phone
number, a card). Every pattern is anchored at the start of a "word" by a look-behind and uses
possessive quantifiers or bounded repeats, so masking is linear in the length of the text.
Masking is idempotent: no pattern matches a placeholder.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.text import phones

__all__ = ["KINDS", "Masked", "hidden", "luhn_ok", "mask", "normalized", "placeholder"]


@dataclass(frozen=True)
class Masked:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many were masked


def placeholder(kind: str) -> str:
    """``slack_token`` -> ``[slack-token]``."""
    return f"[{kind.replace('_', '-')}]"


_PLACEHOLDER = re.compile(r"\[[a-z]+(?:-[a-z]+)*\]")

# --- private keys (PEM / OpenSSH / PGP) -------------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY(?: BLOCK)?-----")
# A paste cut off before its END line (evidence is truncated): the base64 lines that follow.
_PEM_BODY = re.compile(r"(?:\s*+[A-Za-z0-9+/=]{16,}+)*+")


def _mask_private_keys(text: str) -> tuple[str, int]:
    out: list[str] = []
    pos = n = 0
    end_possible = True  # once no END line follows, none follows a later BEGIN either
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = _PEM_END.search(text, begin.end()) if end_possible else None
        if end is None:
            end_possible = False
            body = _PEM_BODY.match(text, begin.end())
            stop = body.end() if body else begin.end()
        else:
            stop = end.end()
        out += [text[pos : begin.start()], placeholder("private_key")]
        n += 1
        pos = stop
    out.append(text[pos:])
    return "".join(out), n


# --- regex passes ------------------------------------------------------------------------------
# A pattern may name a group "secret": only that part is replaced, the rest of the match is kept
# (e.g. ``password=`` in ``password=hunter2``). Without it, the whole match is replaced.

Check = Callable[[str], bool]


def _masked_secret(m: re.Match[str], kind: str) -> str:
    start, end = m.span("secret") if "secret" in m.re.groupindex else m.span()
    whole = m.string
    return whole[m.start() : start] + placeholder(kind) + whole[end : m.end()]


def _not_placeholder(value: str) -> bool:
    return _PLACEHOLDER.fullmatch(value) is None


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


def _openai_needs_digit(value: str) -> bool:
    # "sk-learn-compatible-transformers" is prose; a real sk- key has digits.
    return not value.startswith("sk-") or _has_digit(value)


def _looks_like_bearer(value: str) -> bool:
    # "bearer instruments" is prose; tokens have digits or are long.
    return _has_digit(value) or len(value) >= 20


_SLACK_WEBHOOK = re.compile(
    r"(?<![A-Za-z0-9.-])hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]++)"
)
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]++\.eyJ[A-Za-z0-9_-]++\.[A-Za-z0-9_-]*+")
_SLACK_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])(?:xox[a-z](?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]{8,}+")
_AWS_KEY = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_API_KEY = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"sk-[A-Za-z0-9_-]{20,}+"  # OpenAI sk-…, sk-proj-…; Anthropic sk-ant-…
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}+"  # Stripe secret / restricted
    r"|whsec_[A-Za-z0-9]{20,}+"  # Stripe webhook signing secret
    r"|gh[pousr]_[A-Za-z0-9]{30,}+"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{30,}+"  # GitHub fine-grained
    r"|glpat-[A-Za-z0-9_-]{20,}+"  # GitLab
    r"|AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"  # Google
    r"|npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"  # npm
    r"|hf_[A-Za-z0-9]{30,}+"  # Hugging Face
    r")"
)
_AWS_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)"
    r"[\"']?[ \t]*+[:=][ \t]*+[\"']?(?P<secret>[A-Za-z0-9/+=]{20,}+)"
)
_BEARER = re.compile(r"(?i)(?<![A-Za-z0-9])bearer[ \t]++(?P<secret>[A-Za-z0-9._~+/=-]{8,}+)")
_BASIC_AUTH = re.compile(
    r"(?i)(?<![A-Za-z0-9])authorization[ \t]*+:[ \t]*+basic[ \t]++(?P<secret>[A-Za-z0-9+/=]{6,}+)"
)
# scheme://user:password@host — the password only.
_URL_PASSWORD = re.compile(r"://[^\s:/@<>|]*+:(?P<secret>[^\s/@<>|]++)(?=@)")
# password=…, api_key: …, "secret": "…", --token=…, X-Api-Key: … — the value only.
_KV = re.compile(
    r"""(?ix)
    (?<![A-Za-z0-9_.:-])
    ["']?
    [a-z0-9_.-]{0,40}?
    (?:pass(?:word|wd|phrase)|pwd|secret(?:[_-]?key)?|token|credentials?
      |(?:api|access|auth|private|signing|encryption|master|client)[_-]?(?:key|secret)|apikey)
    ["']?[ \t]*+[:=][ \t]*+
    (?!=)
    (?P<value>"[^"\n]++"|'[^'\n]++'|[^\s,;&"'<>|`]++)
    """
)


def _mask_kv(m: re.Match[str]) -> tuple[str, int]:
    value = m.group("value")
    if _PLACEHOLDER.match(value.lstrip("\"'")):  # masked already, e.g. token=[slack-token]
        return m.group(0), 0
    head = m.string[m.start() : m.start("value")]
    if value[0] in "\"'":
        quote, inner, tail = value[0], value[1:-1], ""
    else:
        quote, inner = "", value.rstrip(".)]}")
        tail = value[len(inner) :]
        if not inner:
            return m.group(0), 0
    if set(inner) == {"*"}:  # password: ****
        return m.group(0), 0
    return f"{head}{quote}{placeholder('secret')}{quote}{tail}", 1


# --- e-mail ------------------------------------------------------------------------------------

# Addresses with accented letters too (josé@exämple.de): Latin letters, not every letter, so a
# word of Chinese or Japanese written against an address is not taken for part of it.
_ALNUM = "A-Za-z0-9\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_EMAIL = re.compile(
    rf"(?<![{_ALNUM}_.%+'-])(?P<local>[{_ALNUM}_.%+'-]++)@(?P<domain>[{_ALNUM}-]++(?:\.[{_ALNUM}-]++)++)"
)
_LABEL = re.compile(rf"[{_ALNUM}](?:[{_ALNUM}-]*[{_ALNUM}])?")


def _mask_email(m: re.Match[str]) -> tuple[str, int]:
    local = m.group("local")
    lead = local[: len(local) - len(local.lstrip(".'"))]  # "'alice@…'" keeps its quote
    local = local[len(lead) :]
    labels = m.group("domain").split(".")
    valid = next((i for i, label in enumerate(labels) if not _LABEL.fullmatch(label)), len(labels))
    # The longest run of well-formed labels ending in an alphabetic top-level domain ("a@b.com.5").
    for k in range(valid, 1, -1):
        tld = labels[k - 1]
        if local and tld.isalpha() and len(tld) >= 2:
            rest = ".".join(labels[k:])
            return lead + placeholder("email") + ("." + rest if rest else ""), 1
    return m.group(0), 0


# --- payment cards -----------------------------------------------------------------------------

# A run of digit groups separated by single spaces or dashes, not glued to a word, a decimal, a
# URL parameter or path (``=1795333732000``, ``/p1795333732919523``) or a Slack ts.
_DIGIT_RUN = re.compile(r"(?<![\w.=/+-])[0-9]++(?:[ -][0-9]++)*+")
_DIGITS = re.compile(r"[0-9]+")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_window(groups: list[str], i: int, last_usable: int) -> int | None:
    """The last group of the longest card number that starts at group ``i``, if any."""
    first = groups[i]
    if first[0] not in "23456":  # card ranges (Amex/Visa/Mastercard/Discover/JCB/UnionPay…)
        return None
    best = None
    digits = ""
    for j in range(i, min(len(groups), i + 19)):
        g = groups[j]
        if j > i and not (len(first) == 4 and 3 <= len(g) <= 6):  # 4-4-4-4, 4-6-5, 4-4-4-4-3…
            break
        digits += g
        if len(digits) > 19:
            break
        if j <= last_usable and len(digits) >= 13 and luhn_ok(digits):
            best = j
    return best


def _mask_cards(m: re.Match[str]) -> tuple[str, int]:
    run, text, end = m.group(0), m.string, m.end()
    spans = [g.span() for g in _DIGITS.finditer(run)]
    groups = [run[a:b] for a, b in spans]
    nxt = text[end : end + 2]
    glued = bool(nxt) and (nxt[0].isalnum() or nxt[0] == "_" or (nxt[0] in ".," and nxt[1:].isdigit()))
    last_usable = len(groups) - 2 if glued else len(groups) - 1
    out: list[str] = []
    pos = i = n = 0
    while i < len(groups):
        j = _card_window(groups, i, last_usable)
        if j is None:
            i += 1
            continue
        out += [run[pos : spans[i][0]], placeholder("card")]
        pos = spans[j][1]
        n += 1
        i = j + 1
    out.append(run[pos:])
    return "".join(out), n


# --- the passes, in order ----------------------------------------------------------------------

Pass = Callable[[str], tuple[str, int]]


def _regex_pass(pattern: re.Pattern[str], kind: str, check: Check | None = None) -> Pass:
    def run(text: str) -> tuple[str, int]:
        n = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal n
            secret = m.group("secret") if "secret" in pattern.groupindex else m.group(0)
            if not _not_placeholder(secret) or (check is not None and not check(secret)):
                return m.group(0)
            n += 1
            return _masked_secret(m, kind)

        return pattern.sub(sub, text), n

    return run


def _custom_pass(pattern: re.Pattern[str], fn: Callable[[re.Match[str]], tuple[str, int]]) -> Pass:
    def run(text: str) -> tuple[str, int]:
        n = 0

        def sub(m: re.Match[str]) -> str:
            nonlocal n
            out, k = fn(m)
            n += k
            return out

        return pattern.sub(sub, text), n

    return run


_PASSES: list[tuple[str, Pass]] = [
    ("private_key", _mask_private_keys),
    ("slack_webhook", _regex_pass(_SLACK_WEBHOOK, "slack_webhook")),
    ("jwt", _regex_pass(_JWT, "jwt")),
    ("slack_token", _regex_pass(_SLACK_TOKEN, "slack_token")),
    ("aws_key", _regex_pass(_AWS_KEY, "aws_key")),
    ("api_key", _regex_pass(_API_KEY, "api_key", _openai_needs_digit)),
    ("aws_secret", _regex_pass(_AWS_SECRET, "aws_secret")),
    ("bearer_token", _regex_pass(_BEARER, "bearer_token", _looks_like_bearer)),
    ("basic_auth", _regex_pass(_BASIC_AUTH, "basic_auth")),
    ("secret", _regex_pass(_URL_PASSWORD, "secret")),
    ("secret", _custom_pass(_KV, _mask_kv)),
    ("email", _custom_pass(_EMAIL, _mask_email)),
    ("card", _custom_pass(_DIGIT_RUN, _mask_cards)),
    ("phone", _regex_pass(phones.INTL, "phone", phones.intl_ok)),
    ("phone", _regex_pass(phones.NANP, "phone")),
    ("phone", _custom_pass(phones.NATIONAL, phones.mask_national)),
]

#: Every kind ``mask`` can report, in the order it looks for them.
KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _ in _PASSES))


# A placeholder changes what its neighbours look like to the passes before it: in
# ``x@y.com.x@y.com`` the second address starts after a dot only once the first is masked, and a
# national number masked inside an over-long international one leaves a shorter one to find. So
# the passes run again over their own output until they find nothing more, as a second mask()
# would; text with nothing to hide is read once.
_ROUNDS = 8

# Characters that show nothing and only split what a pattern would find (jane\u200b@corp.example).
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u2060\ufeff"))


def normalized(text: str) -> str:
    """``text`` as masking reads it: NFKC (fullwidth ``０２０`` is ``020``, a no-break space a space,
    ``ｊａｎｅ＠ｃｏｒｐ.ｅｘａｍｐｌｅ`` an address), without invisible characters."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_INVISIBLE)


def mask(text: str) -> Masked:
    """Replace PII and secrets in ``text`` with ``[kind]`` placeholders; count them by kind.
    Text with nothing to mask comes back exactly as it was; masked text comes back normalized."""
    counts: dict[str, int] = {}
    out = normalized(text)
    for _ in range(_ROUNDS):
        found = 0
        for kind, run in _PASSES:
            out, n = run(out)
            if n:
                counts[kind] = counts.get(kind, 0) + n
                found += n
        if not found:
            break
    return Masked(out, counts) if counts else Masked(text, {})


def hidden(text: str) -> dict[str, int]:
    """What masked text hides, counted by kind from its placeholders: text masked earlier (an
    evidence draft) still says what was taken out of it."""
    names = {placeholder(kind): kind for kind in KINDS}
    counts: dict[str, int] = {}
    for found in _PLACEHOLDER.findall(text):
        kind = names.get(found)
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return counts
