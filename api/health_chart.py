"""Bar charts for the health pages as SVG geometry (the templates draw them: no script, no CDN).

The staff source and unit pages show items per week and the monthly score trend with it
(api/routes/staff_health_pages.py), each with a data table beside the chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Axis labels in SVG user units. The chart is drawn as wide as its viewBox at most (staff.css), so a
# label is never shown larger than this.
TICK_FONT = 12
_CHAR_WIDTH = 0.62  # of the font size: "04-27" and digits; Chinese months are wider, see _label_width
_TICK_GAP = 8
MAX_BAR_WIDTH = 48  # a chart of a few months keeps bars, not slabs across the plot


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float | None
    ticked: bool = False  # its label is drawn under the axis (others only in the table and tooltip)
    label_x: float = 0.0  # the label's centre: under the bar, moved in where it would leave the chart


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart's geometry in SVG user units (the template draws it)."""

    width: int
    height: int
    top: float  # the value at the top of the plot area
    bars: list[Bar]
    baseline: float  # y of the zero line
    left: float  # x where the plot area starts (room for the axis labels)
    tick_font: int = TICK_FONT

    @property
    def total(self) -> float:
        """The sum of the values."""
        return sum(bar.value or 0 for bar in self.bars)

    @property
    def peak(self) -> float:
        """The largest value (0 without any)."""
        return max((bar.value for bar in self.bars if bar.value is not None), default=0)


def _label_width(label: str) -> float:
    return sum(TICK_FONT * (1.0 if ord(char) > 0x2E7F else _CHAR_WIDTH) for char in label)


def _tick_step(labels: list[str], slot: float) -> int:
    """Label every n-th bar, n the fewest bars a label needs so neighbouring labels never overlap."""
    widest = max((_label_width(label) for label in labels), default=0.0)
    return max(1, math.ceil((widest + _TICK_GAP) / slot))


def _ticked(index: int, count: int, step: int) -> bool:
    """The first and the last bar are labelled, and every ``step``-th one far enough from the last."""
    return index == count - 1 or (index % step == 0 and count - 1 - index >= step)


def bar_chart(
    points: list[tuple[str, float | None]], top: float | None = None, width: int = 640, height: int = 180
) -> Chart:
    """Bars for ``points`` (label, value; None draws no bar) scaled to ``top`` (default: the largest)."""
    left, bottom, right, up = 40.0, 26.0, 8.0, 16.0
    largest = max((value for _, value in points if value is not None), default=0.0)
    scale_top = float(top if top is not None else max(largest, 1.0))
    plot_w, plot_h = width - left - right, height - bottom - up
    slot = plot_w / max(len(points), 1)
    step = _tick_step([label for label, _ in points], slot)
    bars = []
    for n, (label, value) in enumerate(points):
        bar_h = 0.0 if value is None else plot_h * min(value, scale_top) / scale_top
        half_label = _label_width(label) / 2
        centre = left + n * slot + slot / 2
        bar_w = min(slot * 0.7, MAX_BAR_WIDTH)
        bars.append(
            Bar(
                x=round(centre - bar_w / 2, 1),
                y=round(up + plot_h - bar_h, 1),
                width=round(bar_w, 1),
                height=round(bar_h, 1),
                label=label,
                value=value,
                ticked=_ticked(n, len(points), step),
                label_x=round(min(max(centre, half_label + 1), width - half_label - 1), 1),
            )
        )
    return Chart(width, height, scale_top, bars, up + plot_h, left)
