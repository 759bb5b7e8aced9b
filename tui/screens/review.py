"""Review: the profile as it will be saved (TOML) and the plan (what exists, what a run creates)."""

from __future__ import annotations

import copy
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static, TabbedContent, TabPane

from tui.messages import FLUSH_SECONDS, EventBuffer, PlanMade, WorkFailed, error_text
from tui.screens.base import WizardScreen
from tui.widgets._checklist import StepChecklist


class ReviewScreen(WizardScreen):
    wizard_key = "review"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+r", "run", "Run", priority=True),
        Binding("ctrl+e", "edit", "Edit", priority=True),
        Binding("f5", "replan", "Plan again"),
        Binding("escape", "back", "Back"),
    ]

    DEFAULT_CSS = """
    ReviewScreen #plan-cost { padding: 0 1; height: auto; color: $text-muted; }
    ReviewScreen #cost-box { height: 1fr; padding: 0 1; }
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "next"

    def __init__(self) -> None:
        super().__init__()
        self.buffer = EventBuffer()
        self.planning = False
        self.suspended = False

    @property
    def profile(self) -> Any:
        return self.draft.profile

    def intro_text(self) -> str:
        p = self.profile
        saved = "saved" if p.path is not None and p.path.exists() else "not saved yet"
        where = f" · {p.workspace.location}" if p.target == "azure" else ""
        return (f"Profile '{p.name}' ({saved}) · target {p.target}{where}. Nothing is created "
                "until you press Run; a run only makes what the plan says is missing.")

    def compose_body(self) -> ComposeResult:
        yield Static(self.intro_text(), id="intro", markup=False)
        with TabbedContent(id="review-tabs"):
            with TabPane("Plan", id="tab-plan"):
                yield Static("", id="plan-status")
                yield Static("", id="plan-cost", markup=False)
                yield StepChecklist(id="plan", show_time=False)
            with TabPane("Profile (TOML)", id="tab-toml"):
                with VerticalScroll(id="toml-box"):
                    yield Static("", id="toml", markup=False)
            with TabPane("Cost", id="tab-cost"):
                with VerticalScroll(id="cost-box"):
                    yield Static("Looking up Azure's retail prices…", id="cost", markup=False)
        with Horizontal(id="nav"):
            yield Button("← Back", id="back", compact=True)
            yield Button("Edit ^e", id="edit", compact=True)
            yield Static("", id="nav-hint")
            yield Button("Save ^s", id="save", compact=True)
            yield Button("Run ^r", id="run", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)
        self.refresh_content()

    def on_screen_suspend(self) -> None:
        self.suspended = True

    def on_screen_resume(self) -> None:
        if self.suspended:
            self.suspended = False
            self.refresh_content()

    def refresh_content(self) -> None:
        from engine.profile import dumps

        self.query_one("#intro", Static).update(self.intro_text())
        self.query_one("#toml", Static).update(dumps(self.profile))
        self.query_one("#screen-title", Static).update(self.title_text())
        self.start_plan()

    # ------------------------------------------------------------------ plan in a worker

    def action_replan(self) -> None:
        self.start_plan()

    def start_plan(self) -> None:
        self.show_problem(None)
        if self.draft.offline:  # a plan would have to sign in: the run does, and checks the profile then
            self.query_one("#plan-status", Static).update(
                "Not signed in, so nothing was looked at. Save keeps the profile; Run signs in and "
                "checks everything first (headless: amlbatch --profile NAME --plan).")
            self.query_one("#cost", Static).update("Prices are looked up with the plan (headless: --plan).")
            return
        self.planning = True
        self.query_one("#plan-status", Static).update("Looking at what exists… (nothing changes)")
        self.plan(copy.deepcopy(self.profile))

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def plan(self, profile: Any) -> None:
        import time

        from engine.context import CancelToken
        from engine.errors import LockedError
        cost = self.app.backend.estimate_cost(profile)  # looked up while the plan runs; shown before the plan's result
        try:
            for attempt in range(40):
                try:
                    summary = self.app.backend.plan(profile, self.buffer, CancelToken())
                    break
                except LockedError:
                    if attempt == 39:
                        raise
                    time.sleep(0.1)  # our own previous plan may still be finishing
        except Exception as exc:  # noqa: BLE001 - the user reads it; nothing was changed
            text, field = error_text(exc)
            self.cost_from_thread(cost)
            self.post_message(WorkFailed(text, field))
            return
        self.cost_from_thread(cost)
        self.post_message(PlanMade(summary))

    def cost_from_thread(self, cost: Any) -> None:
        try:
            self.app.call_from_thread(self.show_cost, cost())
        except Exception:  # noqa: BLE001 - the screen or the app has closed meanwhile: nobody to show it to
            pass

    def show_cost(self, estimate: Any) -> None:
        """One line under the plan's status; every price, with its unit and date, in the Cost tab."""
        self.query_one("#plan-cost", Static).update(f"{estimate.summary()}; every price: Cost tab")
        self.query_one("#cost", Static).update("\n".join(estimate.lines()))

    def flush(self) -> None:
        batch = self.buffer.drain()
        if not batch:
            return
        checklist = self.query_one("#plan", StepChecklist)
        for event in batch.events:
            if event.type == "run_started":
                checklist.set_steps(event.steps, event.titles)
            elif event.type == "step_started":
                checklist.start(event.step, self.app.clock.monotonic())
            elif event.type == "step_finished":
                checklist.finish(event, plan_mode=True)
            elif event.type == "sign_in_prompt":
                self.show_problem(event.message, severity="info")

    def on_plan_made(self, message: PlanMade) -> None:
        self.flush()
        self.planning = False
        summary = message.summary
        counts = summary.counts
        if summary.outcome == "failed":
            failed = [f for f in summary.steps.values() if f.outcome == "failed"]
            self.query_one("#plan-status", Static).update("The plan found a problem:")
            self.show_problem("\n".join(f"✗ {f.step.replace('_', ' ')}: {f.error}" for f in failed)
                              + "\nFix it with Edit (^e), then look again (F5).")
            return
        parts = [f"{counts.get('would_create', 0)} to create", f"{counts.get('would_update', 0)} to update",
                 f"{counts.get('exists', 0)} unchanged"]
        if counts.get("skipped"):
            parts.append(f"{counts['skipped']} skipped")
        verdict = "Everything exists already." if summary.outcome == "succeeded" else \
            "Run makes the changes below."
        self.query_one("#plan-status", Static).update(f"Plan: {', '.join(parts)}. {verdict}")

    def on_work_failed(self, message: WorkFailed) -> None:
        self.planning = False
        self.query_one("#plan-status", Static).update("Cannot plan yet:")
        self.show_problem(f"✗ {message.text}\nFix it with Edit (^e), then look again (F5).")

    # ------------------------------------------------------------------ actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        handler = {"save": self.action_save, "run": self.action_run, "edit": self.action_edit}
        if event.button.id in handler:
            event.stop()
            handler[event.button.id]()
        else:
            super().on_button_pressed(event)

    def save(self, quiet: bool = False) -> bool:
        """Save the profile; `quiet` when a run follows (its toast would cover the next screens' buttons)."""
        from engine.profile import save

        try:
            path = save(self.profile)
        except Exception as exc:  # noqa: BLE001
            self.show_problem(f"✗ Not saved: {error_text(exc)[0]}")
            return False
        if not quiet:
            self.notify(f"Saved profile '{self.profile.name}'", title="Saved")
        self.query_one("#intro", Static).update(self.intro_text())
        self.app.sub_title = f"profile {self.profile.name}"
        return True

    def action_save(self) -> None:
        self.save()

    def action_run(self) -> None:
        if not self.save(quiet=True):
            return
        self.app.go("run", copy.deepcopy(self.profile), "provision")

    def action_edit(self) -> None:
        self.app.go("workspace")

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.go("workspace")
