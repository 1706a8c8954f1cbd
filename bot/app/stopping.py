"""How a process of Baton's learns it is to stop, from a signal handler, without a lock.

A signal handler runs on the main thread between two of its steps. One that takes a lock the
main thread holds at that moment waits for ever: `threading.Event.set()` in the handler while the
main thread is inside `Event.wait()` (which holds the Event's lock as it goes in and out of its
wait) did exactly that, now and then, and the process hung instead of stopping. `Stop` is set
with a plain attribute and waited for by polling, so a handler never waits for anything."""

from __future__ import annotations

import time

# How often a wait looks again: a stop is seen within this.
POLL = 0.05


class Stop:
    """Set by a signal (`signalled`) or by something else that ends the process (`ended`)."""

    def __init__(self) -> None:
        self.signalled = False
        self.ended = False

    def on_signal(self, *_: object) -> None:
        """A signal handler: sets the flag, nothing more."""
        self.signalled = True

    def is_set(self) -> bool:
        return self.signalled or self.ended

    def wait(self, seconds: float | None = None) -> bool:
        """Until it is set or `seconds` have passed; whether it is set."""
        end = None if seconds is None else time.monotonic() + seconds
        while not self.is_set() and (end is None or time.monotonic() < end):
            time.sleep(POLL)
        return self.is_set()
