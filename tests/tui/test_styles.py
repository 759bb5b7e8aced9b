"""The wizard's stylesheet comes in two parts: themes/app.tcss (what every screen shares and the start
screen), read before the first frame, and themes/screens.tcss (every other screen), which Textual
reads when the first screen naming it in CSS_PATH is shown. A screen that does not name it would
show unstyled when it is the first one opened after the start screen."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from textual.screen import Screen

import themes
import tui.screens
from tests.tui.conftest import wait_for
from tui.app import AmlBatchApp


def test_every_screen_but_the_start_screen_reads_the_screens_stylesheet() -> None:
    screens = []
    for module in pkgutil.iter_modules(tui.screens.__path__):
        loaded = importlib.import_module(f"tui.screens.{module.name}")
        screens += [cls for _, cls in inspect.getmembers(loaded, inspect.isclass)
                    if issubclass(cls, Screen) and cls.__module__ == loaded.__name__]
    assert len(screens) > 10
    for cls in screens:
        paths = [str(p) for p in ([cls.CSS_PATH] if isinstance(cls.CSS_PATH, str) else cls.CSS_PATH or [])]
        if cls.__name__ == "StartScreen":
            assert paths == [], "the start screen's rules are in themes/app.tcss, read before the first frame"
        else:
            assert str(themes.SCREENS_STYLESHEET) in paths, cls.__name__


async def test_a_dialog_opened_first_from_the_start_screen_is_styled() -> None:
    app = AmlBatchApp(remember_theme=False)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.pause()
        assert app.screen.query_one("#help-box").styles.width.value == 88  # themes/screens.tcss
