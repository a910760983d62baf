"""The health pages' bar charts: axis labels never overlap, however many weeks or months are drawn."""

from __future__ import annotations

import itertools

import pytest

from api.health_chart import TICK_FONT, bar_chart


def _extents(labels: list[str], count: int) -> list[tuple[float, float, str]]:
    chart = bar_chart([(labels[n % len(labels)], float(n)) for n in range(count)])
    spans = []
    for bar in chart.bars:
        if bar.ticked:
            half = len(bar.label) * TICK_FONT * 0.62 / 2
            spans.append((bar.label_x - half, bar.label_x + half, bar.label))
    assert chart.bars[0].ticked and chart.bars[-1].ticked  # the range's two ends are always named
    assert all(left >= 0 and right <= chart.width for left, right, _ in spans)
    return spans


@pytest.mark.parametrize("labels", [["04-27", "05-04"], ["2024-05", "2024-06"]], ids=["weeks", "months"])
@pytest.mark.parametrize("count", [1, 2, 12, 13, 25, 26, 27, 52, 53, 104])
def test_tick_labels_never_overlap(labels: list[str], count: int) -> None:
    spans = _extents(labels, count)
    overlaps = [(a[2], b[2]) for a, b in itertools.pairwise(spans) if a[1] + 2 > b[0]]
    assert overlaps == []
    # As many as fit: a quarter of weeks names each week.
    if count <= 13 and labels[0] == "04-27":
        assert len(spans) == count


def test_a_half_year_of_weeks_names_the_last_week_and_not_the_one_before() -> None:
    """26 weeks with every third labelled used to draw week 25's and week 26's labels on top of each other."""
    chart = bar_chart([(f"w{n:02d}", 1.0) for n in range(26)])
    ticked = [n for n, bar in enumerate(chart.bars) if bar.ticked]
    assert ticked[-1] == 25 and ticked[-2] <= 25 - (ticked[1] - ticked[0])


def test_bars_stay_bars_and_sit_in_their_slots() -> None:
    """One month of score is a bar, not a slab across two thirds of the chart; each bar is centred
    under its label and inside the plot."""
    for count in (1, 2, 12, 26):
        chart = bar_chart([(f"{n:02d}", 50.0) for n in range(count)], top=100.0)
        for bar in chart.bars:
            assert 0 < bar.width <= 48
            assert chart.left <= bar.x and bar.x + bar.width <= chart.width
            assert abs(bar.x + bar.width / 2 - bar.label_x) < 0.2
