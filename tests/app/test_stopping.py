"""Stopping on a signal without a lock (bot/app/stopping.py): what left `baton demo` hanging
after Ctrl-C now and then was threading.Event.set() in the handler while the interrupted main
thread was inside Event.wait(), holding the Event's lock."""

from __future__ import annotations

import threading

import pytest

from bot.app import stopping
from bot.app.stopping import Stop


def test_a_signal_landing_inside_the_wait_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = Stop()
    landed: list[float] = []

    def sleep(seconds: float) -> None:  # the signal arrives while the main thread waits
        landed.append(seconds)
        stop.on_signal()

    monkeypatch.setattr(stopping.time, "sleep", sleep)
    assert stop.wait() is True
    assert landed == [stopping.POLL] and stop.signalled and not stop.ended


def test_the_handler_returns_whatever_lock_the_interrupted_thread_holds() -> None:
    stop = Stop()
    held = threading.Lock()  # a plain Lock, as inside Event.wait(): taking it again would never return
    with held:
        stop.on_signal()  # the handler runs on the thread that holds it
    assert stop.is_set()


def test_a_wait_with_a_time_ends_unset_and_another_thread_can_end_it() -> None:
    stop = Stop()
    assert stop.wait(0.01) is False
    threading.Thread(target=lambda: setattr(stop, "ended", True)).start()
    assert stop.wait() is True and stop.ended and not stop.signalled
