"""How long the response window's picture takes to paint, and whether its text comes out
without system fonts: Pillow (what bot/records/picture.py uses) against resvg-py rendering the
same SVG.

The window is made in memory (no database): 2, 8 and 40 people paged at three steps, acknowledged
late, breached. For each size it prints the median of N runs of `picture.svg`, `picture.png`
(Pillow, scale 2), and, when resvg-py is installed (it is not a dependency:
`pip install resvg-py` in a scratch venv), resvg-py with the machine's fonts and with
`skip_system_fonts=True` (what a slim image without fonts has). "text drawn" compares the
render with the render of the same SVG with every <text> removed: "no" means the labels are
missing from the picture.

Run: ``.venv/bin/python bench/picture.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.records import picture  # noqa: E402
from bot.records.window import Ack, Mark, Person, ResponseWindow, StepTime  # noqa: E402


def window(people: int) -> ResponseWindow:
    marks = (Mark(0, 0, False), Mark(1800, 1, False), Mark(3600, 2, True))
    crowd = tuple(Person(f"U{i:08d}", f"person-{i}", marks[(0 if i < 3 else 1) :]) for i in range(people))
    return ResponseWindow(
        number=12,
        title="Hallucination spike on checkout",
        severity="P1",
        area="model-quality",
        state="acknowledged",
        drill=True,
        started_at=datetime(2026, 11, 22, 9, tzinfo=UTC),
        window=3600,
        steps=(StepTime(0, 0, False, "0"), StepTime(1, 1800, False, "T/2"), StepTime(2, 3600, True, "T")),
        people=crowd,
        ack=Ack(crowd[0].user, crowd[0].name, 3900, False),
        breached=True,
        breached_second=3600,
        summary=(),
    )


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: imports, the font's first load
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    try:
        import resvg_py  # type: ignore[import-not-found]
    except ImportError:
        resvg_py = None
    print("people | svg ms | Pillow png ms | resvg ms | resvg no-sys-fonts ms | text drawn (sys / none)")
    for n in (2, 8, 40):
        w = window(n)
        svg = picture.svg(w)
        bare = re.sub(r"<text[^>]*>.*?</text>", "", svg)
        svg_ms = median_ms(lambda w=w: picture.svg(w), args.runs)
        png_ms = median_ms(lambda w=w: picture.png(w), args.runs)
        if resvg_py is None:
            print(f"{n:>6} | {svg_ms:6.2f} | {png_ms:13.2f} | {'-':>8} | {'-':>21} | resvg-py not installed")
            continue

        def render(text: str, skip: bool) -> bytes:
            return bytes(resvg_py.svg_to_bytes(svg_string=text, zoom=2, skip_system_fonts=skip))

        sys_ms = median_ms(lambda svg=svg: render(svg, False), args.runs)
        none_ms = median_ms(lambda svg=svg: render(svg, True), args.runs)
        drawn = ["yes" if render(svg, skip) != render(bare, skip) else "no" for skip in (False, True)]
        times = f"{svg_ms:6.2f} | {png_ms:13.2f} | {sys_ms:8.2f} | {none_ms:21.2f}"
        print(f"{n:>6} | {times} | {drawn[0]} / {drawn[1]}")


if __name__ == "__main__":
    main()
