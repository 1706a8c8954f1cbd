"""The picture of a response window (bot/records/window.py): time across, one row per person
paged, their page marks, the acknowledgement, the ladder's T/2 and T lines, the breach shaded.

`layout(window)` places every shape once (coordinates, colours, labels); `svg()` and `png()`
paint that same layout, so the HTML export (`baton export --html`) and the PNG a drill's score
card uploads never disagree. The PNG is drawn with Pillow and its bundled font: no browser, no
system font or library (docs/records.md says why Pillow).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from html import escape
from typing import Literal

from bot.records.window import ResponseWindow, span

Anchor = Literal["start", "middle", "end"]

WIDTH = 880
LEFT = 170  # the names' column
RIGHT = 40
TOP = 100  # two header lines, the legend and the step labels
ROW = 30
BOTTOM = 44  # the time axis
TITLE_CHARS = 90  # a longer title is cut with "…"
NAME_CHARS = 22
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

INK, MUTED, GRID, BAND = "#1f2933", "#52606d", "#cbd2d9", "#f5f7fa"
PAGE, LATE_PAGE, ACK, BREACH, BREACH_FILL, STEP, DRILL = (
    "#2563eb",
    "#c2410c",
    "#15803d",
    "#b91c1c",
    "#fde8e8",
    "#7b8794",
    "#7c3aed",
)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 1.0
    dashed: bool = False


@dataclass(frozen=True)
class Dot:
    cx: float
    cy: float
    r: float
    fill: str
    ring: str | None = None  # an outline's colour


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the baseline
    text: str
    size: int = 12
    fill: str = INK
    anchor: Anchor = "start"
    bold: bool = False


Shape = Rect | Line | Dot | Label


@dataclass(frozen=True)
class Group:
    """Shapes painted together; `kind` and `user` become the SVG group's class and data-user."""

    kind: str  # frame / breach / steps / person / ack / axis
    shapes: tuple[Shape, ...]
    user: str | None = None


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    description: str  # one line: what the picture shows (the SVG's <title>, alt text)
    groups: tuple[Group, ...] = field(default_factory=tuple)


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _tick(end: float) -> float:
    """A round step for the time axis: at most 8 ticks."""
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200):
        if end / step <= 8:
            return step
    return 86400.0


def layout(w: ResponseWindow) -> Layout:
    """Every shape of the picture of `w`, placed once."""
    rows = max(1, len(w.people))
    height = TOP + rows * ROW + BOTTOM
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = TOP, TOP + rows * ROW
    end = w.end * 1.04

    def x(second: float) -> float:
        return round(x0 + (x1 - x0) * max(0.0, second) / end, 2)

    bands = [Rect(x0, y0 + i * ROW, x1 - x0, ROW, BAND if i % 2 == 0 else "#ffffff") for i in range(rows)]
    groups: list[Group] = [Group("frame", _header(w) + tuple(bands))]
    if w.breached and w.window:
        groups.append(Group("breach", (Rect(x(w.window), y0, x1 - x(w.window), y1 - y0, BREACH_FILL),)))
    steps: list[Shape] = []
    times = [(st.second, st.label) for st in w.steps]
    if w.window and all(st.second != w.window for st in w.steps):
        times.append((w.window, "T"))
    for second, label in times:
        colour = BREACH if label == "T" else STEP
        dashed = label != "T" and second > 0
        steps.append(Line(x(second), y0 - 6, x(second), y1, colour, 1.5 if label == "T" else 1, dashed))
        steps.append(Label(x(second), y0 - 10, label, 11, colour, "middle", bold=label == "T"))
    groups.append(Group("steps", tuple(steps)))
    for i, person in enumerate(w.people):
        cy = y0 + i * ROW + ROW / 2
        shapes: list[Shape] = [
            Label(x0 - 10, cy + 4, _cut(person.name, NAME_CHARS), 12, INK, "end"),
            Line(x0, cy, x1, cy, GRID),
        ]
        shapes += [Dot(x(m.second), cy, 5, LATE_PAGE if m.breach else PAGE) for m in person.marks]
        if w.ack is not None and w.ack.user == person.user:
            shapes.append(Dot(x(w.ack.second), cy, 7, "#ffffff", ACK))
        groups.append(Group("person", tuple(shapes), person.user))
    if not w.people:
        nobody = Label((x0 + x1) / 2, y0 + ROW / 2 + 4, "nobody was paged", 12, MUTED, "middle")
        groups.append(Group("frame", (nobody,)))
    if w.ack is not None:
        ax = x(w.ack.second)
        said = f"acknowledged {span(w.ack.second)}"
        right = ax + 4 + len(said) * 7 < WIDTH  # roughly 7 units a character at size 11
        ack_label = Label(
            ax + 4 if right else ax - 4, y1 + 36, said, 11, ACK, "start" if right else "end", bold=True
        )
        groups.append(Group("ack", (Line(ax, y0, ax, y1 + 26, ACK, 2), ack_label), w.ack.user))
    groups.append(Group("axis", _axis(end, x, x0, x1, y1)))
    return Layout(WIDTH, height, _describe(w), tuple(groups))


def _header(w: ResponseWindow) -> tuple[Shape, ...]:
    drill = "DRILL " if w.drill else ""
    head = _cut(f"{drill}#{w.number} {w.severity} {w.area}: {w.title}", TITLE_CHARS)
    shapes: list[Shape] = [
        Rect(0, 0, WIDTH, TOP + max(1, len(w.people)) * ROW + BOTTOM, "#ffffff"),
        Label(12, 22, head, 15, DRILL if w.drill else INK, bold=True),
        Label(12, 42, _verdict(w), 12, BREACH if w.breached else MUTED),
    ]
    # The legend, right-aligned on the second line.
    x = float(LEFT)
    for colour, ring, text in (
        (PAGE, None, "page"),
        (LATE_PAGE, None, "page at T (breach step)"),
        ("#ffffff", ACK, "acknowledged"),
    ):
        shapes += [Dot(x, 64, 5 if ring is None else 6, colour, ring), Label(x + 10, 68, text, 11, MUTED)]
        x += 26 + len(text) * 5.8
    return tuple(shapes)


def _verdict(w: ResponseWindow) -> str:
    if w.window is None:
        return "no response window (backlog: nobody is paged)"
    parts = [f"response window {span(w.window)}"]
    if w.ack is not None:
        inside = "inside" if w.ack.inside else "outside"
        parts.append(
            f"acknowledged by {_cut(w.ack.name, NAME_CHARS)} after {span(w.ack.second)}, {inside} it"
        )
    else:
        parts.append("not acknowledged")
    if w.breached:
        parts.append("BREACHED" + (f" at {span(w.breached_second)}" if w.breached_second is not None else ""))
    return " · ".join(parts)


def _axis(end: float, x: object, x0: float, x1: float, y1: float) -> tuple[Shape, ...]:
    assert callable(x)
    step = _tick(end)
    shapes: list[Shape] = [Line(x0, y1, x1, y1, MUTED)]
    t = 0.0
    while t <= end:
        shapes.append(Line(x(t), y1, x(t), y1 + 4, MUTED))
        shapes.append(Label(x(t), y1 + 17, span(t), 10, MUTED, "middle"))
        t += step
    return tuple(shapes)


def _describe(w: ResponseWindow) -> str:
    who = ", ".join(p.name for p in w.people) or "nobody"
    return f"Response window of #{w.number}: paged {who}; {_verdict(w)}"


# -- painters ---------------------------------------------------------------------------------


def _attrs(**values: object) -> str:
    return " ".join(f'{k.rstrip("_").replace("_", "-")}="{escape(str(v))}"' for k, v in values.items())


def _svg_shape(s: Shape) -> str:
    if isinstance(s, Rect):
        return f"<rect {_attrs(x=s.x, y=s.y, width=s.w, height=s.h, fill=s.fill)}/>"
    if isinstance(s, Line):
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        ends = _attrs(x1=s.x1, y1=s.y1, x2=s.x2, y2=s.y2, stroke=s.stroke, stroke_width=s.width)
        return f"<line {ends}{dash}/>"
    if isinstance(s, Dot):
        ring = f' stroke="{escape(s.ring)}" stroke-width="2.5"' if s.ring else ""
        return f"<circle {_attrs(cx=s.cx, cy=s.cy, r=s.r, fill=s.fill)}{ring}/>"
    weight = ' font-weight="bold"' if s.bold else ""
    return (
        f"<text {_attrs(x=s.x, y=s.y, font_size=s.size, fill=s.fill, text_anchor=s.anchor)}{weight}>"
        f"{escape(s.text)}</text>"
    )


def svg(w: ResponseWindow) -> str:
    """The picture as one self-contained SVG element (no external reference; all text escaped).
    Each paged person's row is a `<g class="person" data-user="U…">`."""
    lay = layout(w)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {_attrs(width=lay.width, height=lay.height)} '
        f'viewBox="0 0 {lay.width} {lay.height}" role="img" font-family="{escape(FONT)}">',
        f"<title>{escape(lay.description)}</title>",
    ]
    for g in lay.groups:
        user = f' data-user="{escape(g.user)}"' if g.user else ""
        out.append(f'<g class="{escape(g.kind)}"{user}>')
        out += [_svg_shape(s) for s in g.shapes]
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


@cache
def _font(size: int) -> object:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def png(w: ResponseWindow, *, scale: int = 2) -> bytes:
    """The picture as PNG bytes, `scale` pixels per layout unit (2: sharp on a retina screen)."""
    from PIL import Image, ImageDraw

    lay = layout(w)
    image = Image.new("RGB", (lay.width * scale, lay.height * scale), "#ffffff")
    draw = ImageDraw.Draw(image)
    anchors = {"start": "ls", "middle": "ms", "end": "rs"}

    def p(v: float) -> float:
        return v * scale

    for g in lay.groups:
        for s in g.shapes:
            if isinstance(s, Rect):
                draw.rectangle((p(s.x), p(s.y), p(s.x + s.w) - 1, p(s.y + s.h) - 1), fill=s.fill)
            elif isinstance(s, Line):
                _line(
                    draw,
                    (p(s.x1), p(s.y1), p(s.x2), p(s.y2)),
                    s.stroke,
                    max(1, round(s.width * scale)),
                    s.dashed,
                    scale,
                )
            elif isinstance(s, Dot):
                box = (p(s.cx - s.r), p(s.cy - s.r), p(s.cx + s.r), p(s.cy + s.r))
                draw.ellipse(box, fill=s.fill, outline=s.ring, width=round(2.5 * scale) if s.ring else 0)
            else:
                font = _font(s.size * scale)
                draw.text((p(s.x), p(s.y)), s.text, fill=s.fill, font=font, anchor=anchors[s.anchor])  # type: ignore[arg-type]
                if s.bold:  # the bundled font has no bold face: draw it twice, a pixel apart
                    draw.text((p(s.x) + 1, p(s.y)), s.text, fill=s.fill, font=font, anchor=anchors[s.anchor])  # type: ignore[arg-type]
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _line(
    draw: object, xy: tuple[float, float, float, float], colour: str, width: int, dashed: bool, scale: int
) -> None:
    from PIL import ImageDraw

    assert isinstance(draw, ImageDraw.ImageDraw)
    x1, y1, x2, y2 = xy
    if not dashed:
        draw.line(xy, fill=colour, width=width)
        return
    # Dashes of 4 on, 3 off, as the SVG's stroke-dasharray (vertical or horizontal lines only).
    length = max(abs(x2 - x1), abs(y2 - y1))
    on, off = 4 * scale, 3 * scale
    pos = 0.0
    while pos < length:
        a, b = pos / length, min(pos + on, length) / length
        draw.line(
            (x1 + (x2 - x1) * a, y1 + (y2 - y1) * a, x1 + (x2 - x1) * b, y1 + (y2 - y1) * b),
            fill=colour,
            width=width,
        )
        pos += on + off
