"""A filter box over a table: type to narrow the rows, Enter (or a click) picks one."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input


class SearchTable(Vertical):
    DEFAULT_CSS = """
    SearchTable { height: 1fr; }
    SearchTable > Input { margin-bottom: 0; }
    SearchTable > DataTable { height: 1fr; }
    """

    class Chosen(Message):
        def __init__(self, table: "SearchTable", key: str) -> None:
            super().__init__()
            self.table, self.key = table, key

        @property
        def control(self) -> "SearchTable":
            return self.table

    def __init__(self, columns: list[str], placeholder: str = "Type to filter", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = columns
        self.placeholder = placeholder
        self.rows: list[tuple[str, tuple[Any, ...]]] = []

    def compose(self) -> ComposeResult:
        yield Input(placeholder=self.placeholder, id="filter", compact=True)
        yield DataTable(cursor_type="row", id="rows")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*self.columns)

    def set_rows(self, rows: list[tuple[str, tuple[Any, ...]]], select: str | None = None) -> None:
        self.rows = rows
        self._show(self.query_one("#filter", Input).value, select)

    def _show(self, query: str, select: str | None = None) -> None:
        table = self.query_one(DataTable)
        table.clear()
        needle = query.strip().lower()
        for key, cells in self.rows:
            if not needle or any(needle in str(c).lower() for c in cells) or needle in key.lower():
                table.add_row(*cells, key=key)
        if select is not None:
            try:
                table.move_cursor(row=table.get_row_index(select))
            except Exception:
                pass

    @property
    def highlighted(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._show(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        key = self.highlighted
        if key is not None:
            self.post_message(self.Chosen(self, key))

    def on_key(self, event) -> None:
        # Up/down in the filter box move the table's cursor: type, arrow, Enter.
        if event.key in ("up", "down") and self.query_one("#filter", Input).has_focus:
            table = self.query_one(DataTable)
            table.action_cursor_up() if event.key == "up" else table.action_cursor_down()
            event.stop()
            event.prevent_default()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(self, event.row_key.value))
