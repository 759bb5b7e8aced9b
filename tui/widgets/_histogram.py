"""A text histogram of one result column (no plotting dependency): numbers in equal bins over
their range, text as counts per value."""

from __future__ import annotations

from collections import Counter

from rich.text import Text
from textual.widget import Widget

EIGHTHS = " ▏▎▍▌▋▊▉█"
MOST_VALUES = 10  # a text column shows its most common values, the rest summed as "other"


def as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def is_numeric(values: list[str]) -> bool:
    """Whether every non-empty value reads as a number (and there is one)."""
    present = [v for v in values if v.strip()]
    return bool(present) and all(as_number(v) is not None for v in present)


def number_bins(values: list[float], bins: int) -> list[tuple[str, int]]:
    """(label, count) per equal bin over [min, max] of the values."""
    if not values:
        return []
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in values:
        counts[min(int((value - low) / span * bins), bins - 1)] += 1
    step = span / bins
    return [(f"{low + i * step:.3g}–{low + (i + 1) * step:.3g}", count) for i, count in enumerate(counts)]


def text_counts(values: list[str]) -> list[tuple[str, int]]:
    """(value, count) of the most common values, then the rest as one "other" row."""
    counted = Counter(v for v in values if v.strip()).most_common()
    rows = counted[:MOST_VALUES]
    rest = sum(count for _, count in counted[MOST_VALUES:])
    return rows + ([(f"{len(counted) - MOST_VALUES} others", rest)] if rest else [])


class Histogram(Widget):
    """One bar per line: a bin of a numeric column, or a value of a text column."""

    DEFAULT_CSS = """
    Histogram { height: auto; min-height: 3; }
    """

    def __init__(self, bins: int = 10, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.bins, self.title = bins, title
        self.rows: list[tuple[str, int]] = []
        self.total = 0
        self.unit = "values"

    def show_column(self, title: str, values: list[str]) -> None:
        """Plot `values` (one column's cells): binned when numeric, counted per value when text."""
        self.title = title
        if is_numeric(values):
            numbers = [n for n in (as_number(v) for v in values if v.strip()) if n is not None]
            self.rows, self.total = number_bins(numbers, self.bins), len(numbers)
        else:
            self.rows, self.total = text_counts(values), sum(1 for v in values if v.strip())
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(len(self.rows), 1) + (1 if self.title else 0) + 1

    def render(self) -> Text:
        width = max(self.size.width, 20)
        label_w = min(max((len(label) for label, _ in self.rows), default=4), max(width // 3, 6))
        count_w = max((len(str(count)) for _, count in self.rows), default=1)
        bar_w = max(width - label_w - count_w - 3, 4)
        top = max((count for _, count in self.rows), default=0) or 1
        bar_style = self.app.theme_variables.get("primary", "") if self.is_attached else ""
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        for label, count in self.rows:
            shown = label if len(label) <= label_w else label[: label_w - 1] + "…"
            text.append(shown.ljust(label_w) + " ", style="dim")
            cells = count / top * bar_w
            full, part = int(cells), int((cells - int(cells)) * 8)
            bar = "█" * full + (EIGHTHS[part] if part else "")
            text.append(bar.ljust(bar_w), style=bar_style)
            text.append(f" {count:>{count_w}}\n")
        text.append(f"{self.total:,} {self.unit}", style="dim")
        return text
