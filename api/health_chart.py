"""Bar charts for the health pages as SVG geometry (the templates draw them: no script, no CDN).

The staff source and unit pages show items per week and the monthly score trend with it
(api/routes/staff_health_pages.py), each with a data table beside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float | None


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart's geometry in SVG user units (the template draws it)."""

    width: int
    height: int
    top: float  # the value at the top of the plot area
    bars: list[Bar]
    baseline: float  # y of the zero line
    left: float  # x where the plot area starts (room for the axis labels)

    @property
    def total(self) -> float:
        """The sum of the values."""
        return sum(bar.value or 0 for bar in self.bars)

    @property
    def peak(self) -> float:
        """The largest value (0 without any)."""
        return max((bar.value for bar in self.bars if bar.value is not None), default=0)


def bar_chart(
    points: list[tuple[str, float | None]], top: float | None = None, width: int = 480, height: int = 180
) -> Chart:
    """Bars for ``points`` (label, value; None draws no bar) scaled to ``top`` (default: the largest)."""
    left, bottom, right, up = 40.0, 26.0, 8.0, 16.0
    largest = max((value for _, value in points if value is not None), default=0.0)
    scale_top = float(top if top is not None else max(largest, 1.0))
    plot_w, plot_h = width - left - right, height - bottom - up
    slot = plot_w / max(len(points), 1)
    bars = []
    for n, (label, value) in enumerate(points):
        bar_h = 0.0 if value is None else plot_h * min(value, scale_top) / scale_top
        bars.append(
            Bar(
                x=round(left + n * slot + slot * 0.15, 1),
                y=round(up + plot_h - bar_h, 1),
                width=round(slot * 0.7, 1),
                height=round(bar_h, 1),
                label=label,
                value=value,
            )
        )
    return Chart(width, height, scale_top, bars, up + plot_h, left)
