"""How every listener is wired: Slack is answered the moment the ack function returns.

The App runs with process_before_response=True, so Bolt sends the HTTP (or Socket Mode) answer
as soon as a listener's ack function returns, instead of on its listener runner's 10 ms poll
for ack(). The price is a rule: an ack function does only local work (parse, the database) and
acks with the answer; whatever calls Slack or the network (respond() to a response_url,
views.open, views.publish, Prometheus) goes in a lazy function, which Bolt starts on its
worker pool once the answer is on its way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.store.runtime import Baton

log = logging.getLogger(__name__)

Function = Callable[..., None]


class _Shared:
    """The Baton in a request's context. Bolt deep-copies the context for lazy functions; this
    hands the one Baton over instead (its engine, locks and ticker cannot be copied, nor should be)."""

    __slots__ = ("baton",)

    def __init__(self, baton: Baton) -> None:
        self.baton = baton

    def __deepcopy__(self, memo: dict[int, Any]) -> _Shared:
        return self


def provide(context: BoltContext, baton: Baton) -> None:
    context["baton"] = _Shared(baton)


def baton_of(context: BoltContext) -> Baton:
    shared: _Shared = context["baton"]
    return shared.baton


def just_ack(ack: Ack) -> None:
    """The ack function of listeners whose answer comes later (respond(), a modal, Home)."""
    ack()


def after_answer(func: Function) -> Function:
    """A lazy function that logs its failure with the traceback (Bolt would log one line)."""

    @functools.wraps(func)  # Bolt injects arguments by the wrapped function's parameter names
    def run(**kwargs: Any) -> None:
        try:
            func(**kwargs)
        except Exception:
            log.exception("%s failed after Slack had its answer", func.__name__)

    return run


@dataclass(frozen=True)
class Listener:
    """An ack function (answers Slack) and the lazy functions that run after the answer; when
    matchers are given, only for the requests they all accept."""

    ack: Function
    lazy: Sequence[Function] = ()
    matchers: Sequence[Callable[..., bool]] = ()

    def on(self, registrar: Callable[..., Callable[..., Any]], *key: Any) -> None:
        """Register on a Bolt registrar: `listener.on(app.command, "/incident")`."""
        add = registrar(*key, matchers=list(self.matchers) or None)
        add(ack=self.ack, lazy=[after_answer(f) for f in self.lazy])
