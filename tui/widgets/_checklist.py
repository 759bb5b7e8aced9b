"""The live step checklist of a run: pending, running (elapsed), then glyph, outcome and duration."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

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

    def __init__(self, show_time: bool = True, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_cursor=True, **kwargs)
        self.show_time = show_time
        self.started: dict[str, float] = {}
        self.states: dict[str, str] = {}
        self.titles: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_column(" ", key="glyph", width=1)
        self.add_column("Step", key="title")
        self.add_column("Status", key="status", width=12)
        if self.show_time:
            self.add_column("Time", key="time", width=10)
        self.add_column("Detail", key="detail")

    def _style(self, state: str) -> str:
        variables = self.app.theme_variables
        return variables.get(Glyphs.STYLE.get(state, "foreground"), "") or ""

    def _glyph(self, state: str) -> Text:
        return Text(Glyphs.SYMBOL.get(state, "?"), style=self._style(state))

    def set_steps(self, keys: tuple[str, ...], titles: tuple[str, ...]) -> None:
        self.clear()
        self.started.clear()
        self.states = {k: PENDING for k in keys}
        self.titles = dict(zip(keys, titles or keys))
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
            self.update_cell(step, "detail", text)

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
        self.update_cell(step, "detail", Text(detail.splitlines()[0] if detail else "",
                                              style=self._style("failed") if event.error else ""),
                         update_width=True)

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
