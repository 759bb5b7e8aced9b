"""The live step checklist of a run: pending, running (elapsed), then glyph, outcome and duration."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tui.headless import fmt_duration

PENDING, RUNNING = "pending", "running"


class Glyphs:
    """One glyph and one theme variable per state (the same symbols as the headless output)."""

    SYMBOL = {
        PENDING: "·", RUNNING: "▶", "created": "+", "updated": "~", "exists": "✓", "skipped": "-",
        "failed": "✗", "deleted": "−", "canceled": "!", "planned": "?",
    }
    STYLE = {
        PENDING: "outcome-muted", RUNNING: "primary", "created": "outcome-created",
        "updated": "outcome-updated", "exists": "success", "skipped": "outcome-muted",
        "failed": "error", "deleted": "outcome-deleted", "canceled": "warning", "planned": "accent",
    }
    PLAN_WORDS = {"create": "would create", "update": "would update", "delete": "would delete",
                  "none": "no change", "skip": "skip"}


class StepChecklist(DataTable):
    """Rows keyed by step; the cursor picks the step whose logs are shown."""

    DEFAULT_CSS = """
    StepChecklist { height: auto; max-height: 14; }
    """

    def __init__(self, show_time: bool = True, fill_detail: bool = False, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_cursor=True, **kwargs)
        self.show_time = show_time
        # the Detail column takes the width left, a cut detail ends in "…" (the run screen shows
        # the highlighted step's full detail below): no horizontal scrolling at 80 columns
        self.fill_detail = fill_detail
        self.details: dict[str, tuple[str, str]] = {}  # step -> (full detail, state styling it)
        self.started: dict[str, float] = {}
        self.states: dict[str, str] = {}
        self.titles: dict[str, str] = {}

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self, title_width: int | None = None) -> None:
        self.add_column(" ", key="glyph", width=1)
        self.add_column("Step", key="title", width=title_width)
        # the fill mode shows outcomes only ("canceled" is the longest), not plan words
        self.add_column("Status", key="status", width=8 if self.fill_detail else 12)
        if self.show_time:
            self.add_column("Time", key="time", width=10)
        self.add_column("Detail", key="detail", width=self.detail_width())

    def detail_width(self) -> int | None:
        """What the columns before Detail leave of the table's width (None: as wide as its text)."""
        available = self.scrollable_content_region.width
        if not self.fill_detail or not available:
            return None
        others = sum(c.get_render_width(self) for k, c in self.columns.items() if k.value != "detail")
        return max(10, available - others - 2 * self.cell_padding)

    def on_resize(self) -> None:
        self.fit_detail()

    def fit_detail(self) -> None:
        """Give the Detail column the width left, keeping every row's detail."""
        width = self.detail_width()
        column = self.columns.get(ColumnKey("detail"))
        if width is None or column is None or (column.width == width and not column.auto_width):
            return
        self.remove_column("detail")
        self.add_column("Detail", key="detail", width=width)
        for step in self.states:
            self.update_cell(step, "detail", self._detail(step))

    def _detail(self, step: str) -> Text:
        text, state = self.details.get(step, ("", ""))
        style = self._style(state) if state else ""
        if self.fill_detail:
            return Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")
        return Text(text, style=style)

    def set_detail(self, step: str, text: str, state: str = "") -> None:
        self.details[step] = (text, state)
        self.update_cell(step, "detail", self._detail(step), update_width=not self.fill_detail)

    def cut_detail(self, step: str) -> str | None:
        """The step's full detail, when the Detail column is too narrow to show it all."""
        text = self.details.get(step, ("", ""))[0]
        column = self.columns.get(ColumnKey("detail"))
        if not self.fill_detail or column is None or column.auto_width or cell_len(text) <= column.width:
            return None
        return text

    def _style(self, state: str) -> str:
        variables = self.app.theme_variables
        return variables.get(Glyphs.STYLE.get(state, "foreground"), "") or ""

    def _glyph(self, state: str) -> Text:
        return Text(Glyphs.SYMBOL.get(state, "?"), style=self._style(state))

    def set_steps(self, keys: tuple[str, ...], titles: tuple[str, ...]) -> None:
        self.clear(columns=self.fill_detail)
        self.started.clear()
        self.details.clear()
        self.states = {k: PENDING for k in keys}
        self.titles = dict(zip(keys, titles or keys))
        if self.fill_detail:  # the titles' width known, the Detail column takes the rest
            self._add_columns(max([len("Step"), *(cell_len(t) for t in self.titles.values())]))
        for key in keys:
            cells = [self._glyph(PENDING), self.titles[key], Text("pending", style="dim"), "", ""]
            if not self.show_time:
                del cells[3]
            self.add_row(*cells, key=key)

    def start(self, step: str, now: float) -> None:
        if step not in self.states:
            return
        self.started[step] = now
        self.states[step] = RUNNING
        self.update_cell(step, "glyph", self._glyph(RUNNING))
        self.update_cell(step, "status", Text("running", style=self._style(RUNNING)))
        self._time(step, "0 s")

    def progress(self, step: str, text: str) -> None:
        if self.states.get(step) == RUNNING:
            self.set_detail(step, text)

    def finish(self, event: Any, plan_mode: bool = False) -> None:
        step = event.step
        if step not in self.states:
            return
        self.states[step] = event.outcome
        self.started.pop(step, None)
        word = event.outcome
        if plan_mode and event.plan:
            word = Glyphs.PLAN_WORDS.get(event.plan, event.plan)
        self.update_cell(step, "glyph", self._glyph(event.outcome))
        self.update_cell(step, "status", Text(word, style=self._style(event.outcome)))
        self._time(step, fmt_duration(event.duration))
        detail = event.error or event.detail
        self.set_detail(step, detail.splitlines()[0] if detail else "", "failed" if event.error else "")

    def tick(self, now: float) -> None:
        """Redraw the elapsed time of running steps."""
        for step, started in self.started.items():
            self._time(step, f"{int(now - started)} s")

    def _time(self, step: str, text: str) -> None:
        if self.show_time:
            self.update_cell(step, "time", text)

    @property
    def running(self) -> list[str]:
        return [k for k, s in self.states.items() if s == RUNNING]

    @property
    def selected_step(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for state in self.states.values():
            found[state] = found.get(state, 0) + 1
        return found
