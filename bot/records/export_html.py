"""`baton export <number> --html`: one self-contained HTML page for an incident or a drill.

The header, the picture of the response window (bot/records/picture.py, inline SVG), the steps
as they ran, the timeline, the evidence, the area's handoff receipts and whether their hash
chains verify (bot/records/verify.py, as `baton verify` checks them). Read from the database
alone, like the Markdown export (bot/records/export.py); the text is what the database holds
(masked when it was stored) and every piece of it goes through html.escape. The page loads
nothing: no script, no font, no style sheet or image from elsewhere, and its Content Security
Policy says so to the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.incidents.followup_items import link, tracker_name, tracker_status
from bot.incidents.messages import SOURCES, USER_ID
from bot.incidents.notes import IncidentRecord, gather
from bot.records import chain, picture, seal, window
from bot.records.verify import check, count
from bot.store.chainkey import ChainKey, ChainKeyError, from_env
from bot.store.models import Incident, Receipt

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
Show = Callable[[str | None], str]
Text = Callable[[str], str]
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;margin:2rem auto;
max-width:960px;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #cbd2d9}
.drill{display:inline-block;background:#7c3aed;color:#fff;font-weight:700;padding:.1rem .6rem;
border-radius:.3rem;letter-spacing:.08em}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#52606d}dd{margin:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;vertical-align:top;padding:.25rem .5rem;
border-bottom:1px solid #e4e7eb}th{color:#52606d;font-weight:600}
.picture{overflow-x:auto}.picture svg{max-width:100%;height:auto}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}pre{white-space:pre-wrap;margin:0;font:inherit}
"""


@dataclass(frozen=True)
class Verified:
    """What `baton verify` says of the chains this page shows."""

    ok: bool | None  # None: not checked (the key could not be used)
    lines: tuple[str, ...]


def read_page(engine: Engine, number: int, env: Mapping[str, str]) -> str | None:
    """Incident `number` as the HTML page, or None when there is no such incident. DBAPIError
    when the database cannot be read."""
    with Session(engine) as s:
        inc = s.get(Incident, number)
        if inc is None:
            return None
        record = gather(s, inc)
        pictured = window.read(s, inc)
        receipts = s.exec(
            select(Receipt).where(col(Receipt.area) == inc.area).order_by(col(Receipt.seq))
        ).all()
        s.expunge_all()
    verified = verification(engine, number=number, area=record.area, env=env)
    return page(record, pictured, list(receipts), verified, drill=inc.drill)


def verification(engine: Engine, *, number: int, area: str, env: Mapping[str, str]) -> Verified:
    """Whether the incident's evidence chain and its area's receipt chain verify."""
    try:
        key: ChainKey | None = from_env(env)
        checked = check(engine, key=key)
    except (ChainKeyError, seal.SealError) as e:
        return Verified(None, (f"not verified: {e}",))
    except DBAPIError:
        raise
    mine = {chain.evidence_head(number), chain.receipts_head(area)}
    problems = [p for p in checked.problems if p.chain in mine or p.chain == "seal"]
    lines = [str(p) for p in problems]
    counts = (
        f"{count(checked.receipts, 'receipt')} in {count(checked.receipt_chains, 'chain')} and "
        f"{count(checked.evidence, 'evidence item')} in {count(checked.evidence_chains, 'chain')} checked "
        f"({checked.sealing.describe()})"
    )
    others = len({p.chain for p in checked.problems} - mine - {"seal"})
    if not problems:
        lines.append(f"ok: this incident's evidence and {area}'s receipts match their hashes; {counts}")
    if others:
        lines.append(f"{others} other chain{'s' if others != 1 else ''} failed: run `baton verify`")
    return Verified(not problems, tuple(lines))


def _t(ts: datetime | None) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC" if ts else "—"


def page(
    r: IncidentRecord,
    w: window.ResponseWindow,
    receipts: list[Receipt],
    verified: Verified,
    *,
    drill: bool,
) -> str:
    """The page; every piece of text from the database is escaped here."""

    def who(user: str | None) -> str:
        if not user:
            return "—"
        if not USER_ID.fullmatch(user):
            return escape(SOURCES.get(user, user))
        handle = r.people.get(user)
        return escape(f"{handle} ({user})" if handle else user)

    def text(value: str) -> str:
        """Stored text with Slack's mentions as names, escaped."""
        named = MENTION.sub(lambda m: "@" + (r.people.get(m.group(1)) or m.group(1)), value)
        return escape(named)

    title = f"{'DRILL ' if drill else ''}#{r.number} {r.severity} {r.area}: {r.title}"
    facts = [
        ("Severity", f"{r.severity} ({r.level_name})"),
        ("Area", f"{r.area_name} ({r.area})"),
        ("State", r.state + (" (a drill)" if drill else "")),
    ]
    head = [f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts]
    head.append(f"<dt>Declared</dt><dd>{escape(_t(r.declared_at))} by {who(r.declared_by)}</dd>")
    head.append(f"<dt>Commander</dt><dd>{who(r.commander)}</dd>")
    if r.channel_name:
        head.append(f"<dt>Channel</dt><dd>#{escape(r.channel_name)}</dd>")
    if r.resolved_at:
        head.append(f"<dt>Resolved</dt><dd>{escape(_t(r.resolved_at))} by {who(r.resolved_by)}</dd>")
    if r.summary:
        head.append(f"<dt>Summary</dt><dd><pre>{text(r.summary)}</pre></dd>")
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head><body>",
        '<header id="header">',
        '<p class="drill" id="drill">DRILL: a rehearsal, not an incident</p>' if drill else "",
        f'<h1 id="title">#{r.number} {escape(r.severity)} {escape(r.area)}: {escape(r.title)}</h1>',
        f"<dl>{''.join(head)}</dl>",
        "</header>",
        '<section id="window"><h2>Response window</h2>',
        f'<div class="picture">{picture.svg(w)}</div>',
        _steps(w),
        "</section>",
        _timeline(r, who, text),
        _evidence(r, who, text),
        _follow_ups(r, who, text),
        _receipts(r.area, receipts, text),
        _verification(verified),
        "</body></html>",
    ]
    return "\n".join(part for part in out if part) + "\n"


def _steps(w: window.ResponseWindow) -> str:
    if not w.summary:
        return "<p>No escalation ladder (nobody is paged at this level).</p>"
    rows = []
    for st in w.summary:
        paged = ", ".join(f"{p.name} at {window.span(p.second)}" for p in st.paged) or "not paged"
        ack = ""
        if st.acknowledged is not None:
            a = st.acknowledged
            where = "inside" if a.inside else "outside"
            ack = f"{a.name} after {window.span(a.second)}, {where} the window"
        label = next((s.label for s in w.steps if s.index == st.index), "")
        rows.append(
            f"<tr><td>{st.index}</td><td>{escape(label)}{' (breach)' if st.breach else ''}</td>"
            f"<td>{escape(paged)}</td><td>{escape(ack)}</td></tr>"
        )
    return (
        '<table id="steps"><thead><tr><th>Step</th><th>Due</th><th>Paged (second of the window)</th>'
        f"<th>Acknowledged</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _timeline(r: IncidentRecord, who: Show, text: Text) -> str:
    rows = [
        f"<tr><td>{escape(_t(e.at))}</td><td>{who(e.actor)}</td><td>{escape(e.kind)}</td>"
        f"<td><pre>{text(e.text)}</pre></td></tr>"
        for e in r.timeline
    ]
    return (
        f'<section id="timeline"><h2>Timeline ({len(r.timeline)})</h2><table><thead><tr><th>When</th>'
        f"<th>Who</th><th>What</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _evidence(r: IncidentRecord, who: Show, text: Text) -> str:
    if not r.evidence:
        return '<section id="evidence"><h2>Evidence (0)</h2><p>none</p></section>'
    rows = []
    for ev in r.evidence:
        hidden = ", ".join(f"{n} {kind}" for kind, n in sorted(ev.masked.items()) if n)
        link = f"<br>{escape(ev.link)}" if ev.link and ev.link != ev.text else ""  # shown, not followed
        masked = f"<br>(masked: {escape(hidden)})" if hidden else ""
        source = f" from {who(ev.message_author)}" if ev.kind == "message" and ev.message_author else ""
        rows.append(
            f"<tr><td>{escape(_t(ev.at))}</td><td>{who(ev.author)}</td><td>{escape(ev.kind)}{source}</td>"
            f"<td><pre>{text(ev.text)}</pre>{link}{masked}</td></tr>"
        )
    return (
        f'<section id="evidence"><h2>Evidence ({len(r.evidence)})</h2><table><thead><tr><th>When</th>'
        "<th>Added by</th><th>Kind</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _follow_ups(r: IncidentRecord, who: Show, text: Text) -> str:
    head = f'<section id="follow-ups"><h2>Follow-ups ({len(r.follow_ups)})</h2>'
    if not r.follow_ups:
        return head + "<p>none</p></section>"
    rows = []
    for f in r.follow_ups:
        state = f"done by {who(f.done_by)} at {escape(_t(f.done_at))}" if f.state == "done" else "open"
        url = link(f.tracker_url)
        if url:  # a link to the tracker's issue, the URL shown as it is
            anchor = f'<a href="{escape(url)}" rel="noreferrer">{escape(url)}</a>'
            issue = f"{escape(tracker_name(f.tracker))}: {anchor}"
        else:
            issue = escape(f.tracker_url or tracker_status(f.tracker, f.tracker_state, f.tracker_error) or "")
        rows.append(
            f"<tr><td>{escape(_t(f.created_at))}</td><td>{who(f.owner)}</td>"
            f"<td><pre>{text(f.text)}</pre></td><td>{state}</td><td>{issue}</td></tr>"
        )
    return (
        head + "<table><thead><tr><th>Added</th><th>Owner</th><th>Follow-up</th><th>State</th>"
        f"<th>Tracker</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _receipts(area: str, receipts: list[Receipt], text: Text) -> str:
    head = f'<section id="receipts"><h2>Handoff receipts of {escape(area)} ({len(receipts)})</h2>'
    if not receipts:
        return head + "<p>none</p></section>"
    rows = [
        f"<tr><td>{r.seq}</td><td>{escape(_t(r.started_at))}</td><td>{escape(r.role)}</td>"
        f"<td>{escape(r.from_ref)} → {escape(r.to_ref)}</td><td>{escape(r.state)}</td>"
        f"<td><pre>{text(r.note)}</pre></td></tr>"
        for r in receipts
    ]
    return (
        head + "<table><thead><tr><th>#</th><th>Started</th><th>Role</th><th>From → to</th><th>State</th>"
        f"<th>Note</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _verification(v: Verified) -> str:
    state = "holds" if v.ok else "not checked" if v.ok is None else "FAILS"
    cls = "ok" if v.ok else "bad"
    lines = "".join(f"<li>{escape(line)}</li>" for line in v.lines)
    return (
        f'<section id="verification"><h2>Hash chains: <span class="{cls}" id="verified">{state}</span></h2>'
        f"<ul>{lines}</ul></section>"
    )
