"""The one table of screens: a route name to the "module:Class" that shows it.

Screens open each other by route name (`app.go("finish", profile, steps)`), never by importing
each other, so the screen modules form no import cycle, and each module is imported only when
its screen is first shown (start-up stays fast).
"""

from __future__ import annotations

import importlib
from typing import Any

# The wizard's configuration steps, in order, with their titles; the app picks the ones a draft needs.
STEP_TITLES = {
    "basics": "New profile", "signin": "Sign in", "subscription": "Subscription", "region": "Region",
    "workspace": "Resource group and workspace", "compute": "Compute",
    "storage": "Storage and data", "scorer": "Scorer and endpoint", "schedule": "Schedule",
    "review": "Review",
}

ROUTES = {
    "start": "tui.screens.start:StartScreen",
    "basics": "tui.screens.wizard:BasicsScreen",
    "signin": "tui.screens.azure:SignInScreen",
    "subscription": "tui.screens.azure:SubscriptionScreen",
    "region": "tui.screens.azure:RegionScreen",
    "workspace": "tui.screens.wizard:WorkspaceScreen",
    "compute": "tui.screens.wizard:ComputeScreen",
    "storage": "tui.screens.wizard:StorageScreen",
    "scorer": "tui.screens.wizard:ScorerScreen",
    "schedule": "tui.screens.wizard:ScheduleScreen",
    "review": "tui.screens.review:ReviewScreen",
    "run": "tui.screens.run:RunScreen",
    "finish": "tui.screens.finish:FinishScreen",
    "job": "tui.screens.jobs:JobScreen",
    "results": "tui.screens.jobs:ResultsScreen",
    "teardown": "tui.screens.teardown:TeardownScreen",
    "help": "tui.screens.help:HelpScreen",
}


def screen_class(route: str) -> Any:
    """The Screen class of `route`, imported now."""
    module, _, name = ROUTES[route].partition(":")
    return getattr(importlib.import_module(module), name)


def make(route: str, *args: Any, **kwargs: Any) -> Any:
    """A new screen for `route`, built with the given arguments."""
    return screen_class(route)(*args, **kwargs)
