"""F1 / ?: the keys of the screen underneath and how the wizard works."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown

import themes

GENERAL = """\
**amlbatch** stands up an Azure ML batch scoring service, step by step, and runs scoring jobs.

- Every field is checked as you type; the rule it breaks shows under it.
- **Back** and **Next** keep what you typed. Nothing is created before **Run** on the review.
- A run can be canceled safely and run again: steps that are done are found and kept.
- Tear down deletes only what this profile created, after you type the profile name.
- Ctrl+P opens the command palette (themes: *Dark theme*, *Light theme*, *Theme*).
- The same profile runs headless: `amlbatch --profile NAME --yes` (see `amlbatch --help`).
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = str(themes.SCREENS_STYLESHEET)  # the dialogs' rules (see BaseScreen)
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def keys_table(self) -> str:
        rows = ["| Key | What it does |", "|---|---|"]
        seen = set()
        for binding in [*getattr(self.under, "BINDINGS", []), *self.app.BINDINGS]:
            if isinstance(binding, tuple):
                binding = Binding(*binding)
            if not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            key = self.app.get_key_display(binding)
            rows.append(f"| `{key}` | {binding.description} |")
        rows += ["| `Tab` / `Shift+Tab` | Next / previous control |", "| `Ctrl+P` | Command palette |"]
        return "\n".join(rows)

    def compose(self) -> ComposeResult:
        title_text = getattr(self.under, "title_text", None)
        title = (title_text() if callable(title_text) else "") or "amlbatch"
        with VerticalScroll(id="help-box"):
            yield Markdown(f"# Help · {title}\n\n{GENERAL}\n## Keys on this screen\n\n{self.keys_table()}\n\n"
                           "Press Esc to close.")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
