"""Small modal dialogs: yes/no confirmation and a file or folder picker."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static

import themes


class Confirm(ModalScreen[bool]):
    """Ask a question; Enter/y confirms, Esc/n declines."""

    CSS_PATH = str(themes.SCREENS_STYLESHEET)  # the dialogs' rules (see BaseScreen)
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No", danger: bool = False) -> None:
        super().__init__()
        self.question, self.yes, self.no, self.danger = question, yes, no, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-text", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.no, id="no", compact=True)
                yield Button(self.yes, id="yes", variant="error" if self.danger else "primary",
                             compact=True)

    def on_mount(self) -> None:
        self.query_one("#no" if self.danger else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def withdraw(self) -> bool:
        """Close without an answer, because what it asked about has ended (a run that finished
        while "Stop the run?" was open). True if it was open."""
        if self.is_attached and self.app.screen is self:
            self.dismiss(None)
            return True
        return False


class PathPicker(ModalScreen["str | None"]):
    """Pick a file (Enter on it) or a folder ("Choose folder") from a directory tree."""

    CSS_PATH = str(themes.SCREENS_STYLESHEET)
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("backspace", "up", "Parent folder"),
                Binding("ctrl+o", "choose_folder", "Choose folder")]

    def __init__(self, root: Path, folders: bool = False, title: str = "") -> None:
        super().__init__()
        self.root = root.resolve()
        self.folders = folders
        self.title_text = title or ("Choose a folder" if folders else "Choose a file (or a folder)")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(str(self.root), id="where", compact=True)
            yield DirectoryTree(self.root, id="tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("↑ Parent", id="up", compact=True)
                yield Button("Choose folder", id="folder", compact=True)
                if not self.folders:
                    yield Button("Choose file", id="file", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    def _highlighted(self) -> Path | None:
        node = self.query_one(DirectoryTree).cursor_node
        return node.data.path if node is not None and node.data is not None else None

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if not self.folders:
            self.dismiss(str(event.path))

    def on_tree_node_highlighted(self, event) -> None:
        path = self._highlighted()
        if path is not None:
            self.query_one("#where", Input).value = str(path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = Path(event.value).expanduser()
        if path.is_dir():
            self.query_one(DirectoryTree).path = path
        elif path.is_file() and not self.folders:
            self.dismiss(str(path))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"cancel": self.action_cancel, "up": self.action_up, "folder": self.action_choose_folder,
         "file": self._choose_file}[event.button.id]()

    def _choose_file(self) -> None:
        path = self._highlighted()
        if path is not None and path.is_file():
            self.dismiss(str(path))

    def action_choose_folder(self) -> None:
        path = self._highlighted()
        if path is None:
            path = Path(self.query_one(DirectoryTree).path)
        self.dismiss(str(path if path.is_dir() else path.parent))

    def action_up(self) -> None:
        tree = self.query_one(DirectoryTree)
        tree.path = Path(tree.path).resolve().parent

    def action_cancel(self) -> None:
        self.dismiss(None)
