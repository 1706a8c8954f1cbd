"""`baton demo` as a user starts it: a child process, its URL read from its first line."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import BATON, ROOT, clean_env, free_port

# A loaded 2-core machine took over 20 s to start `baton serve` on a fresh schema (conftest.serve).
START = 180.0


@dataclass
class DemoRun:
    proc: subprocess.Popen[str]
    port: int
    url: str = ""
    out: list[str] = field(default_factory=list)  # stdout and stderr lines, as they came
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def line_with(self, text: str, timeout: float = START) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"baton demo exited {self.proc.wait()}: {''.join(self.out)}")
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r} from baton demo: {''.join(self.out)}")

    def api(self, path: str, data: dict[str, object]) -> httpx.Response:
        """POST to the page's API as the page does (its Origin, JSON)."""
        return httpx.post(
            f"{self.url}{path}", json=data, headers={"Origin": self.url.rstrip("/")}, timeout=30
        )

    def state(self) -> dict[str, object]:
        resp = httpx.get(f"{self.url}state", timeout=10)
        assert resp.status_code == 200
        return dict(resp.json())

    def child_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        try:
            return self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("baton demo did not stop in 90 s: " + "".join(self.out[-30:])) from None


def start_demo(
    args: Sequence[str] = (), *, port: int | None = None, env: dict[str, str] | None = None
) -> DemoRun:
    port = port or free_port()
    full_env = {**clean_env(), **(env or {})}
    proc = subprocess.Popen(
        [BATON, "demo", "--no-browser", "--port", str(port), *args],
        env=full_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives a foreground command
    )
    run = DemoRun(proc, port)
    threading.Thread(target=run.read, daemon=True).start()
    return run


@pytest.fixture
def demo() -> Iterator[DemoRun]:
    run = start_demo(["--speed", "180"])
    run.url = run.line_with("Baton demo: http").split()[2]
    yield run
    run.stop()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone but for its exit status (its parent was killed before reaping it).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z")
