"""Fixtures shared by the handler tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.standin import FakeSlack
from tests.conftest import FAST_SEVERITY, SHIPPED_OWNERSHIP, RunningBaton, start_baton


@pytest.fixture
def editable(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[RunningBaton, Path]]:
    """A running Baton (6 s windows) on a copy of the shipped ownership.yaml that tests edit."""
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    rb = start_baton(
        fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership), BATON_SEVERITY_FILE=str(FAST_SEVERITY)
    )
    yield rb, ownership
    rb.stop()
