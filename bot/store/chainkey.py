"""The key that seals the hash chains (bot/records/chain.py), from the environment.

`BATON_CHAIN_KEY` holds the key itself, `BATON_CHAIN_KEY_FILE` the path of a file holding it
(one line; surrounding whitespace is ignored). With a key each link's hash is HMAC-SHA256 over
the canonical encoding, which nobody without the key can recompute; without one it is plain
SHA-256. The key is kept outside the database on purpose: whoever can write the database must
not also hold what seals it.

The key is never logged or shown: `repr()` gives its fingerprint only, an HMAC of a fixed label
under the key, which names the key (the database records it) without revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.store.examples import not_random, placeholder

KEY_VARIABLE = "BATON_CHAIN_KEY"
FILE_VARIABLE = "BATON_CHAIN_KEY_FILE"
MIN_LENGTH = 32
HOW = (
    f"set {KEY_VARIABLE} to a random secret of at least {MIN_LENGTH} characters (e.g. the output of "
    f"`openssl rand -hex 32`), or {FILE_VARIABLE} to the path of a file holding one"
)
_FINGERPRINT_LABEL = b"baton chain key fingerprint v1"


class ChainKeyError(ValueError):
    """The key's setting cannot be used; the message says which variable and what would be right.
    It never contains the key."""


@dataclass(frozen=True)
class ChainKey:
    secret: bytes = field(repr=False)
    source: str  # where it came from, for messages: "BATON_CHAIN_KEY" or "BATON_CHAIN_KEY_FILE (path)"

    @property
    def fingerprint(self) -> str:
        """16 hex digits naming the key, not revealing it."""
        return hmac.new(self.secret, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]

    def mac(self, data: bytes) -> str:
        """HMAC-SHA256 of `data` under the key, hex."""
        return hmac.new(self.secret, data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"ChainKey(fingerprint={self.fingerprint!r}, source={self.source!r})"

    __str__ = __repr__


def from_env(env: Mapping[str, str]) -> ChainKey | None:
    """The configured key; None when neither variable is set; ChainKeyError when one is unusable."""
    text = env.get(KEY_VARIABLE, "").strip()
    path = env.get(FILE_VARIABLE, "").strip()
    if text and path:
        raise ChainKeyError(f"both {KEY_VARIABLE} and {FILE_VARIABLE} are set: set one of them, not both.")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
            raise ChainKeyError(
                f"{FILE_VARIABLE}={path} cannot be read ({reason}): point it at a readable file holding the "
                f"key (one line of at least {MIN_LENGTH} characters), or unset it."
            ) from None
        source = f"{FILE_VARIABLE} ({path})"
        if not text:
            raise ChainKeyError(f"{FILE_VARIABLE}={path} is empty: {HOW}.")
    elif text:
        source = KEY_VARIABLE
    else:
        return None
    where = f"the file {FILE_VARIABLE} names" if path else KEY_VARIABLE
    # An example pasted as it is, or a key anyone could guess, seals nothing: refused like a
    # placeholder Slack token (bot/store/settings.py), before anything is written with it.
    what = placeholder(text)
    if what is None and "openssl rand" in text:
        what = "the command that makes a key, not its output (run it and set what it prints)"
    if what is not None:
        raise ChainKeyError(f"the chain key in {where} is {what}: {HOW}.")
    if len(text) < MIN_LENGTH:
        raise ChainKeyError(
            f"the chain key in {where} is {len(text)} characters; it must be at least {MIN_LENGTH} "
            f"(a short key can be guessed): {HOW}."
        )
    plain = not_random(text)
    if plain is not None:
        raise ChainKeyError(f"the chain key in {where} is not a random secret ({plain}): {HOW}.")
    return ChainKey(text.encode("utf-8"), source)
