"""A text histogram of the predicted probabilities (no plotting dependency)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

EIGHTHS = " ▏▎▍▌▋▊▉█"


class Histogram(Widget):
    """Counts of values in equal bins over [low, high], one bar per line."""

    DEFAULT_CSS = """
    Histogram { height: auto; min-height: 3; }
    """

    def __init__(self, bins: int = 10, low: float = 0.0, high: float = 1.0, title: str = "",
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.bins, self.low, self.high, self.title = bins, low, high, title
        self.values: list[float] = []

    def set_values(self, values: list[float]) -> None:
        self.values = list(values)
        self.refresh(layout=True)

    def counts(self) -> list[int]:
        counts = [0] * self.bins
        span = (self.high - self.low) or 1.0
        for value in self.values:
            index = int((value - self.low) / span * self.bins)
            counts[min(max(index, 0), self.bins - 1)] += 1
        return counts

    def get_content_height(self, container, viewport, width: int) -> int:
        return self.bins + (1 if self.title else 0) + 1

    def render(self) -> Text:
        counts = self.counts()
        width = max(self.size.width, 20)
        span = (self.high - self.low) / self.bins
        label_w, count_w = 11, max(len(str(max(counts, default=0))), 1)
        bar_w = max(width - label_w - count_w - 3, 4)
        top = max(counts, default=0) or 1
        bar_style = self.app.theme_variables.get("primary", "") if self.is_attached else ""
        text = Text()
        if self.title:
            text.append(self.title + "\n", style="bold")
        for index, count in enumerate(counts):
            low = self.low + index * span
            text.append(f"{low:4.2f}–{low + span:4.2f} ", style="dim")
            cells = count / top * bar_w
            full, part = int(cells), int((cells - int(cells)) * 8)
            bar = "█" * full + (EIGHTHS[part] if part else "")
            text.append(bar.ljust(bar_w), style=bar_style)
            text.append(f" {count:>{count_w}}\n")
        text.append(f"{len(self.values):,} predictions", style="dim")
        return text
