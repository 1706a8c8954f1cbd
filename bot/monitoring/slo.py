"""SLOs: each area's SLIs from Prometheus against the `slo:` thresholds.

`measure` reads one area's SLIs now (its `slo_queries`, each against the SLI's objective and
alert threshold); `/slo <area>` shows that. The digest (`run_digest`: the `slo_digest` nudge;
`digest` for `baton nudge slo`, which posts itself) measures every area that has queries, and
for each SLI past its alert threshold declares an incident at that SLI's severity, unless one is
open for that area and SLI (bot/monitoring/links.py decides under a lock, so two digests at
once declare once). Then it posts one message per area to the responsible team's channel, or
by DM to the accountable person when there is no team channel.

Whatever Prometheus does (unreachable, an error, an empty result), the digest says so on that
SLI's line and goes on; a missing PROMETHEUS_URL is said once, with how to set it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.config.thresholds import Comparison, SloThreshold
from bot.incidents import messages
from bot.incidents.paging import timeline
from bot.incidents.rooms import post as post_in_channel
from bot.monitoring.links import join_or_declare, open_incident
from bot.monitoring.prometheus import Measured, NotMeasured, Prometheus, Result, graph_link, shown
from bot.records import chain
from bot.store.db import session
from bot.store.models import Evidence
from bot.store.outbox import Post, destination, queue
from bot.store.runtime import Baton
from bot.text.blocks import context, header, section
from bot.text.masking import hidden, mask
from bot.text.mrkdwn import escape

log = logging.getLogger(__name__)

SOURCE = "slo"  # monitor_link source; the key is "<area>:<sli>"
REPORTER = "prometheus"  # who declares: shown as "Prometheus (SLO)"
# /slo answers within this, however slow Prometheus is (the digest has no such hurry).
ANSWER_BUDGET = 8.0
SET_URL = (
    "set PROMETHEUS_URL in Baton's environment to your Prometheus server's base URL "
    "(e.g. http://prometheus:9090) and restart Baton"
)

Blocks = list[dict[str, Any]]


# -- readings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One SLI of an area, measured (or not) against its threshold."""

    sli: str
    query: str
    threshold: SloThreshold
    result: Result
    incident: int | None = None  # the incident open for this area and SLI, if any
    declared: bool = False  # … declared by this reading
    trouble: str | None = None  # past alert, but the incident could not be declared: why

    @property
    def objective(self) -> Comparison:
        return self.threshold.objective_comparison()

    @property
    def alert(self) -> Comparison:
        return self.threshold.alert_comparison()

    @property
    def value(self) -> float | None:
        return self.result.value if isinstance(self.result, Measured) else None

    @property
    def met(self) -> bool | None:
        """The objective holds (None: not measured)."""
        return None if self.value is None else self.objective.holds(self.value)

    @property
    def alerting(self) -> bool:
        """The value is past the alert threshold."""
        return self.value is not None and self.alert.holds(self.value)


@dataclass(frozen=True)
class Report:
    """An area's SLIs at one moment."""

    area: str
    name: str
    at: datetime
    readings: tuple[Reading, ...]
    problem: str | None = None  # nothing could be asked (PROMETHEUS_URL unset or unusable)


def slis(baton: Baton, area: str) -> list[tuple[str, str, SloThreshold]]:
    """(SLI, PromQL, threshold) of an area: its `slo_queries` that have a query and a threshold."""
    cfg = baton.config.ownership
    found = []
    for sli, query in cfg.areas[area].slo_queries.items():
        threshold = cfg.slo.get(sli)
        if query.strip() and threshold is not None:
            found.append((sli, query.strip(), threshold))
    return found


def areas_with_slos(baton: Baton) -> list[str]:
    return [key for key in baton.config.ownership.areas if slis(baton, key)]


@contextmanager
def prometheus(baton: Baton, *, budget: float | None = None) -> Iterator[Prometheus | NotMeasured]:
    """A client on PROMETHEUS_URL for one run of queries, or why there is none."""
    import httpx  # loaded at the first query: an idle Baton does without it

    url = baton.settings.prometheus_url
    if not url:
        yield NotMeasured("unset", f"PROMETHEUS_URL is not set: {SET_URL}")
        return
    try:
        if not re.match(r"^https?://[^/\s]", url):
            raise ValueError(url)
        client = Prometheus(url, budget=budget)
    except (ValueError, httpx.InvalidURL):  # never echoed: it may hold a password
        yield NotMeasured("unset", f"PROMETHEUS_URL is not an http(s) URL: {SET_URL}")
        return
    try:
        yield client
    finally:
        client.close()


def measure(baton: Baton, area: str, client: Prometheus | NotMeasured) -> Report:
    """An area's SLIs now, each with its value or why there is none; never raises for Prometheus."""
    name = baton.config.ownership.areas[area].name
    now = baton.clock.now()
    readings = tuple(
        Reading(sli, query, threshold, _ask(client, query)) for sli, query, threshold in slis(baton, area)
    )
    problem = str(client) if isinstance(client, NotMeasured) else None
    return Report(area, name, now, readings, problem)


def _ask(client: Prometheus | NotMeasured, query: str) -> Result:
    if isinstance(client, NotMeasured):
        return client
    try:
        return client.query(query)
    except Exception as e:  # a bug here must cost one line of the digest, not the digest
        log.exception("asking Prometheus failed")
        return NotMeasured("error", f"Baton could not ask ({type(e).__name__})")


def with_open_incidents(baton: Baton, report: Report) -> Report:
    """The report with the incident open for each SLI not yet linked to one (read only)."""
    readings = []
    with session(baton.engine) as s:
        for r in report.readings:
            inc = (
                None
                if r.incident is not None
                else open_incident(s, source=SOURCE, key=f"{report.area}:{r.sli}")
            )
            readings.append(replace(r, incident=inc.id) if inc is not None else r)
    return replace(report, readings=tuple(readings))


# -- incidents -------------------------------------------------------------------------------


def breach_title(reading: Reading) -> str:
    """e.g. "success_rate 97.0 % is below the alert threshold < 99 % (objective ≥ 99.5 %)"."""
    assert reading.value is not None
    where = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}.get(reading.alert.op, "at")
    return (
        f"{reading.sli} {value_text(reading)} is {where} the alert threshold {threshold_text(reading.alert)} "
        f"(objective {threshold_text(reading.objective)})"
    )


def declare_breaches(baton: Baton, report: Report) -> Report:
    """For each SLI past its alert threshold: the incident open for it, or a new one at the SLI's
    severity; each in its own transaction (a failure costs that SLI's incident, said on its line)."""
    out = []
    for reading in report.readings:
        if not reading.alerting:
            out.append(reading)
            continue
        try:
            out.append(_declare(baton, report, reading))
        except Exception as e:  # the digest still goes out, saying the incident is missing
            log.exception("could not declare an incident for %s %s", report.area, reading.sli)
            out.append(replace(reading, trouble=f"could not declare an incident ({type(e).__name__})"))
    return with_open_incidents(baton, replace(report, readings=tuple(out)))


def _declare(baton: Baton, report: Report, reading: Reading) -> Reading:
    now = baton.clock.now()
    with session(baton.engine) as s:
        joined = join_or_declare(
            s,
            baton=baton,
            source=SOURCE,
            key=f"{report.area}:{reading.sli}",
            level=reading.threshold.severity,
            area=report.area,
            title=breach_title(reading),
            reporter=REPORTER,
        )
        inc = joined.incident
        assert inc.id is not None
        measured = (
            f"{reading.sli} = {value_text(reading)} (alert {threshold_text(reading.alert)}, "
            f"objective {threshold_text(reading.objective)})"
        )
        if joined.declared:
            _evidence(baton, s, inc.id, reading, now)
        else:
            timeline(s, inc.id, at=now, actor=REPORTER, kind="measured", text=f"still past alert: {measured}")
            said = f"{messages.mention(REPORTER)}: {escape(measured)}, still past the alert threshold."
            post_in_channel(s, inc, now=now, text=said)
        s.commit()
    baton.wake()
    return replace(reading, incident=inc.id, declared=joined.declared)


def _evidence(baton: Baton, s: Session, incident_id: int, reading: Reading, now: datetime) -> None:
    """The measurement that declared the incident, as evidence: value, query, a graph link."""
    assert reading.value is not None and baton.settings.prometheus_url
    text = mask(
        f"{reading.sli} = {reading.value:g} ({value_text(reading)}; alert {threshold_text(reading.alert)}, "
        f"objective {threshold_text(reading.objective)}) from `{reading.query}`"
    ).text
    link = mask(graph_link(baton.settings.prometheus_url, reading.query)).text
    row = Evidence(
        incident_id=incident_id,
        at=now,
        author=REPORTER,
        kind="measurement",
        text=text,
        link=link,
        masked=hidden(text),
    )
    chain.append_evidence(s, row)
    s.add(row)
    timeline(s, incident_id, at=now, actor=REPORTER, kind="evidence", text=f"measurement: {text[:300]}")


# -- how values and thresholds read ------------------------------------------------------------

_OPS = {">=": "≥", "<=": "≤", "==": "=", ">": ">", "<": "<"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def threshold_text(c: Comparison) -> str:
    """`>= 99.5%` as "≥ 99.5 %", `<= 3s` as "≤ 3 s", `> 300` as "> 300": the number as written."""
    match = _NUMBER.search(c.text)
    number = match.group(0) if match else f"{c.value:g}"
    return f"{_OPS[c.op]} {number}{f' {c.unit}' if c.unit else ''}"


def _decimals(value: float, kind: str) -> int:
    size = abs(value * 100 if kind == "percentage" else value)
    if kind == "percentage":
        return 2 if size < 100 else 1
    return 3 if size < 1 else 2 if size < 10 else 1 if size < 100 else 0


def _shown(value: float, kind: str, decimals: int) -> str:
    number = value * 100 if kind == "percentage" else value
    text = f"{number:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0")
        text = text + "0" if kind != "number" and text.endswith(".") else text.rstrip(".")
    return text


def value_text(reading: Reading) -> str:
    """The measured value in the objective's terms: "97.0 %", "4.2 s", "212.5".

    Shown with enough decimals that rounding never makes it look on the other side of a
    threshold (98.996 % against "< 99 %" reads 98.996 %, not 99.0 %)."""
    value = reading.value
    assert value is not None
    kind = reading.objective.kind
    decimals = _decimals(value, kind)
    scale = 0.01 if kind == "percentage" else 1.0
    for extra in range(5):
        text = _shown(value, kind, decimals + extra)
        back = float(text.replace(",", "")) * scale
        if all(c.holds(back) == c.holds(value) for c in (reading.objective, reading.alert)):
            break
    unit = {"percentage": " %", "time": " s"}.get(kind, "")
    return f"{text}{unit}"


def line(reading: Reading) -> str:
    """One SLI as a line of mrkdwn, e.g.
    ":red_circle: *success_rate* 97.0 % (objective ≥ 99.5 %) · alert < 99 % → incident #12 declared (P1)"."""
    name = f"*{escape(reading.sli)}*"
    objective = f"objective {threshold_text(reading.objective)}"
    alert = f"alert {threshold_text(reading.alert)}"
    if reading.value is None:
        return f":white_circle: {name} not measured: {escape(str(reading.result))}"
    value = value_text(reading)
    if reading.alerting:
        if reading.declared:
            then = f" → incident #{reading.incident} declared ({reading.threshold.severity})"
        elif reading.incident is not None:
            then = f" → incident #{reading.incident} open"
        else:
            then = f" → {escape(reading.trouble)}" if reading.trouble else ""
        return f":red_circle: {name} {value} ({objective}) · past {alert}{then}"
    open_ = f" · incident #{reading.incident} still open" if reading.incident is not None else ""
    if reading.met:
        return f":large_green_circle: {name} {value} ({objective}){open_}"
    return f":large_yellow_circle: {name} {value} ({objective} missed; {alert}){open_}"


def lines(report: Report) -> list[str]:
    if report.problem is not None:
        names = ", ".join(f"*{escape(r.sli)}*" for r in report.readings)
        return [f":warning: {escape(report.problem)}. Not measured: {names}."]
    return [line(r) for r in report.readings]


def summary(report: Report) -> str:
    """ "1 past alert, 1 met" (or "not measured")."""
    if report.problem is not None:
        return "not measured"
    counts = {
        "past alert": sum(r.alerting for r in report.readings),
        "objective missed": sum(r.met is False and not r.alerting for r in report.readings),
        "met": sum(r.met is True for r in report.readings),
        "not measured": sum(r.value is None for r in report.readings),
    }
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n)


def message(report: Report, *, title: str, note: str) -> tuple[str, Blocks]:
    """Fallback text and Block Kit: a header, one line per SLI, then `note` in small print."""
    body = "\n".join(lines(report))
    blocks: Blocks = [
        header(title),
        section(body),
        context(note),
    ]
    return f"{title}: {summary(report)}\n{body}", blocks


def digest_message(report: Report, *, source: str | None) -> tuple[str, Blocks]:
    where = f"from Prometheus ({escape(source)})" if source else "Prometheus"
    note = f"Measured {where} · `/slo {report.area}` for the values now"
    return message(report, title=f"SLO digest · {report.name}", note=note)


# -- the digest ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    reports: list[Report] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)

    def incidents(self) -> list[tuple[Report, Reading]]:
        """SLIs past alert, with the incident declared for them or already open."""
        return [(rep, r) for rep in self.reports for r in rep.readings if r.alerting]


def digest(baton: Baton) -> Digest:
    """Measure every area with slo_queries, declare what is past alert, and build each area's post
    (not sent: `run_digest` queues them, `baton nudge slo` sends them itself)."""
    found = Digest()
    with prometheus(baton) as client:
        for area in areas_with_slos(baton):
            report = declare_breaches(baton, measure(baton, area, client))
            url = baton.settings.prometheus_url
            text, blocks = digest_message(report, source=shown(url) if url else None)
            target, where, tell = destination(baton, area)
            found.reports.append(report)
            found.posts.append(Post(area, target, where, text, blocks, tell))
    return found


def run_digest(baton: Baton) -> Digest:
    """The scheduled `slo_digest` nudge: the digest, its posts queued for the ticker."""
    found = digest(baton)
    queue(baton, found.posts, what="the SLO digest")
    return found
