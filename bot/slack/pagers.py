"""External pagers: PagerDuty Events API v2 and a generic JSON webhook, through httpx.

A send either succeeds or raises PagerError saying whether a retry can help. Retries are not
done here: the job queue (bot/store/jobs.py) keeps the attempt as a row and tries again later, so a
pager that is down never holds up Slack pages and a restart does not forget the retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from bot.config.models import Team
from bot.text.mrkdwn import escape
from bot.text.outside import excerpt

if TYPE_CHECKING:
    import httpx  # loaded when a pager is first used: an idle Baton does without it

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# P0–P3 map to PagerDuty's critical/error/warning/info.
PD_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
ANSWER = 200  # characters of a pager's refusal (or redirect) quoted in the error people see

Action = Literal["trigger", "acknowledge", "resolve"]

# One event, sent and answered, start to finish (bot/slack/outbound.py): a pager that dribbles
# its answer holds the job no longer than this.
TIMEOUT = 10.0


@dataclass(frozen=True)
class PagerEvent:
    action: Action
    incident: int
    severity: str
    area: str
    title: str
    channel_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"baton-incident-{self.incident}"


class PagerError(Exception):
    """A pager event that did not go through; `after` is the pager's Retry-After, if it gave one."""

    def __init__(self, pager: str, message: str, retryable: bool, after: timedelta | None = None):
        super().__init__(pager, message)
        self.pager, self.message, self.retryable, self.after = pager, message, retryable, after

    def __str__(self) -> str:
        return f"{self.pager}: {self.message}"


class Pager(Protocol):
    name: str

    def send(self, event: PagerEvent) -> None: ...


def _post(name: str, client: httpx.Client, url: str, body: dict[str, Any]) -> httpx.Response:
    import httpx

    try:
        resp = client.post(url, json=body)
    except httpx.HTTPError as e:  # network trouble: always worth another try
        raise PagerError(name, f"network error: {type(e).__name__}", retryable=True) from None
    if resp.status_code == 429 or resp.status_code >= 500:
        retry_after = resp.headers.get("Retry-After", "")
        after = timedelta(seconds=int(retry_after)) if retry_after.isdigit() else None
        raise PagerError(name, f"HTTP {resp.status_code}", retryable=True, after=after)
    if resp.status_code >= 400:
        # A 4xx (bad routing key, bad payload) will fail the same way every time.
        raise PagerError(name, f"HTTP {resp.status_code}: {_quoted(resp.text)}", retryable=False)
    if not resp.is_success:
        # A 3xx: httpx does not follow redirects, so the event went nowhere. Configure the final URL.
        where = resp.headers.get("location")
        said = _quoted(where) if where else "no Location"
        raise PagerError(name, f"HTTP {resp.status_code}: redirected to {said}", retryable=False)
    return resp


def _quoted(answer: str) -> str:
    """What the pager said, for the error that is stored and posted as it is (the job's error,
    the timeline, the channel's report): masked, mentioning nobody, clipped and escaped."""
    return escape(excerpt(answer, ANSWER))


@dataclass
class PagerDuty:
    routing_key: str
    client: httpx.Client
    url: str = PAGERDUTY_URL
    name: str = "PagerDuty"

    def send(self, event: PagerEvent) -> None:
        body: dict[str, Any] = {
            "routing_key": self.routing_key,
            "event_action": event.action,
            "dedup_key": event.dedup_key,
        }
        if event.action == "trigger":
            body["payload"] = {
                "summary": f"[{event.severity}] {event.title} ({event.area})"[:1024],
                "source": "baton",
                "severity": PD_SEVERITY.get(event.severity, "error"),
                "component": event.area,
                "custom_details": {"incident": event.incident, **event.details},
            }
            if event.channel_url:
                body["links"] = [{"href": event.channel_url, "text": "Incident channel"}]
        _post(self.name, self.client, self.url, body)


@dataclass
class Webhook:
    url: str
    client: httpx.Client
    name: str = "webhook"

    def send(self, event: PagerEvent) -> None:
        _post(
            self.name,
            self.client,
            self.url,
            {
                "event": event.action,
                "incident": event.incident,
                "dedup_key": event.dedup_key,
                "severity": event.severity,
                "area": event.area,
                "title": event.title,
                "channel_url": event.channel_url,
                "details": event.details,
            },
        )


def client() -> httpx.Client:
    """The client events are sent with: each ends within TIMEOUT, whatever the pager does."""
    from bot.slack import outbound

    return outbound.client(total=TIMEOUT)


def configured(team: Team | None) -> list[str]:
    """Names of the pagers a team has: 'pagerduty', 'webhook'."""
    if team is None or team.pager is None:
        return []
    return [name for name in ("pagerduty", "webhook") if getattr(team.pager, name) is not None]


def pagers_for(team: Team | None, client: httpx.Client) -> dict[str, Pager]:
    """The team's configured pagers by name ('pagerduty', 'webhook')."""
    out: dict[str, Pager] = {}
    if team is None or team.pager is None:
        return out
    if team.pager.pagerduty is not None:
        pd = team.pager.pagerduty
        out["pagerduty"] = PagerDuty(
            routing_key=pd.routing_key, client=client, url=str(pd.url or PAGERDUTY_URL)
        )
    if team.pager.webhook is not None:
        out["webhook"] = Webhook(url=str(team.pager.webhook.url), client=client)
    return out
