"""Charts drawn on the server as SVG: no chart library in the browser, no script, no inline style.

Each chart is a picture of numbers the page also shows in a table (for screen readers and for
copying), so the SVG is ``aria-hidden`` and carries only shapes and short labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 44, 28, 12
BAR_LEFT, LABEL_CHARS = 250, 34  # a bar chart's labels: 34 characters fit in 250 units at 12 px


@dataclass(frozen=True)
class Line:
    name: str  # the CSS class that colours it, and the legend's text
    label: str
    values: Sequence[int]


def daily_lines(days: Sequence[str], lines: Sequence[Line]) -> Markup:
    """One line per series over the days (a day's label under every few points)."""
    peak = max((value for line in lines for value in line.values), default=0) or 1
    plot_width, plot_height = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = plot_width / max(len(days) - 1, 1)

    def point(index: int, value: int) -> str:
        return f"{LEFT + index * step:.1f},{TOP + plot_height - value / peak * plot_height:.1f}"

    parts = [_axis(peak, plot_height)]
    every = max(len(days) // 6, 1)
    for index, day in enumerate(days):
        if index % every == 0 or index == len(days) - 1:
            anchor = "end" if index == len(days) - 1 and index else "start"  # the last label ends at its point
            x = LEFT + index * step
            parts.append(
                f'<text class="chart-tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{escape(day[5:])}</text>'
            )
    for line in lines:  # the legend is the figure's caption, in HTML
        if len(line.values) == 1:  # one day: a dot, as a line needs two points
            y = point(0, line.values[0]).split(",")[1]
            parts.append(f'<circle class="chart-{line.name}" cx="{LEFT}" cy="{y}" r="4"/>')
        else:
            points = " ".join(point(index, value) for index, value in enumerate(line.values))
            parts.append(f'<polyline class="chart-line chart-{line.name}" points="{points}"/>')
    return _svg(parts)


def _axis(peak: int, plot_height: float) -> str:
    return (
        f'<line class="chart-axis" x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - 8}" y2="{TOP + plot_height}"/>'
        f'<text class="chart-tick" x="4" y="{TOP + 10}">{peak}</text>'
        f'<text class="chart-tick" x="4" y="{TOP + plot_height}">0</text>'
    )


def bars(rows: Sequence[tuple[str, float]]) -> Markup:
    """Horizontal bars of shares (0 to 1), one per row, labelled with the row's text and its percentage."""
    height = 26 * len(rows) + 8
    parts = []
    for index, (label, value) in enumerate(rows):
        y = 4 + index * 26
        width = max(value, 0) * (WIDTH - BAR_LEFT - 60)
        shown = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"  # the table has it whole
        parts.append(f'<text class="chart-label" x="0" y="{y + 16}">{escape(shown)}</text>')
        parts.append(f'<rect class="chart-bar" x="{BAR_LEFT}" y="{y + 3}" width="{width:.1f}" height="18"/>')
        parts.append(f'<text class="chart-tick" x="{BAR_LEFT + 6 + width:.1f}" y="{y + 16}">{value * 100:.0f}%</text>')
    return _svg(parts, height=height)


def _svg(parts: Sequence[str], *, height: int = HEIGHT) -> Markup:
    # Safe to mark: every text that came from data went through escape() above.
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" aria-hidden="true" focusable="false"'
        f' xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
