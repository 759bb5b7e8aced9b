"""The configuration steps: basics (name and target), then one form per part of the profile.

Every field validates as it is typed (engine.profile.check_field); the cross-field rules
(engine.profile.check_consistency) run at Next. What was typed stays in the draft, valid or not,
so Back and Next keep it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from engine.datafiles import human_bytes
from tui.messages import DataFilesFound, ListingLoaded, WorkFailed, error_text
from tui.routes import STEP_TITLES
from tui.screens.base import WizardScreen
from tui.widgets._field import FieldInput, as_text

COMMON_VM_SIZES = ["Standard_DS3_v2", "Standard_DS2_v2", "Standard_D4s_v3", "Standard_D8s_v3",
                   "Standard_E4s_v3", "Standard_F4s_v2", "Standard_NC6s_v3"]
# What each target means, beside its name on the basics screen (a target not listed shows its name).
TARGET_NOTES = {"local": "everything on this machine, no Azure account needed",
                "azure": "your Azure subscription (sign-in next)"}


# ------------------------------------------------------------------------------------- basics

class BasicsScreen(WizardScreen):
    """Name the profile and choose where the service runs."""

    wizard_key = "basics"
    INTRO = "Name the profile and choose where the service runs. You can change everything later."

    def compose_body(self) -> ComposeResult:
        from engine.profile import field_info

        draft = self.draft
        target = field_info("target")
        with VerticalScroll(id="form"):
            with Vertical(classes="plain-field", id="name-field"):
                yield Label("Profile name · saved as <config>/profiles/NAME.toml", classes="field-label")
                yield Input(draft.raw.get("name", draft.name or ""), placeholder="e.g. churn-scoring",
                            id="name", compact=True)
                yield Static("", classes="field-rule", id="name-rule")
            yield Label(target.label, classes="field-label")
            with RadioSet(id="target"):
                for name in target.choices:
                    note = TARGET_NOTES.get(name)
                    yield RadioButton(f"{name} · {note}" if note else name, value=draft.target == name,
                                      id=name)
        yield from self.compose_nav()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def name_rule(self, name: str) -> str | None:
        from engine.profile import check_profile_name, profile_path

        rule = check_profile_name(name)
        if rule is None and profile_path(name).exists() and name != self.draft.name:
            rule = f"a profile named '{name}' exists already: resume it from the start screen"
        return rule

    def show_name_rule(self, rule: str | None) -> None:
        self.query_one("#name-field").set_class(bool(rule), "-invalid")
        self.query_one("#name-rule", Static).update(f"✗ {rule}" if rule else "")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "name":
            self.draft.raw["name"] = event.value
            self.show_name_rule(self.name_rule(event.value) if event.value else None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.focus_next()

    @property
    def target(self) -> str:
        pressed = self.query_one("#target", RadioSet).pressed_button
        return pressed.id if pressed is not None else "local"

    def action_next(self) -> None:
        name = self.query_one("#name", Input).value.strip()
        rule = self.name_rule(name)
        if rule:
            self.show_name_rule(rule)
            self.query_one("#name", Input).focus()
            self.show_problem("Fix the profile name to go on.")
            return
        self.show_problem(None)
        target = self.target
        draft = self.draft
        if draft.profile is None:
            self.app.new_draft(name, target)
            self.app.draft.raw["name"] = name
        else:
            from engine.profile import profile_path

            draft.profile.name, draft.profile.path = name, profile_path(name)
            if draft.profile.target != target:
                draft.profile.target = target
                if target == "azure" and draft.profile.account.auth == "cli":
                    draft.profile.account.auth = "device_code"
        self.app.next_after(self.wizard_key)


# -------------------------------------------------------------------------------------- forms

class FormScreen(WizardScreen):
    """A form over some profile fields."""

    FIELDS: tuple[str, ...] = ()

    def text_for(self, dotted: str) -> str:
        if dotted in self.draft.raw:
            return self.draft.raw[dotted]
        return as_text(self.draft.profile.get(dotted))

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield from self.compose_form()
        yield from self.compose_nav()

    def compose_form(self) -> ComposeResult:
        for dotted in self.FIELDS:
            yield self.make_field(dotted)

    def make_field(self, dotted: str, **kwargs: Any) -> FieldInput:
        return FieldInput(dotted, self.text_for(dotted), **kwargs)

    def on_mount(self) -> None:
        fields = list(self.query(FieldInput))
        if fields:
            self.call_after_refresh(fields[0].focus_control)

    def fields(self) -> list[FieldInput]:
        return list(self.query(FieldInput))

    def field(self, dotted: str) -> FieldInput | None:
        for f in self.query(FieldInput):
            if f.dotted == dotted:
                return f
        return None

    def on_field_input_edited(self, event: FieldInput.Edited) -> None:
        f = event.field
        self.draft.raw[f.dotted] = event.text
        if f.rule is None:
            self.apply(f.dotted, f.value)
        cross = self.show_cross_field_rules()
        if self.query_one("#problem").has_class("-shown") and not cross and not any(x.rule for x in self.fields()):
            self.show_problem(None)

    def show_cross_field_rules(self) -> bool:
        """Rules between this screen's fields (min <= max), shown as the user types and gone once
        kept; whether one is broken."""
        problem = consistency_problem(self.draft.profile, self.app.wizard_keys(), self.wizard_key)
        mine = problem if problem and self.field(problem[0]) is not None else None
        for f in self.fields():
            if f.rule is None:  # its own rule holds: show the cross-field one if it is this field's
                f.show_rule(mine[1] if mine and mine[0] == f.dotted else None)
        return mine is not None

    def apply(self, dotted: str, value: Any) -> None:
        section, key = dotted.split(".", 1)
        setattr(getattr(self.draft.profile, section), key, value)

    def validate(self) -> bool:
        """Every field of this screen, then the cross-field rules; shows what is wrong."""
        bad = [f for f in self.fields() if f.check()]
        for f in self.fields():
            if f.rule is None:
                self.apply(f.dotted, f.value)
        if bad:
            bad[0].focus_control()
            self.show_problem(f"{len(bad)} field{'s' if len(bad) > 1 else ''} to fix: "
                              + "; ".join(f"{f.label}: {f.rule}" for f in bad))
            return False
        problem = consistency_problem(self.draft.profile, self.app.wizard_keys(), self.wizard_key)
        if problem:
            dotted, rule, where = problem
            f = self.field(dotted)
            if f is not None:
                f.show_rule(rule)
                f.focus_control()
                self.show_problem(f"{f.label}: {rule}")
            else:
                self.show_problem(f"{dotted}: {rule} (on the {where} screen: go Back to fix it)")
            return False
        self.show_problem(None)
        return True

    def action_next(self) -> None:
        if self.validate():
            self.app.next_after(self.wizard_key)


def field_screen(dotted: str) -> str:
    if dotted.startswith("account."):
        return "subscription"
    for key, cls in SCREENS.items():
        if dotted in getattr(cls, "FIELDS", ()) or dotted.split(".")[0] in getattr(cls, "SECTIONS", ()):
            return key
    return "review"


def consistency_problem(profile: Any, order: list[str], here: str) -> tuple[str, str, str] | None:
    """(field, rule, screen) of a cross-field rule broken on this screen or an earlier one."""
    from engine.errors import ProfileError
    from engine.profile import check_consistency

    try:
        check_consistency(profile, "profile")
    except ProfileError as exc:
        where = field_screen(exc.field)
        if where in order and here in order and order.index(where) > order.index(here):
            return None  # a later screen's business
        return exc.field, exc.rule, STEP_TITLES.get(where, where)
    return None


class WorkspaceScreen(FormScreen):
    wizard_key = "workspace"
    INTRO = ("The resource group and the Azure ML workspace that hold everything. Existing ones are "
             "used as they are; missing ones are created.")
    FIELDS = ("workspace.resource_group", "workspace.name", "workspace.location")


class ComputeScreen(FormScreen):
    wizard_key = "compute"
    INTRO = "The cluster that runs the scoring jobs; it scales between min and max nodes."
    FIELDS = ("compute.name", "compute.vm_size", "compute.min_nodes", "compute.max_nodes",
              "compute.idle_seconds", "compute.tier")

    def compose_form(self) -> ComposeResult:
        if self.draft.target == "azure" and self.app.backend.is_signed_in(self.draft.credential):
            from tui.widgets._search_table import SearchTable

            yield Static("VM sizes in the region · Enter picks one", classes="section-title")
            yield SearchTable(["Size", "Family", "Cores", "Memory GB", "Quota left (cores)"],
                              placeholder="Filter sizes, e.g. DS3 or 16", id="sizes")
            yield Static("", id="sizes-status")
        for dotted in self.FIELDS:
            if dotted == "compute.vm_size":
                hint = "" if self.draft.target == "azure" else \
                    "the local target runs on this machine and records the size as Azure would"
                yield self.make_field(dotted, placeholder="Standard_DS3_v2",
                                      help=hint or None)
            else:
                yield self.make_field(dotted)

    def on_mount(self) -> None:
        super().on_mount()
        size = self.field("compute.vm_size")
        if size is not None:
            size.query_one(Input).suggester = SuggestFromList(COMMON_VM_SIZES, case_sensitive=False)
        if self.query("#sizes"):
            self.load_sizes()

    @work(thread=True, exclusive=True, group="sizes", exit_on_error=False)
    def load_sizes(self) -> None:
        draft = self.draft
        key = ("sizes", draft.profile.account.subscription_id, draft.profile.workspace.location)
        try:
            if key not in draft.cache:
                draft.cache[key] = self.app.backend.list_vm_sizes(draft.credential, key[1], key[2])
            self.post_message(ListingLoaded(draft.cache[key]))
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))

    def on_listing_loaded(self, message: ListingLoaded) -> None:
        from tui.widgets._search_table import SearchTable

        rows = []
        for s in message.items:
            quota = "" if getattr(s, "quota_left", None) is None else str(s.quota_left)
            rows.append((s.name, (s.name, s.family, str(s.cores), f"{s.memory_gb:g}", quota)))
        self.query_one("#sizes", SearchTable).set_rows(rows, select=self.draft.profile.compute.vm_size)
        self.query_one("#sizes-status", Static).update(
            f"{len(rows)} sizes in {self.draft.profile.workspace.location}")

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#sizes-status", Static).update(
            f"Could not list VM sizes: {message.text}. Type a size below.")

    def on_search_table_chosen(self, event) -> None:
        f = self.field("compute.vm_size")
        if f is not None:
            f.set_text(event.key)
            self.draft.raw["compute.vm_size"] = event.key
            self.apply("compute.vm_size", event.key)
            f.focus_control()


class StorageScreen(FormScreen):
    wizard_key = "storage"
    INTRO = ("Blob containers for input and results (in the workspace's storage account), the "
             "datastores over them, and the local files to upload.")
    FIELDS = ("storage.input_container", "storage.output_container", "storage.input_datastore",
              "storage.output_datastore", "data.prefix")
    BINDINGS = [Binding("ctrl+o", "browse", "Add files"),]

    def compose_form(self) -> ComposeResult:
        from engine.profile import field_info

        yield from super().compose_form()
        with Vertical(id="data-files", classes="plain-field"):
            yield Label(f"{field_info('data.files').label}  data.files · local files to upload: paths, "
                        "folders or globs (Enter adds, Delete removes)", classes="field-label")
            yield OptionList(id="files")
            with Horizontal(id="file-add"):
                yield Input(placeholder="path or glob, e.g. data/*.csv", id="pattern", compact=True)
                yield Button("Browse… ^o", id="browse", compact=True)
            yield Static("", id="files-summary")

    @property
    def entries(self) -> list[str]:
        return list(self.draft.profile.data.files)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_entries()

    def show_entries(self) -> None:
        files = self.query_one("#files", OptionList)
        files.clear_options()
        for entry in self.entries:
            files.add_option(Option(self.app_relative(entry), id=entry))
        files.display = bool(self.entries)
        if self.entries:
            files.highlighted = len(self.entries) - 1
        self.check_files()

    def app_relative(self, entry: str) -> str:
        """Show entries inside the app's start folder relative to it (shorter, stable)."""
        try:
            return str(Path(entry).relative_to(self.app.start_dir))
        except ValueError:
            return entry

    def add_entry(self, entry: str) -> None:
        entry = entry.strip()
        if not entry or entry in self.entries:
            return
        self.draft.profile.data.files = [*self.entries, entry]
        self.draft.raw.pop("data.files", None)
        self.show_entries()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "pattern":
            event.stop()
            self.add_entry(event.value)
            event.input.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "browse":
            event.stop()
            self.action_browse()
        else:
            super().on_button_pressed(event)

    def action_browse(self) -> None:
        from tui.screens.dialogs import PathPicker

        def picked(path: str | None) -> None:
            if path:
                self.add_entry(path)

        self.app.push_screen(PathPicker(self.app.start_dir, title="Add a data file or folder"), picked)

    def on_key(self, event) -> None:
        files = self.query_one("#files", OptionList)
        if event.key == "delete" and files.has_focus and files.highlighted is not None:
            entry = files.get_option_at_index(files.highlighted).id
            self.draft.profile.data.files = [e for e in self.entries if e != entry]
            self.show_entries()
            event.stop()

    def check_files(self) -> None:
        if self.entries:
            self.find_files()
            return
        summary = self.query_one("#files-summary", Static)
        summary.remove_class("-invalid")
        summary.update("No files: the run uploads nothing (you can score any input later).")

    @work(thread=True, exclusive=True, group="files", exit_on_error=False)
    def find_files(self) -> None:
        from engine.datafiles import expand

        try:
            found = expand(self.draft.profile, "data.files")
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))
            return
        self.post_message(DataFilesFound(len(found), sum(f.size for f in found)))

    def on_data_files_found(self, message: DataFilesFound) -> None:
        if not self.entries:
            return  # every file was removed while they were being looked for
        summary = self.query_one("#files-summary", Static)
        summary.remove_class("-invalid")
        count = message.count
        summary.update(f"✓ {count} file{'s' if count != 1 else ''} to upload ({human_bytes(message.size)})")

    def on_work_failed(self, message: WorkFailed) -> None:
        if not self.entries:
            return
        summary = self.query_one("#files-summary", Static)
        summary.add_class("-invalid")
        summary.update(f"✗ {message.text.removeprefix('data.files: ')}")


class ScorerScreen(FormScreen):
    wizard_key = "scorer"
    INTRO = ("The scoring code and model (an empty folder means the bundled demo scorer), and how "
             "the batch deployment splits and retries the work.")
    FIELDS = ("scorer.folder", "scorer.script", "scorer.model", "scorer.environment",
              "scorer.model_name", "scorer.environment_name",
              "endpoint.name", "endpoint.deployment", "endpoint.mini_batch_size",
              "endpoint.instance_count", "endpoint.max_concurrency_per_instance",
              "endpoint.output_action", "endpoint.output_file_name", "endpoint.error_threshold",
              "endpoint.max_retries", "endpoint.timeout", "endpoint.logging_level")
    BINDINGS = [Binding("ctrl+o", "browse", "Scorer folder")]

    def compose_form(self) -> ComposeResult:
        yield Static("Scorer", classes="section-title")
        for dotted in self.FIELDS:
            if dotted == "endpoint.name":
                yield Static("Batch endpoint and deployment", classes="section-title")
            if dotted == "scorer.folder":
                yield self.make_field(dotted, placeholder="empty: the bundled demo scorer")
                yield Static("", id="scorer-check")
            elif dotted == "endpoint.name":
                yield self.make_field(dotted, placeholder=f"empty: {self.draft.profile.endpoint_name}")
            else:
                yield self.make_field(dotted)

    def on_mount(self) -> None:
        super().on_mount()
        self.check_scorer()

    def on_field_input_edited(self, event: FieldInput.Edited) -> None:
        super().on_field_input_edited(event)
        if event.field.dotted.startswith("scorer."):
            self.check_scorer()

    def check_scorer(self) -> None:
        """Whether the scorer folder holds the script, model and conda file (as preflight checks)."""
        profile = self.draft.profile
        label = self.query_one("#scorer-check", Static)
        folder = profile.scorer_dir
        if not folder.is_dir():
            label.update(f"✗ no such folder: {profile.scorer.folder}")
            label.add_class("-invalid")
            return
        mlflow = profile.mlflow_model  # an MLflow model needs no script and no conda file
        keys = ("model",) if mlflow else ("script", "model", "environment")
        missing = [getattr(profile.scorer, k) for k in keys if not (folder / getattr(profile.scorer, k)).exists()]
        label.set_class(bool(missing), "-invalid")
        where = "the bundled demo scorer" if not profile.scorer.folder else "the folder"
        label.update(f"✗ missing in {where}: " + ", ".join(missing) if missing
                     else f"✓ {profile.scorer.model} is an MLflow model: no scoring script needed" if mlflow
                     else f"✓ {where} has {profile.scorer.script}, {profile.scorer.model} and "
                          f"{profile.scorer.environment}")

    def action_browse(self) -> None:
        from tui.screens.dialogs import PathPicker

        def picked(path: str | None) -> None:
            f = self.field("scorer.folder")
            if path and f is not None:
                f.set_text(path)
                self.draft.raw["scorer.folder"] = path
                self.apply("scorer.folder", path)
                self.check_scorer()

        self.app.push_screen(PathPicker(self.app.start_dir, folders=True,
                                        title="Choose the scorer folder"), picked)


class ScheduleScreen(FormScreen):
    wizard_key = "schedule"
    INTRO = ("Optionally score the input datastore on a schedule. Leave the frequency at 'none' "
             "for on-demand runs only.")
    FIELDS = ("schedule.frequency", "schedule.interval", "schedule.start_time", "schedule.time_zone", "schedule.name")
    NEXT_LABEL = "Review"


SCREENS: dict[str, type[WizardScreen]] = {
    "basics": BasicsScreen, "workspace": WorkspaceScreen, "compute": ComputeScreen,
    "storage": StorageScreen, "scorer": ScorerScreen, "schedule": ScheduleScreen,
}
