"""The one error type for what a person asked: bad input or a refusal, said for that person.

Every service raises a `Refused` (or a subclass: a domain's error, bot/access's NotAllowed) whose
message says what was wrong and what would be right, and changes nothing before it does; every
surface shows the message as it is (Slack as a warning, the command line on stderr).
"""

from __future__ import annotations


class Refused(Exception):
    """Bad input or a refusal; the message says what would be right. Nothing was changed."""
