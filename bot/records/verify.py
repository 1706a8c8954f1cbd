"""What `baton verify` checks (the command: bot/app/verify_command.py): walk every hash chain
(receipts per area, evidence per incident) and name the first link of each that does not match,
the way a person would look it up.

A link fails when its stored content no longer gives its stored hash (a field was changed), when
it is sealed otherwise than the database records (plain SHA-256 where the chains are keyed:
written without the key, or rewritten by someone who recomputed the hashes), when its place or
previous-hash does not follow the link before it (one was deleted or two were reordered), or
when the chain's head records a later or another last link (the last was deleted or replaced).
Against an anchor (bot/records/anchor.py) a chain can fail too: missing, shorter than anchored,
or rewritten. The walk reads one snapshot of the database and writes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.records import chain, seal
from bot.records.seal import Sealing
from bot.store.chainkey import ChainKey
from bot.store.models import ChainHead, Evidence, Receipt


@dataclass(frozen=True)
class Problem:
    """The first link of one chain that fails, and why."""

    chain: str  # the chain head's name: "receipts:<area>" or "evidence:<incident id>"
    row_id: int | None  # the receipt's or evidence item's id; None when the link is missing
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Checked:
    problems: list[Problem]
    receipts: int
    receipt_chains: int
    evidence: int
    evidence_chains: int
    sealing: Sealing = Sealing(key=None)
    heads: dict[str, ChainHead] = field(default_factory=dict)
    # The links of the chains asked for (`wanted`), by seq: what an anchor is compared with.
    found: dict[str, dict[int, Link]] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    id: int
    seq: int | None
    prev_hash: str | None
    hash: str | None
    content: dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One family of chains: how its links are named."""

    noun: str  # "receipt"
    plural: str  # "receipts"
    # (head name, link id, seq) -> "receipt #12 (model-quality, 3rd in its chain)"
    name: Callable[[str, int, int | None], str]
    label: Callable[[str], str]  # head name -> "model-quality", "incident #3"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def count(n: int, noun: str) -> str:
    """ "1 receipt", "3 receipts"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _span(first: int, last: int) -> str:
    return ordinal(first) if first == last else f"{ordinal(first)} to {ordinal(last)}"


def _place(seq: int | None) -> str:
    return f"{ordinal(seq)} in its chain" if seq is not None and seq > 0 else "not in its chain"


def _key(head: str) -> str:
    return head.split(":", 1)[1]


RECEIPTS = Kind(
    noun="receipt",
    plural="receipts",
    name=lambda head, id_, seq: f"receipt #{id_} ({_key(head)}, {_place(seq)})",
    label=_key,
)
EVIDENCE = Kind(
    noun="evidence item",
    plural="evidence items",
    name=lambda head, id_, seq: f"evidence #{id_} of incident #{_key(head)} ({_place(seq)})",
    label=lambda head: f"incident #{_key(head)}",
)


def verify(engine: Engine, key: ChainKey | None = None) -> list[Problem]:
    """Every chain's first failing link, receipts first, each family in chain order."""
    return check(engine, key=key).problems


def check(
    engine: Engine,
    *,
    key: ChainKey | None = None,
    wanted: Collection[str] = (),
    where: str = "the database",
) -> Checked:
    """`verify`, with how many links and chains were walked, and the links of the chains named in
    `wanted` (an anchor's). SealError when `key` does not fit the chains of `where` (missing, or
    another key)."""
    if engine.dialect.name == "postgresql":
        # One snapshot: an append committed mid-walk must not look like a missing last link.
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with Session(engine) as s:
        sealing = seal.sealing(seal.recorded(s), key, where)
        heads = {h.name: h for h in s.exec(select(ChainHead)).all()}
        receipts = s.exec(
            select(Receipt).order_by(col(Receipt.area), col(Receipt.id)).execution_options(yield_per=500)
        )
        found: dict[str, dict[int, Link]] = {}
        r_problems, r_links, r_chains = _walk(
            RECEIPTS,
            (
                (chain.receipts_head(area), rows)
                for area, rows in itertools.groupby(receipts, lambda r: r.area)
            ),
            heads,
            "receipts:",
            chain.receipt_content,
            sealing,
            wanted,
            found,
        )
        evidence = s.exec(
            select(Evidence)
            .order_by(col(Evidence.incident_id), col(Evidence.id))
            .execution_options(yield_per=500)
        )
        e_problems, e_links, e_chains = _walk(
            EVIDENCE,
            (
                (chain.evidence_head(incident), rows)
                for incident, rows in itertools.groupby(evidence, lambda e: e.incident_id)
            ),
            heads,
            "evidence:",
            chain.evidence_content,
            sealing,
            wanted,
            found,
        )
        s.expunge_all()  # the heads stay readable for an anchor
        s.rollback()
    unsealed = []
    if sealing.pending is not None and (r_links or e_links or any(h.seq for h in heads.values())):
        unsealed = [_unsealed(sealing.pending.fingerprint, where)]
    return Checked(
        problems=unsealed + r_problems + e_problems,
        receipts=r_links,
        receipt_chains=r_chains,
        evidence=e_links,
        evidence_chains=e_chains,
        sealing=sealing,
        heads=heads,
        found=found,
    )


def _unsealed(fingerprint: str, where: str) -> Problem:
    # Never "run baton seal" alone: on a database sealed before, that would bless a rewrite.
    return Problem(
        "seal",
        None,
        f"the chains in {where} are not sealed with the chain key (fingerprint {fingerprint}): the database "
        "records no key, and Baton writes no receipt or evidence with the key until they are. If they were "
        "never sealed, run `baton seal` once with this key; if they were, the record of the key was "
        "removed: investigate (baton verify --anchor FILE) instead of sealing",
    )


def _walk(
    kind: Kind,
    groups: Iterable[tuple[str, Iterable[Any]]],
    heads: dict[str, ChainHead],
    prefix: str,
    content: Callable[[Any], dict[str, Any]],
    sealing: Sealing,
    wanted: Collection[str],
    found: dict[str, dict[int, Link]],
) -> tuple[list[Problem], int, int]:
    problems: list[Problem] = []
    seen: set[str] = set()
    links = 0
    for name, rows in groups:
        seen.add(name)
        chained = [Link(r.id, r.seq, r.prev_hash, r.hash, content(r)) for r in rows]
        links += len(chained)
        if name in wanted:
            found[name] = {link.seq: link for link in chained if link.seq is not None}
        problem = check_chain(kind, name, chained, heads.get(name), sealing)
        if problem is not None:
            problems.append(problem)
    # Heads whose every link is gone.
    for name in sorted(set(heads) - seen, key=natural):
        if name.startswith(prefix):
            problem = check_chain(kind, name, [], heads[name], sealing)
            if problem is not None:
                problems.append(problem)
    chains = len(seen | {n for n, h in heads.items() if n.startswith(prefix) and h.seq > 0})
    return problems, links, chains


def natural(name: str) -> tuple[str, int, str]:
    prefix, _, key = name.partition(":")
    return (prefix, int(key), "") if key.isdigit() else (prefix, -1, key)


def _order(link: Link) -> tuple[bool, int, int]:
    return (link.seq is None, link.seq or 0, link.id)


def kind_of(head_name: str) -> Kind:
    return RECEIPTS if head_name.startswith("receipts:") else EVIDENCE


_PLAIN = (
    "it is sealed with plain SHA-256, not with the chain key: it was written without the key, or "
    "rewritten by someone who recomputed the hashes"
)


def _sealed_wrong(link: Link, sealing: Sealing) -> str | None:
    """Why a link's content and previous-hash do not give its stored hash, or None when they do."""
    prev = link.prev_hash or ""
    try:
        if chain.digest(link.content, prev, sealing.key) == link.hash:
            return None
        if sealing.key is not None and chain.digest(link.content, prev) == link.hash:
            return _PLAIN
        if sealing.pending is not None and chain.digest(link.content, prev, sealing.pending) == link.hash:
            return (
                "it is sealed with the chain key, but the database records no key: the record of the "
                "key was removed"
            )
    except (TypeError, ValueError) as e:
        return f"its content cannot be hashed ({e}): a stored field was changed"
    return "its content does not match its hash (a stored field was changed)"


def check_chain(
    kind: Kind, head_name: str, links: list[Link], head: ChainHead | None, sealing: Sealing
) -> Problem | None:
    """The first link that fails, in chain order (seq, then id): first a link whose own fields
    were changed (so a changed seq names that link, not the one its old place leaves behind),
    then one that does not follow the link before it; then the tail against the head."""
    links = sorted(links, key=_order)
    label = kind.label(head_name)

    def fail(link: Link, why: str) -> Problem:
        return Problem(head_name, link.id, f"{kind.name(head_name, link.id, link.seq)}: {why}")

    if not links:
        if head is None or head.seq == 0:
            return None
        every = "the only" if head.seq == 1 else f"all {head.seq}"
        what = kind.noun if head.seq == 1 else kind.plural
        return Problem(
            head_name,
            None,
            f"{every} {what} of {label} {'is' if head.seq == 1 else 'are'} missing "
            f"(the chain head records {head.seq}; deleted)",
        )
    for i, link in enumerate(links):
        if link.seq is None or link.hash is None:
            return fail(link, "it is not chained (no hash): it was written outside Baton")
        why = _sealed_wrong(link, sealing)
        if why == _PLAIN and i == 0:
            # A chain plain from its first link: one that did not verify when the chains were
            # keyed (left as it was), or rewritten whole since. Name its own break, if it has one.
            plain = check_chain(kind, head_name, links, head, Sealing(key=None))
            if plain is not None:
                return Problem(
                    plain.chain,
                    plain.row_id,
                    f"{plain.text}; and the chain is sealed with plain SHA-256, not with the chain key "
                    "(it did not verify when the chains were keyed and was left as it was, or it was "
                    "rewritten since)",
                )
        if why is not None:
            return fail(link, why)
    expected_seq, prev, prev_name = 1, "", ""
    for link in links:
        seq = link.seq or 0
        if seq > expected_seq:
            n = seq - expected_seq
            return fail(
                link,
                f"the {_span(expected_seq, seq - 1)} {kind.noun if n == 1 else kind.plural} of {label} "
                f"before it {'is' if n == 1 else 'are'} missing (deleted)",
            )
        if seq < expected_seq:
            return fail(
                link,
                f"it has the same place as {prev_name} (a {kind.noun} was copied, or two were chained "
                "at once)",
            )
        if link.prev_hash != prev:
            if prev_name:
                return fail(
                    link,
                    f"its previous-hash does not match {prev_name} (a {kind.noun} before it was "
                    "deleted or reordered)",
                )
            return fail(
                link,
                f"its previous-hash is not empty, yet it is the first of {label}'s chain "
                f"(a {kind.noun} before it was deleted)",
            )
        expected_seq, prev, prev_name = seq + 1, link.hash or "", kind.name(head_name, link.id, link.seq)
    last = links[-1]
    last_name = kind.name(head_name, last.id, last.seq)
    if head is None:
        return Problem(head_name, None, f"the chain head of {label} is missing (it was deleted)")
    last_seq = last.seq or 0
    if head.seq > last_seq:
        n = head.seq - last_seq
        what = f"the last {kind.noun} of {label} ({ordinal(head.seq)})"
        if n > 1:
            what = f"the last {n} {kind.plural} of {label} ({_span(last_seq + 1, head.seq)})"
        return Problem(
            head_name,
            None,
            f"{what} {'is' if n == 1 else 'are'} missing (the chain head records {head.seq}; deleted)",
        )
    if head.seq < last_seq:
        return Problem(
            head_name,
            last.id,
            f"{last_name}: it is past the chain head, which records {head.seq} (it was added "
            "outside Baton, or the head was changed)",
        )
    if head.hash != last.hash:
        return Problem(
            head_name,
            last.id,
            f"{last_name}: the chain head records another hash for the last {kind.noun} (the last "
            f"{kind.noun} was replaced, or the head was changed)",
        )
    return None
