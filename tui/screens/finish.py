"""Finish: what was made, where the data lives, and what to do next (score or tear down)."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Log, Markdown

from tui.screens.base import ServiceScreen


def uri_in(text: str) -> str:
    """The first URI-looking word of a step's detail (e.g. the endpoint's scoring URI)."""
    for word in text.replace("(", " ").replace(")", " ").split():
        if "://" in word:
            return word.strip("'\",;")
    return ""


def account_in(text: str) -> str:
    """The storage account named at the end of the containers step's detail ('... in ACCOUNT')."""
    words = text.split()
    if len(words) >= 2 and words[-2] == "in":
        return words[-1].strip("'\".,")
    return ""


def portal_links(profile: Any) -> list[tuple[str, str]]:
    sub, rg = profile.account.subscription_id, profile.workspace.resource_group
    ws = profile.workspace.name
    tenant = profile.account.tenant_id
    wsid = (f"/subscriptions/{sub}/resourcegroups/{rg}/providers/"
            f"Microsoft.MachineLearningServices/workspaces/{ws}")
    tid = f"&tid={tenant}" if tenant else ""
    portal = f"https://portal.azure.com/#@{tenant}" if tenant else "https://portal.azure.com/#"
    return [
        ("Resource group", f"{portal}/resource/subscriptions/{sub}/resourceGroups/{rg}/overview"),
        ("Workspace in ML studio", f"https://ml.azure.com/?wsid={wsid}{tid}"),
        ("Batch endpoint", f"https://ml.azure.com/endpoints/batch/{profile.endpoint_name}/detail"
                           f"?wsid={wsid}{tid}"),
        ("Jobs", f"https://ml.azure.com/jobs?wsid={wsid}{tid}"),
    ]


class ServeLine(Message):
    """A line the local service said, carried to the screen from its threads."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class FinishScreen(ServiceScreen):
    TITLE_TEXT = "Ready"
    DEFAULT_CSS = "#serve-log { height: 14; }"
    BINDINGS = [
        Binding("s", "submit", "Submit scoring run"),
        Binding("v", "serve", "Serve locally"),
        Binding("t", "teardown", "Tear down"),
        Binding("h", "home", "Start screen"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, profile: Any, finished: dict[str, Any]) -> None:
        super().__init__()
        self.profile = profile
        self.finished = finished
        self.service: Any = None  # the local service (engine.serve), while this screen lives
        self.closing = False

    def title_text(self) -> str:
        return f"Ready · profile {self.profile.name} · target {self.profile.target}"

    def details(self) -> str:
        p = self.profile
        endpoint = self.finished.get("endpoint")
        containers = self.finished.get("containers")
        upload = self.finished.get("upload")
        uri = uri_in(endpoint.detail) if endpoint is not None else ""
        account = account_in(containers.detail) if containers is not None else ""
        lines = ["## The batch scoring service is ready", ""]
        lines.append(f"- **Endpoint**: `{p.endpoint_name}` · deployment `{p.endpoint.deployment}` (default)")
        lines.append(f"- **REST URI**: `{uri or 'see the endpoint in the workspace'}`")
        if p.target == "local":
            lines.append(f"  - answered on this machine with Azure's REST API while served: `v` here, or "
                         f"`amlbatch --profile {p.name} --serve`")
        lines.append(f"- **Workspace**: `{p.workspace.name}` in resource group `{p.workspace.resource_group}`"
                     f" ({p.workspace.location})")
        lines.append(f"- **Compute**: `{p.compute.name}` {p.compute.vm_size}, "
                     f"{p.compute.min_nodes}-{p.compute.max_nodes} nodes")
        where = f" in storage account `{account}`" if account else ""
        lines.append(f"- **Input data**: container `{p.storage.input_container}`, folder "
                     f"`{p.data.prefix}`{where} (datastore `{p.storage.input_datastore}`)")
        if upload is not None and upload.detail:
            lines.append(f"  - {upload.detail}")
        lines.append(f"- **Results**: container `{p.storage.output_container}` "
                     f"(datastore `{p.storage.output_datastore}`), file `{p.endpoint.output_file_name}`")
        if p.schedule.frequency:
            lines.append(f"- **Schedule**: `{p.schedule.name}` every {p.schedule.interval} "
                         f"{p.schedule.frequency}(s)")
        if p.target == "azure":
            lines += ["", "### In the Azure portal", ""]
            lines += [f"- [{label}]({url})" for label, url in portal_links(p)]
        else:
            from engine import paths

            lines += ["", f"The local target keeps these resources under `{paths.local_cloud_dir()}`."]
        lines += ["", "Headless, the same profile runs with "
                      f"`amlbatch --profile {p.name} --submit` (see `--help`)."]
        return "\n".join(lines)

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="finish-box"):
            yield Markdown(self.details(), id="finish-text", open_links=False)
            serve_log = Log(id="serve-log", auto_scroll=True)
            serve_log.display = False  # shown once the local service runs
            yield serve_log
        with Horizontal(id="nav"):
            yield Button("Home h", id="home", compact=True)
            yield Button("Tear down t", id="teardown", variant="error", compact=True)
            if self.profile.target == "local":
                yield Button("Serve locally v", id="serve", compact=True)
            yield Button("Submit a scoring run s", id="submit", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#submit", Button).focus()

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        self.app.open_url(event.href)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"home": self.action_home, "teardown": self.action_teardown, "serve": self.action_serve,
         "submit": self.action_submit}[event.button.id]()

    def action_submit(self) -> None:
        self.app.go("job", self.profile)

    # -- the local service (as `--serve`): started in a thread of the app, stopped with this screen

    def action_serve(self) -> None:
        if self.profile.target != "local" or self.service is not None:
            return
        self.query_one("#serve", Button).disabled = True
        self.run_worker(self._start_service, thread=True, exclusive=True, group="serve")

    def _start_service(self) -> None:
        from engine.errors import AmlBatchError

        def say(line: str) -> None:  # from the service's threads: posting never waits for the screen
            self.post_message(ServeLine(line))

        try:
            service = self.app.backend.serve(self.profile, say)  # the address it shows is the truth
        except AmlBatchError as exc:
            self.app.call_from_thread(self._serve_failed, str(exc))
            return
        if self.closing:  # the screen went while the service started
            service.stop()
            return
        self.service = service
        self.app.call_from_thread(self._serving)

    def _serving(self) -> None:
        self.query_one("#serve", Button).label = "Serving"
        self.show_problem(f"Serving at {self.service.url} (token and curl below); leaving this screen or the "
                          "app stops it", severity="info")

    def _serve_failed(self, text: str) -> None:
        self.query_one("#serve", Button).disabled = False
        self.show_problem(f"✗ {text}")

    def on_serve_line(self, message: "ServeLine") -> None:
        log = self.query_one("#serve-log", Log)
        log.display = True
        log.write_line(message.line)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.profile.target == "local" if action == "serve" else True

    def on_unmount(self) -> None:
        self.closing = True
        if self.service is not None:
            self.service.stop()
            self.service = None

