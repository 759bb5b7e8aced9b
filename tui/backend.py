"""The one object through which the wizard reaches the engine and Azure.

The app is handed a Backend (`AmlBatchApp(backend=...)`, a real one by default); tests hand in a
scripted one. Every method blocks, so screens call them from thread workers. Each method imports
its engine module when first called: starting the app loads neither the engine's runner nor an
Azure SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

Emit = Callable[[Any], None]


@dataclass
class SavedProfile:
    """A row of the start screen; `target` is "invalid" when the file cannot be read."""

    name: str
    target: str
    region: str
    workspace: str
    last_run: dict[str, Any] | None


def quiet_azure_logging() -> None:
    """The Azure SDKs log to stderr at import; inside the app that would draw over the screen."""
    import logging

    for name in ("azure", "msal", "urllib3"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, logging.StreamHandler)]
        logger.propagate = False


class Backend:
    """The engine and Azure, as the screens use them."""

    # ------------------------------------------------------------------ profiles

    def saved_profiles(self) -> list[SavedProfile]:
        from engine import profile as profiles
        from engine.record import last_run

        rows = []
        for path in profiles.list_profiles():
            try:
                p = profiles.load(str(path), environ={})
                target, region, workspace = p.target, p.workspace.location, p.workspace.name
            except Exception:  # noqa: BLE001 - an unreadable profile is listed, not fatal
                target, region, workspace = "invalid", "", "(cannot read: open it to see why)"
            rows.append(SavedProfile(path.stem, target, region, workspace, last_run(path.stem)))
        return rows

    def open_profile(self, name: str, sets: Iterable[str] = ()) -> Any:
        """Load a saved profile; the demo is made on first use (and its data files if missing)."""
        from engine import demo
        from engine import profile as profiles

        if demo.is_missing_demo(name):
            demo.create_demo_profile()
        loaded = profiles.load(name, list(sets))
        if loaded.name == demo.DEMO and loaded.path == profiles.profile_path(demo.DEMO):
            demo.ensure_demo_data()
        return loaded

    # ------------------------------------------------------------------ azure sign-in and listings

    def is_signed_in(self, credential: Any) -> bool:
        """Whether the Azure listings can be asked for."""
        return credential is not None

    def sign_in(self, method: str, tenant_id: str, emit: Emit) -> Any:
        """A credential; a device-code sign-in emits its URL and code first."""
        quiet_azure_logging()
        from engine import cloud

        return cloud.sign_in(method, tenant_id, emit=emit)

    def list_subscriptions(self, credential: Any) -> list[Any]:
        from engine import cloud

        return cloud.list_subscriptions(credential)

    def list_regions(self, credential: Any, subscription_id: str) -> list[Any]:
        from engine import cloud

        return cloud.list_regions(credential, subscription_id)

    def list_vm_sizes(self, credential: Any, subscription_id: str, region: str) -> list[Any]:
        from engine import cloud

        return cloud.list_vm_sizes(credential, subscription_id, region)

    # ------------------------------------------------------------------ the service

    def plan(self, profile: Any, emit: Emit, cancel: Any) -> Any:
        """Preflight checks, then what a run would do (nothing changes)."""
        from engine import run

        run.preflight(profile)
        return run.plan(profile, emit, cancel)

    def provision(self, profile: Any, emit: Emit, cancel: Any) -> Any:
        """Preflight checks, then make what is missing; a RunSummary."""
        from engine import run

        run.preflight(profile)
        return run.provision(profile, emit, cancel)

    def teardown(self, profile: Any, emit: Emit, cancel: Any, plan_only: bool = False,
                 cancel_jobs: bool = False) -> Any:
        """Delete what the profile created (with `plan_only`, only say what would go). Refused with
        JobsRunningError while its scoring runs are not finished, unless `cancel_jobs` cancels them."""
        from engine import run

        return run.teardown(profile, emit, cancel, plan_only=plan_only, cancel_jobs=cancel_jobs)

    def new_id(self, profile: Any) -> str:
        """Give a copied profile file its own id (amlbatch --new-id); it then owns nothing yet."""
        from engine import identity

        return identity.new_id(profile)

    # ------------------------------------------------------------------ scoring runs

    def submit(self, profile: Any, emit: Emit, cancel: Any, input_path: str | None) -> Any:
        """Submit a scoring job and wait for its end; its JobInfo."""
        from engine import jobs

        return jobs.submit(profile, emit, cancel, input_path=input_path, wait=True)

    def preview(self, profile: Any, job_id: str, limit: int) -> list[str]:
        """Up to `limit` result rows of a job, as CSV lines."""
        from engine import jobs

        return jobs.preview(profile, job_id, limit)

    def results(self, profile: Any, job_id: str, out_dir: Path) -> list[Path]:
        """Copy a job's result files into `out_dir`."""
        from engine import jobs

        return jobs.results(profile, job_id, out_dir)

    # ------------------------------------------------------------------ cost and the local service

    def estimate_cost(self, profile: Any) -> Any:
        """What the profile costs on Azure, looked up in the background (README: Cost)."""
        from engine.pricing import estimate_later

        return estimate_later(profile)

    def run_cost(self, profile: Any, job: Any) -> list[str]:
        """What a finished run's node time costs (on the local target: would cost on Azure)."""
        from engine.pricing import run_cost

        return run_cost(profile, job).lines()

    def serve(self, profile: Any, say: Callable[[str], None]) -> Any:
        """The local service (amlbatch --serve), started on its usual port, else on any free one."""
        from engine.serve import DEFAULT_PORT, LocalService
        from engine.serve_http import PortTaken

        for port in (DEFAULT_PORT, 0):
            service = LocalService(profile, say, port)
            try:
                service.start()
                return service
            except PortTaken:
                service.stop()
            except BaseException:
                service.stop()
                raise
        raise PortTaken("no free port on 127.0.0.1 for the local service")
