"""One profile field: label, input (or choice), and the rule it breaks, checked as the user types
with `engine.profile.check_field`, the same validator the profile loader uses. The label, help
and choices are declared with the field (`engine.profile.field_info`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

# A choice's text where its value alone would say too little.
CHOICE_LABELS = {"": "none (no schedule)"}


def field_kind(dotted: str) -> str:
    """'int', 'str' or 'list', from the profile dataclass."""
    from engine.profile import SECTIONS

    section, key = dotted.split(".", 1)
    for f in dataclasses.fields(SECTIONS[section]):
        if f.name == key:
            return str(f.type)
    raise KeyError(dotted)


def parse(dotted: str, text: str) -> tuple[Any, str | None]:
    """(value, rule broken or None) for what the user typed."""
    from engine.profile import check_field

    section, key = dotted.split(".", 1)
    kind = field_kind(dotted)
    value: Any = text
    if kind == "int":
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            return text, "must be a whole number"
    elif kind == "list":
        value = [part.strip() for part in text.split(",") if part.strip()]
    return value, check_field(section, key, value)


def as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


class FieldInput(Vertical):
    """A labelled input bound to a profile field, validated on every keystroke."""

    DEFAULT_CSS = """
    FieldInput { height: auto; margin: 0 0 1 0; }
    FieldInput > .field-label { color: $text-muted; }
    FieldInput > .field-label.-invalid { color: $error; }
    FieldInput > .field-rule { color: $error; height: auto; display: none; }
    FieldInput.-invalid > .field-rule { display: block; }
    FieldInput.-invalid Input { border: tall $error; }
    """

    class Edited(Message):
        """The value changed (valid or not); `text` is what is shown."""

        def __init__(self, field: "FieldInput", text: str) -> None:
            super().__init__()
            self.field, self.text = field, text

        @property
        def control(self) -> "FieldInput":
            return self.field

    def __init__(self, dotted: str, text: str, *, label: str | None = None, help: str | None = None,
                 placeholder: str = "", id: str | None = None) -> None:
        super().__init__(id=id or "f-" + dotted.replace(".", "-"))
        from engine.profile import field_info

        info = field_info(dotted)
        self.dotted = dotted
        self.initial = text
        self.label = label or info.label
        self.help = help if help is not None else info.help
        self.choices = info.choices
        self.placeholder = placeholder
        self.rule: str | None = None
        self._value: Any = None

    def compose(self) -> ComposeResult:
        yield Label(Text.assemble((self.label, "bold"), " · ", (self.dotted, "dim italic"),
                                  f" · {self.help}" if self.help else ""), classes="field-label")
        if self.choices:
            options = [(CHOICE_LABELS.get(c, c), c) for c in self.choices]
            value = self.initial if self.initial in self.choices else self.choices[0]
            yield Select(options, value=value, allow_blank=False, id="control", compact=True)
        else:
            yield Input(self.initial, placeholder=self.placeholder, id="control",
                        select_on_focus=False, compact=True)
        yield Static("", classes="field-rule")

    def on_mount(self) -> None:
        self.check(self.initial, quiet=True)

    @property
    def text(self) -> str:
        control = self.query_one("#control")
        if isinstance(control, Select):
            return str(control.value)
        return control.value

    def set_text(self, text: str) -> None:
        control = self.query_one("#control")
        control.value = text
        self.check(text)

    @property
    def value(self) -> Any:
        return self._value

    def check(self, text: str | None = None, quiet: bool = False) -> str | None:
        """Validate and show the rule (or clear it). `quiet` validates without showing."""
        text = self.text if text is None else text
        self._value, self.rule = parse(self.dotted, text)
        if not quiet or not self.rule:
            self.show_rule(self.rule)
        return self.rule

    def show_rule(self, rule: str | None) -> None:
        self.set_class(bool(rule), "-invalid")
        self.query_one(".field-rule", Static).update(f"✗ {rule}" if rule else "")

    def focus_control(self) -> None:
        self.query_one("#control").focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.check(event.value)
        self.post_message(self.Edited(self, event.value))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.check(str(event.value))
        self.post_message(self.Edited(self, str(event.value)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()
