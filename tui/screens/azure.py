"""Azure target only: sign in, pick a subscription, pick a region.

The app's backend reaches Azure (importing engine.cloud and the Azure SDKs) inside thread workers,
never at start-up. A device-code sign-in's URL and code arrive as a SignInPrompt event and show on
the screen.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.widgets import Button, LoadingIndicator, Static

from tui.messages import (DeviceCodePrompt, ListingLoaded, SignedIn, SignInFailed, WorkFailed,
                          error_text)
from tui.screens.base import WizardScreen
from tui.widgets._field import FieldInput, as_text
from tui.widgets._search_table import SearchTable


class SignInScreen(WizardScreen):
    wizard_key = "signin"
    INTRO = ("Sign in to list your subscriptions, regions and VM sizes (tokens stay in memory), or type "
             "the subscription id and go on without signing in: the profile is checked when it runs.")
    BINDINGS = [Binding("ctrl+g", "sign_in", "Sign in", priority=True),
                Binding("ctrl+k", "skip", "Without signing in", priority=True)]
    # The mode is a class on the screen: -idle, -waiting (the spinner) or -code (the spinner and
    # the device code to enter).
    DEFAULT_CSS = """
    SignInScreen #signin-wait, SignInScreen #signin-code { display: none; }
    SignInScreen.-waiting #signin-wait, SignInScreen.-code #signin-wait,
    SignInScreen.-code #signin-code { display: block; }
    """

    mode = var("idle")

    def __init__(self) -> None:
        super().__init__()
        self.waiting_since: float | None = None
        self.attempt = 0

    def compose_body(self) -> ComposeResult:
        p = self.draft.profile
        with VerticalScroll(id="form"):
            yield FieldInput("account.auth", self.draft.raw.get("account.auth", p.account.auth))
            yield FieldInput("account.tenant_id", self.draft.raw.get("account.tenant_id", p.account.tenant_id),
                             placeholder="empty: your account's home tenant")
            yield FieldInput("account.subscription_id",
                             self.draft.raw.get("account.subscription_id", p.account.subscription_id),
                             placeholder="empty: pick it from a list after signing in")
            with Horizontal(id="signin-buttons"):
                yield Button("Sign in  ^g", id="sign-in", variant="primary", compact=True)
                yield Button("Without signing in  ^k", id="skip", compact=True)
            with Vertical(id="signin-box"):
                yield Static("", id="signin-prompt", markup=False)
                yield Static("", id="signin-code", markup=False)
                yield LoadingIndicator(id="signin-wait")
                yield Static("", id="signin-status", markup=False)
        yield from self.compose_nav()

    def watch_mode(self, old_mode: str, mode: str) -> None:
        self.remove_class(f"-{old_mode}").add_class(f"-{mode}")
        self.query("#sign-in").set(disabled=mode != "idle")  # (before compose: no button yet)

    def on_mount(self) -> None:
        if self.draft.credential is not None:
            self.query_one("#signin-status", Static).update("✓ Signed in. Next lists your subscriptions.")
        self.set_interval(1.0, self.tick)

    def on_field_input_edited(self, event: FieldInput.Edited) -> None:
        self.draft.raw[event.field.dotted] = event.text
        if event.field.rule is None:
            setattr(self.draft.profile.account, event.field.dotted.split(".")[1], event.field.value)

    def tick(self) -> None:
        if self.waiting_since is not None:
            waited = int(self.app.clock.monotonic() - self.waiting_since)
            self.query_one("#signin-status", Static).update(f"Waiting for the sign-in… {waited} s")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "sign-in":
            event.stop()
            self.action_sign_in()
        elif event.button.id == "skip":
            event.stop()
            self.action_skip()
        else:
            super().on_button_pressed(event)

    def action_sign_in(self) -> None:
        fields = list(self.query(FieldInput))
        if any(f.check() for f in fields):
            self.show_problem("Fix the highlighted field first.")
            return
        account = self.draft.profile.account
        for f in fields:
            setattr(account, f.dotted.split(".")[1], f.value)
        self.show_problem(None)
        self.attempt += 1
        self.waiting_since = self.app.clock.monotonic()
        self.mode = "waiting"
        self.query_one("#signin-prompt", Static).update(f"Signing in with {account.auth}…")
        self.sign_in(account.auth, account.tenant_id, self.attempt)

    @work(thread=True, exclusive=True, group="sign-in", exit_on_error=False)
    def sign_in(self, method: str, tenant: str, attempt: int) -> None:
        try:
            credential = self.app.backend.sign_in(method, tenant,
                                                  lambda e: self.post_message(DeviceCodePrompt(e)))
        except Exception as exc:  # noqa: BLE001
            self.post_message(SignInFailed(error_text(exc)[0], attempt))
            return
        self.post_message(SignedIn(credential, attempt))

    def on_device_code_prompt(self, message: DeviceCodePrompt) -> None:
        event = message.event
        self.query_one("#signin-prompt", Static).update(
            f"Open {event.url or 'the sign-in page'} in a browser and enter the code:")
        self.query_one("#signin-code", Static).update(event.code or event.message)
        self.mode = "code"

    def on_signed_in(self, message: SignedIn) -> None:
        if message.attempt != self.attempt:
            return  # an older attempt, given up on
        self.draft.credential = message.credential
        self.draft.offline = False
        self.draft.cache.clear()
        self.done_waiting()
        self.query_one("#signin-prompt", Static).update("")
        self.query_one("#signin-status", Static).update("✓ Signed in.")
        self.app.next_after(self.wizard_key)

    def on_sign_in_failed(self, message: SignInFailed) -> None:
        if message.attempt != self.attempt:
            return
        self.done_waiting()
        self.query_one("#signin-status", Static).update("")
        self.query_one("#signin-prompt", Static).update("Sign-in failed. Change the method or tenant and "
                                                        "try again (^g).")
        self.show_problem(f"✗ {message.text}")

    def done_waiting(self) -> None:
        self.waiting_since = None
        self.mode = "idle"

    def action_skip(self) -> None:
        """Go on without signing in (a profile for CI, or made offline): the subscription is typed,
        the listing screens are skipped, and Azure checks it all when the profile runs."""
        fields = list(self.query(FieldInput))
        if any(f.check() for f in fields):
            self.show_problem("Fix the highlighted field first.")
            return
        for f in fields:
            setattr(self.draft.profile.account, f.dotted.split(".")[1], f.value)
        if not self.draft.profile.account.subscription_id:
            self.query_one("#f-account-subscription_id", FieldInput).focus_control()
            self.show_problem("✗ Subscription id: type it to go on without signing in "
                              "(az account show --query id prints yours)")
            return
        self.show_problem(None)
        self.draft.offline = True
        self.app.next_after(self.wizard_key)

    def action_next(self) -> None:
        if self.draft.credential is None:
            self.action_sign_in()
            return
        self.app.next_after(self.wizard_key)


class _ListScreen(WizardScreen):
    """A searchable list loaded from Azure in a worker; Enter picks a row and goes on."""

    COLUMNS: list[str] = []
    BINDINGS = [Binding("f5", "reload", "Reload")]

    def compose_body(self) -> ComposeResult:
        yield SearchTable(self.COLUMNS, placeholder=self.PLACEHOLDER, id="choices")
        yield Static("Loading…", id="list-status", markup=False)
        yield from self.compose_nav()

    PLACEHOLDER = "Type to filter"

    def on_mount(self) -> None:
        self.query_one("#choices #filter").focus()
        self.action_reload()

    def action_reload(self) -> None:
        if not self.app.backend.is_signed_in(self.draft.credential):
            self.query_one("#list-status", Static).update("Not signed in: go Back and sign in first.")
            return
        self.query_one("#list-status", Static).update("Loading…")
        self.query_one("#choices DataTable").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="azure-list", exit_on_error=False)
    def load(self) -> None:
        try:
            key = self.cache_key()
            if key not in self.draft.cache:
                self.draft.cache[key] = self.fetch(self.app.backend)
            self.post_message(ListingLoaded(self.draft.cache[key]))
        except Exception as exc:  # noqa: BLE001
            self.post_message(WorkFailed(error_text(exc)[0]))

    def on_listing_loaded(self, message: ListingLoaded) -> None:
        self.query_one("#choices DataTable").loading = False
        rows = self.rows(message.items)
        self.query_one(SearchTable).set_rows(rows, select=self.current())
        self.query_one("#list-status", Static).update(self.status(len(rows)))

    def on_work_failed(self, message: WorkFailed) -> None:
        self.query_one("#choices DataTable").loading = False
        self.query_one("#list-status", Static).update("")
        self.show_problem(f"✗ {message.text}\nF5 tries again; Back to sign in another way.")

    def on_search_table_chosen(self, event: SearchTable.Chosen) -> None:
        event.stop()
        self.choose(event.key)
        self.app.next_after(self.wizard_key)

    def action_next(self) -> None:
        key = self.query_one(SearchTable).highlighted
        if key is None and not self.current():
            self.show_problem("Pick one from the list first.", severity="warning")
            return
        if key is not None:
            self.choose(key)
        self.app.next_after(self.wizard_key)


class SubscriptionScreen(_ListScreen):
    wizard_key = "subscription"
    INTRO = "The subscription that pays for the service. Type to filter by name, id or tenant."
    COLUMNS = ["Name", "Subscription id", "Tenant", "State"]
    PLACEHOLDER = "Filter subscriptions"

    def cache_key(self) -> Any:
        return ("subscriptions",)

    def fetch(self, backend: Any) -> Any:
        return backend.list_subscriptions(self.draft.credential)

    def rows(self, found: Any) -> list:
        return [(s.id, (s.name, s.id, s.tenant_id, s.state)) for s in found]

    def status(self, count: int) -> str:
        return f"{count} subscription{'s' if count != 1 else ''} · Enter picks one"

    def current(self) -> str:
        return self.draft.profile.account.subscription_id

    def choose(self, key: str) -> None:
        account = self.draft.profile.account
        account.subscription_id = key
        found = {s.id: s for s in self.draft.cache.get(self.cache_key(), [])}
        if key in found and not account.tenant_id:
            account.tenant_id = found[key].tenant_id


class RegionScreen(_ListScreen):
    wizard_key = "region"
    INTRO = "The region of the workspace, compute and storage. Type to filter."
    COLUMNS = ["Region", "Name"]
    PLACEHOLDER = "Filter regions, e.g. europe"

    def cache_key(self) -> Any:
        return ("regions", self.draft.profile.account.subscription_id)

    def fetch(self, backend: Any) -> Any:
        return backend.list_regions(self.draft.credential, self.draft.profile.account.subscription_id)

    def rows(self, found: Any) -> list:
        return [(r.name, (r.display_name, r.name)) for r in found]

    def status(self, count: int) -> str:
        return f"{count} regions · Enter picks one"

    def current(self) -> str:
        return self.draft.profile.workspace.location

    def choose(self, key: str) -> None:
        self.draft.profile.workspace.location = key
        self.draft.raw.pop("workspace.location", None)


__all__ = ["SignInScreen", "SubscriptionScreen", "RegionScreen", "as_text"]
