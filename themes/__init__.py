"""The app's own colour themes and the remembered choice.

Import-light on purpose: no Textual at import. `textual_themes()` builds the `textual.theme.Theme`
objects when the app starts; `load_choice()` / `save_choice()` keep the user's pick in
`<config dir>/settings.toml` (written atomically).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DARK, LIGHT = "amlbatch-dark", "amlbatch-light"
DEFAULT = DARK
STYLESHEET = Path(__file__).with_name("app.tcss")  # what every screen shares, and the start screen
SCREENS_STYLESHEET = Path(__file__).with_name("screens.tcss")  # the other screens (their CSS_PATH)

# name -> Theme keyword arguments. `variables` add the app's own: glyph colours of step outcomes.
SPECS: dict[str, dict[str, Any]] = {
    DARK: dict(
        primary="#4EA8DE", secondary="#7F8CFF", accent="#F2A541", warning="#F2C14E",
        error="#F0605D", success="#5BC98C", foreground="#D8DEE9", background="#12161C",
        surface="#1A2029", panel="#222A35", dark=True,
        variables={"outcome-created": "#5BC98C", "outcome-updated": "#F2C14E",
                   "outcome-deleted": "#C678DD", "outcome-muted": "#7A8494",
                   "footer-key-foreground": "#4EA8DE", "block-cursor-text-style": "bold"},
    ),
    LIGHT: dict(
        primary="#0B63A8", secondary="#4A4FC4", accent="#B25E00", warning="#9A6A00",
        error="#C0262D", success="#1E7F4F", foreground="#1D232B", background="#F6F7F9",
        surface="#FFFFFF", panel="#E4E8EE", dark=False,
        variables={"outcome-created": "#1E7F4F", "outcome-updated": "#9A6A00",
                   "outcome-deleted": "#8E3FA8", "outcome-muted": "#6B7480",
                   "footer-key-foreground": "#0B63A8", "block-cursor-text-style": "bold"},
    ),
}


def textual_themes() -> list[Any]:
    from textual.theme import Theme

    return [Theme(name=name, **spec) for name, spec in SPECS.items()]


def settings_path() -> Path:
    from engine.paths import config_dir

    return config_dir() / "settings.toml"


def load_settings() -> dict[str, Any]:
    try:
        text = settings_path().read_text(encoding="utf-8")
    except (OSError, ValueError):
        return {}  # missing (nothing chosen yet) or unreadable: defaults, never a crash at start-up
    import tomllib  # only when there is a file: its import costs the first paint ~4 ms

    try:
        return tomllib.loads(text)
    except ValueError:
        return {}  # damaged: defaults


def load_choice() -> str:
    theme = load_settings().get("theme", DEFAULT)
    return theme if isinstance(theme, str) and theme else DEFAULT


def save_choice(theme: str) -> None:
    """Remember the theme, keeping any other setting in the file."""
    import tomli_w

    from engine.fileio import write_atomic

    settings = load_settings()
    if settings.get("theme") == theme:
        return
    settings["theme"] = theme
    write_atomic(settings_path(), tomli_w.dumps(settings).encode())
