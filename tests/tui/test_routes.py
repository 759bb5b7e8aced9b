"""The route table names a screen for every route, and the forms' field labels and choices come
from the profile schema."""

from __future__ import annotations

import dataclasses

from textual.screen import Screen

from tui import routes


def test_every_route_is_a_screen_and_every_wizard_step_a_route() -> None:
    for route in routes.ROUTES:
        assert issubclass(routes.screen_class(route), Screen), route
    assert set(routes.STEP_TITLES) <= set(routes.ROUTES)


def test_every_profile_field_has_a_label_and_its_choices_are_its_rule() -> None:
    from engine import targets
    from engine.profile import SECTIONS, check_field, field_info

    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            info = field_info(f"{section}.{f.name}")
            assert info.label and info.help, f"{section}.{f.name}"
            for choice in info.choices:
                assert check_field(section, f.name, choice) is None
            if info.choices:
                assert check_field(section, f.name, "not-a-choice") is not None
    assert field_info("target").choices == targets.names()
