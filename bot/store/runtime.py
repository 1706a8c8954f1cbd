"""The running Baton: settings, current config, database, Slack port and clock, in one place.

Listeners reach it through Bolt's context (see handlers/app.py); services take what they need
from it as plain arguments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.config.issues import ConfigError
from bot.config.loader import Config, load_config
from bot.config.ownership import Ownership
from bot.config.rotation import Window
from bot.slack.chat import Chat
from bot.store.clock import Clock, SystemClock
from bot.store.db import session, warn_if_in_transaction
from bot.store.metrics import Metrics
from bot.store.models import Incident, OncallOverride, OwnerOverride
from bot.store.people import resolve_emails
from bot.store.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Baton:
    settings: Settings
    config: Config
    engine: Engine
    chat: Chat
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    emails: dict[str, str] = field(default_factory=dict)
    # Roles handed over in Slack and countersigned (role key -> ref), read from the database.
    overrides: dict[str, str] = field(default_factory=dict)
    # On-call overrides added in Slack (`/owner oncall`) not yet ended, per team, oldest first.
    oncall_windows: dict[str, list[Window]] = field(default_factory=dict)
    # Set by the runner: makes the ticker look for due jobs now, right after a commit.
    wake: Callable[[], None] = field(default=lambda: None, repr=False)
    # Set by the runner: what a new config sets off (handoff receipts for edited roles).
    on_config: Callable[[], object] = field(default=lambda: None, repr=False)
    # Set at boot (bot/app/runner.py): what else ends with an incident, in the transaction that
    # resolves it (its action requests: bot/actions/ending.py). A hook, because the domains
    # above incidents/ hold what ends; incidents/ imports none of them.
    on_resolve: Callable[[Session, Incident, datetime], None] = field(
        default=lambda s, inc, now: None, repr=False
    )
    # Incident number -> whether it is a drill (fixed at declaration; bot/store/delivery.py).
    drills: dict[int, bool] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ownership: Ownership | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.chat.before_call = warn_if_in_transaction

    @property
    def ownership(self) -> Ownership:
        with self._lock:
            if self._ownership is None:
                self._ownership = Ownership(
                    self.config.ownership,
                    emails=self.emails,
                    overrides=self.overrides,
                    oncall_windows=self.oncall_windows,
                    now=self.clock.now,
                )
            return self._ownership

    def ownership_in(self, s: Session) -> Ownership:
        """The ownership as the database says it now, read in the caller's transaction (which
        holds the role's lock when it is about to change a holder): what `ownership` says may
        be a few seconds older, when another replica handed a role over meanwhile."""
        found, windows = read_holders(s, self.clock.now())
        return Ownership(
            self.config.ownership,
            emails=self.emails,
            overrides=found,
            oncall_windows=windows,
            now=self.clock.now,
        )

    def resolve_people(self) -> None:
        emails = Ownership(self.config.ownership).emails()
        resolved = resolve_emails(emails=emails, chat=self.chat, engine=self.engine, clock=self.clock)
        with self._lock:
            self.emails = resolved
            self._ownership = None

    def reload(self) -> ConfigError | None:
        """Re-read both YAML files; a bad file leaves the running config in place."""
        try:
            config = load_config(
                ownership_path=self.settings.ownership_file, severity_path=self.settings.severity_file
            )
        except ConfigError as e:
            log.error("config reload refused, keeping the running config:\n%s", e)
            self.metrics.config_reloads.labels(result="refused").inc()
            return e
        with self._lock:
            self.config = config
            self._ownership = None
        self.resolve_people()
        self.metrics.config_reloads.labels(result="ok").inc()
        log.info("config reloaded from %s and %s", config.ownership_path, config.severity_path)
        self.on_config()
        return None

    def refresh_overrides(self) -> None:
        """Read the roles handed over in Slack (countersigned) from the database: on start, after
        a countersignature here, and every few seconds for those signed on another replica."""
        now = self.clock.now()
        with session(self.engine) as s:
            found, windows = read_holders(s, now)
        with self._lock:
            if found != self.overrides or windows != self.oncall_windows:
                self.overrides = found
                self.oncall_windows = windows
                self._ownership = None


def read_holders(s: Session, now: datetime) -> tuple[dict[str, str], dict[str, list[Window]]]:
    """The roles handed over in Slack (role key -> ref) and the on-call overrides not yet ended
    (per team, oldest first), as the database holds them."""
    found = {row.key: row.ref for row in s.exec(select(OwnerOverride)).all()}
    rows = s.exec(
        select(OncallOverride).where(OncallOverride.ends_at > now).order_by(OncallOverride.id)  # type: ignore[arg-type]
    ).all()
    windows: dict[str, list[Window]] = {}
    for row in rows:
        windows.setdefault(row.team, []).append(
            Window(row.who, row.starts_at, row.ends_at, f"override #{row.id}")
        )
    return found, windows
