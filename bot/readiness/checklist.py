"""The two readiness checklists (docs/readiness.md) and an area's state against them.

The organization checklist (11 items) says whether the team has settled what an AI feature
needs before it ships; the production checklist (6) whether it is a product or "still an
experiment" (three or more open). Some items ownership.yaml itself proves (the area has R and
A, one accountable, SLO queries, a runbook): Baton ticks those and says so; nobody can untick
them. The rest are ticked by people, stored as ReadinessTick rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.config.loader import Config
from bot.store.models import ReadinessTick

ORGANIZATION = "organization"
PRODUCTION = "production"


@dataclass(frozen=True)
class Item:
    key: str
    checklist: str  # ORGANIZATION or PRODUCTION
    title: str


ITEMS: tuple[Item, ...] = (
    Item("stakeholders-approved", ORGANIZATION, "Stakeholders approved"),
    Item("failure-rate-agreed", ORGANIZATION, "Acceptable failure rate agreed"),
    Item("raci-defined", ORGANIZATION, "RACI defined"),
    Item("incident-owner", ORGANIZATION, "Incident owner clear"),
    Item("data-classified", ORGANIZATION, "Data classified"),
    Item("pii-policy", ORGANIZATION, "PII policy"),
    Item("slos-defined", ORGANIZATION, "SLOs defined"),
    Item("dashboard", ORGANIZATION, "Dashboard"),
    Item("rollback", ORGANIZATION, "Rollback procedure"),
    Item("runbook", ORGANIZATION, "Incident runbook"),
    Item("feedback-loop", ORGANIZATION, "Feedback collection"),
    Item("business-metric", PRODUCTION, "Business metric"),
    Item("data-access", PRODUCTION, "Data access"),
    Item("workflow-fit", PRODUCTION, "Workflow fit"),
    Item("one-owner", PRODUCTION, "One owner"),
    Item("monitoring", PRODUCTION, "Monitoring"),
    Item("rollout-plan", PRODUCTION, "Rollout plan"),
)
BY_KEY: dict[str, Item] = {item.key: item for item in ITEMS}
KEYS: tuple[str, ...] = tuple(BY_KEY)
# Three or more open production checkpoints: the area is still an experiment.
EXPERIMENT_AT = 3


def proven(config: Config, area: str) -> dict[str, str]:
    """Items ownership.yaml proves for `area`, each with the reason Baton shows."""
    cfg = config.ownership.areas[area]
    found = {
        # The schema refuses an area without R and exactly one A, so these always hold.
        "raci-defined": "ownership.yaml names its R and A",
        "incident-owner": "ownership.yaml names who is paged (R) and who owns the outcome (A)",
        "one-owner": "ownership.yaml names exactly one accountable person",
    }
    if cfg.slo_queries:
        found["slos-defined"] = f"ownership.yaml has slo_queries ({', '.join(sorted(cfg.slo_queries))})"
    if cfg.runbook:
        found["runbook"] = f"ownership.yaml links the runbook ({cfg.runbook})"
    return found


@dataclass(frozen=True)
class ItemState:
    item: Item
    proven: str | None  # why the config proves it, when it does
    ticked_by: str | None  # a Slack user ID, when a person ticked it
    ticked_at: datetime | None
    link: str | None

    @property
    def done(self) -> bool:
        return self.proven is not None or self.ticked_by is not None


@dataclass(frozen=True)
class Readiness:
    """One area against both checklists."""

    area: str
    items: tuple[ItemState, ...]

    def of(self, checklist: str) -> list[ItemState]:
        return [state for state in self.items if state.item.checklist == checklist]

    def score(self, checklist: str) -> int:
        return sum(state.done for state in self.of(checklist))

    @property
    def organization(self) -> int:
        """Out of 11."""
        return self.score(ORGANIZATION)

    @property
    def production(self) -> int:
        """Out of 6."""
        return self.score(PRODUCTION)

    @property
    def open_items(self) -> list[ItemState]:
        return [state for state in self.items if not state.done]

    @property
    def experiment(self) -> bool:
        """Three or more production checkpoints still open."""
        return len(self.of(PRODUCTION)) - self.production >= EXPERIMENT_AT

    def summary(self) -> str:
        """ "organization 7/11 · production 4/6" (+ " · still an experiment")."""
        text = (
            f"organization {self.organization}/{len(self.of(ORGANIZATION))} · "
            f"production {self.production}/{len(self.of(PRODUCTION))}"
        )
        return text + (" · still an experiment" if self.experiment else "")


def readiness(config: Config, s: Session, area: str) -> Readiness:
    """`area` (a key of the config) against both checklists, from the config and stored ticks."""
    return readiness_of(config, s, [area])[area]


def readiness_of(config: Config, s: Session, areas: Iterable[str]) -> dict[str, Readiness]:
    """Several areas at once (one query), keyed by area."""
    wanted = list(areas)
    ticks: dict[tuple[str, str], ReadinessTick] = {
        (t.area, t.item): t
        for t in s.exec(select(ReadinessTick).where(col(ReadinessTick.area).in_(wanted))).all()
    }
    out = {}
    for area in wanted:
        why = proven(config, area)
        states = []
        for item in ITEMS:
            tick = None if item.key in why else ticks.get((area, item.key))
            states.append(
                ItemState(
                    item=item,
                    proven=why.get(item.key),
                    ticked_by=tick.ticked_by if tick else None,
                    ticked_at=tick.ticked_at if tick else None,
                    link=tick.link if tick else None,
                )
            )
        out[area] = Readiness(area=area, items=tuple(states))
    return out
