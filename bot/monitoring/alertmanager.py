"""Prometheus Alertmanager's webhook: alerts in, incidents out.

`POST /alerts/alertmanager` takes Alertmanager's payload version 4. The labels `area` and
`severity` pick the area and the level (with `alerts:` defaults from ownership.yaml). A group
(its `groupKey`) declares one incident and joins it while that incident is open, also when
Alertmanager resends the notification or two replicas receive it; alerts that start firing later
go on its timeline; a `resolved` notification posts a status update. The alerts' summary and
description annotations and generatorURL become evidence, masked, in a job after the answer, so
a group of a thousand alerts is answered at once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError
from sqlmodel import Session

from bot.config.fields import SEVERITIES
from bot.incidents import paging, rooms
from bot.incidents.services import set_status
from bot.monitoring import alertstream
from bot.monitoring.links import join_or_declare, lock_link, open_incident
from bot.records import evidence
from bot.store.db import session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from bot.text.mrkdwn import clip, escape
from bot.text.outside import excerpt, kept
from bot.text.typed import typed

MAX_BODY = alertstream.MAX_BODY  # streamed, never held whole: see bot/monitoring/alertstream.py
EVIDENCE_PER_NOTIFICATION = 20  # distinct annotation sets kept as evidence from one notification
SOURCE = "alertmanager"
_URL = re.compile(r"^https?://[^\s<>|]+$")


class BadPayload(Exception):
    """Not a notification Baton can act on: the reason, for the 400 answer."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")  # Alertmanager may add fields; they are ignored


class Alert(_Model):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class Notification(_Model):
    version: Literal["4"]
    groupKey: str = Field(min_length=1)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1)
    truncatedAlerts: int = 0

    # Alerts of this notification Baton read but did not keep (bot/monitoring/alertstream.py).
    _cut: int = PrivateAttr(default=0)

    @property
    def cut(self) -> int:
        """Alerts of the group that are not in `alerts`: cut by Alertmanager (`max_alerts`,
        said in truncatedAlerts) and by Baton (past alertstream.MAX_ALERTS)."""
        return max(0, self.truncatedAlerts) + self._cut


class Reader:
    """Feed the body as it arrives (server.py); `end()` gives the notification or BadPayload."""

    def __init__(self) -> None:
        self._stream = alertstream.Reader()

    def feed(self, chunk: bytes) -> None:
        try:
            self._stream.feed(chunk)
        except alertstream.NotNotification as e:
            raise BadPayload(f"{e}: expected Alertmanager's webhook payload (version 4)") from None

    def end(self) -> Notification:
        try:
            data, cut = self._stream.end()
        except alertstream.NotNotification as e:
            raise BadPayload(f"{e}: expected Alertmanager's webhook payload (version 4)") from None
        n = validate(data)
        n._cut = cut
        return n


def parse(body: bytes) -> Notification:
    """The notification, or BadPayload naming what is wrong with it."""
    reader = Reader()
    reader.feed(body)
    return reader.end()


def validate(data: dict[str, Any]) -> Notification:
    if data.get("version") != "4":
        given = _shown(str(data.get("version")), 40)
        raise BadPayload(f'payload version {given!r} is not supported: Baton reads version "4"')
    try:
        return Notification.model_validate(data)
    except ValidationError as e:
        first = e.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the payload"
        raise BadPayload(f"{where}: {first['msg']} (in {e.error_count()} place(s) of the payload)") from None


_FINGERPRINT = re.compile(r"^[0-9a-f]{1,32}$")


def _fingerprint(alert: Alert) -> str:
    """Alertmanager's fingerprint (16 hex digits), or a digest of what the sender gave instead
    (anything else is stored as its digest: it could be long, or carry a secret), or of the labels
    when it gave none."""
    if _FINGERPRINT.match(alert.fingerprint):
        return alert.fingerprint
    given = alert.fingerprint or json.dumps(alert.labels, sort_keys=True)
    return hashlib.sha256(given.encode()).hexdigest()[:16]


def _shown(value: str, limit: int = 120) -> str:
    """A label value or the groupKey, as stored and shown: masked, mentions as text, clipped."""
    return excerpt(value, limit)


def _names(alerts: list[Alert]) -> str:
    """The alerts' distinct alertnames, as stored and shown."""
    return ", ".join(sorted({_shown(a.labels.get("alertname", "alert"), 80) for a in alerts}))


def _label(n: Notification, name: str) -> str | None:
    return n.commonLabels.get(name) or n.groupLabels.get(name) or n.alerts[0].labels.get(name)


@dataclass(frozen=True)
class Target:
    area: str
    level: str
    notes: tuple[str, ...]  # what was assumed, for the timeline


def target(baton: Baton, n: Notification) -> Target:
    """The area and level the labels name, else the `alerts:` defaults (and why)."""
    defaults = baton.config.ownership.alerts
    notes = []
    raw_area = _label(n, "area")
    area = baton.ownership.area(raw_area) if raw_area else None
    if area is None:
        if defaults.default_area is None:
            named = f"area label {_shown(raw_area)!r} is not an area" if raw_area else "no `area` label"
            raise BadPayload(
                f"{named} and ownership.yaml sets no alerts.default_area: label the alert with one of "
                f"{', '.join(baton.config.ownership.areas)}, or set alerts.default_area"
            )
        area = defaults.default_area
        notes.append(f"area label {_shown(raw_area)!r} is not an area" if raw_area else "no area label")
    raw_level = _label(n, "severity")
    level = raw_level.upper() if raw_level and raw_level.upper() in SEVERITIES else None
    if level is None:
        level = defaults.default_severity
        notes.append(
            f"severity label {_shown(raw_level)!r} is not P0–P3" if raw_level else "no severity label"
        )
    return Target(area, level, tuple(notes))


def _title(n: Notification) -> str:
    name = _label(n, "alertname") or "alert"
    summary = n.commonAnnotations.get("summary") or n.alerts[0].annotations.get("summary") or ""
    return clip(typed(kept(f"{name}: {summary}" if summary else f"{name} firing")), 200)


@dataclass(frozen=True)
class Outcome:
    incident: int | None
    action: str  # declared / joined / unchanged / resolved / ignored


def receive(*, baton: Baton, body: bytes) -> Outcome:
    """Act on one notification's body (BadPayload for anything not a v4 notification)."""
    return act(baton=baton, n=parse(body))


def _cut_note(n: Notification) -> str:
    """How many of the group's alerts the notification did not carry, or Baton did not read:
    said wherever the alerts are counted, so nobody takes the count for the whole group."""
    if not n.cut:
        return ""
    why = []
    if n.truncatedAlerts > 0:
        why.append(f"Alertmanager left out {n.truncatedAlerts} (max_alerts)")
    if n._cut:
        why.append(f"Baton read the first {len(n.alerts)} of the notification's {len(n.alerts) + n._cut}")
    return f"; {n.cut} more alert(s) of the group not read ({', '.join(why)})"


def act(*, baton: Baton, n: Notification) -> Outcome:
    """Act on one notification: declare or join the group's incident, note new alerts, queue
    their evidence, or post the resolution; count the alerts it did not carry."""
    if n.truncatedAlerts > 0:
        baton.metrics.alerts_cut.labels(by="alertmanager").inc(n.truncatedAlerts)
    if n._cut:
        baton.metrics.alerts_cut.labels(by="baton").inc(n._cut)
    if n.status == "resolved":
        return _resolved(baton, n)
    where = target(baton, n)
    firing = {_fingerprint(a): a for a in n.alerts if a.status == "firing"}
    now = baton.clock.now()
    with session(baton.engine) as s:
        joined = join_or_declare(
            s,
            baton=baton,
            source=SOURCE,
            key=n.groupKey,
            level=where.level,
            area=where.area,
            title=_title(n),
            reporter=SOURCE,
        )
        inc = joined.incident
        assert inc.id is not None
        before = set(joined.link.state.get("firing", []))
        new = [fp for fp in firing if fp not in before]
        joined.link.state = {**joined.link.state, "firing": sorted(before | set(firing))}
        joined.link.updated_at = now
        s.add(joined.link)
        if joined.declared:
            notes = f" ({'; '.join(where.notes)})" if where.notes else ""
            paging.timeline(
                s,
                inc.id,
                at=now,
                actor=SOURCE,
                kind="alerts",
                text=f"{len(firing)} alert(s) firing in group {_shown(n.groupKey)}{notes}{_cut_note(n)}",
                group=_shown(n.groupKey),
                fingerprints=len(firing),
                cut=n.cut,
            )
            if n.cut:  # the opening message counts what was read: the channel hears the rest
                said = f"{len(firing)} alert(s) firing{_cut_note(n)}"
                rooms.post(s, inc, now=now, text=f":rotating_light: Alertmanager: {escape(said)}")
        elif new:
            names = _names([firing[fp] for fp in new])
            text = f"{len(new)} more alert(s) firing: {clip(names, 200)}{_cut_note(n)}"
            paging.timeline(
                s, inc.id, at=now, actor=SOURCE, kind="alerts", text=text, group=_shown(n.groupKey)
            )
            rooms.post(s, inc, now=now, text=f":rotating_light: Alertmanager: {escape(text)}")
        if new:
            _queue_evidence(s, inc, [firing[fp] for fp in new], n, now)
        s.commit()
    baton.wake()
    action = "declared" if joined.declared else ("joined" if new else "unchanged")
    return Outcome(inc.id, action)


def _resolved(baton: Baton, n: Notification) -> Outcome:
    """Every alert of the group resolved: a status update on its open incident, if any."""
    with session(baton.engine) as s:
        joined_open = _open_incident(s, n.groupKey)
    if joined_open is None:
        return Outcome(None, "ignored")
    names = clip(_names(n.alerts), 200)
    set_status(
        baton=baton,
        number=joined_open,
        text=f"resolved ({len(n.alerts) + n.cut} alert(s): {names}{', …' if n.cut else ''})",
        user=SOURCE,
    )
    with session(baton.engine) as s:
        link = lock_link(s, source=SOURCE, key=n.groupKey, baton=baton)
        link.state = {**link.state, "firing": []}
        s.add(link)
        s.commit()
    return Outcome(joined_open, "resolved")


def _open_incident(s: Session, group: str) -> int | None:
    inc = open_incident(s, source=SOURCE, key=group)
    return inc.id if inc is not None else None


def _queue_evidence(s: Session, inc: Incident, alerts: list[Alert], n: Notification, now: datetime) -> None:
    """Distinct annotation sets of the new alerts, kept as evidence by a job after the answer."""
    items: dict[str, dict[str, str]] = {}
    for alert in alerts:
        # Masked and unlinked before the job row stores them: the queue is storage too.
        summary = kept(alert.annotations.get("summary") or n.commonAnnotations.get("summary") or "")
        description = kept(
            alert.annotations.get("description") or n.commonAnnotations.get("description") or ""
        )
        url = kept(alert.generatorURL) if _URL.match(alert.generatorURL) else ""
        key = hashlib.sha256(f"{summary}\0{description}\0{url}".encode()).hexdigest()[:32]
        if (summary or description or url) and key not in items:
            items[key] = {"summary": summary, "description": description, "url": url}
        if len(items) >= EVIDENCE_PER_NOTIFICATION:
            break
    if items:
        AlertEvidencePayload(items=items).enqueue(s, incident_id=inc.id, due_at=now, now=now)


class AlertEvidencePayload(Payload):
    """An alert's annotation sets to keep as evidence, by digest (the same one only once)."""

    KIND = "alert_evidence"
    items: dict[str, dict[str, str]] = {}


def run_alert_evidence(baton: Baton, job: Job, payload: AlertEvidencePayload) -> None:
    """Keep each queued annotation set as evidence (masked; the same one only once)."""
    assert job.incident_id is not None
    for key, item in payload.items.items():
        text = "\n".join(p for p in (item.get("summary"), item.get("description")) if p) or item.get(
            "url", ""
        )
        evidence.add(
            baton=baton,
            number=job.incident_id,
            author=SOURCE,
            text=kept(text),  # again: a job queued before this treatment carries the raw text
            link=kept(item["url"]) if item.get("url") else None,
            source_channel=SOURCE,
            source_ts=key,
            kind="alert",
        )


ALERT_EVIDENCE = JobKind(AlertEvidencePayload, run_alert_evidence)
HANDLERS = registry(ALERT_EVIDENCE)
