"""The one error the incident services raise for people to read."""

from __future__ import annotations

from bot.text.errors import Refused


class IncidentError(Refused):
    """Bad input, a wrong moment or a refusal: the message says what was wrong and what would be
    right. Nothing was changed."""
