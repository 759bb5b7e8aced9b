"""Fixtures of the Textual app's tests: colour on (snapshots compare themes), a fixed clock,
a scripted backend, and local profiles made without touching the developer's own."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from engine import events as ev
from tests.support import write_scorer
from tui.backend import Backend

SNAP_HOME = Path("/tmp/amlbatch-tui-snapshots")  # fixed, so paths in snapshots never change
STEPS = (("resource_group", "Resource group"), ("workspace", "Workspace"),
         ("containers", "Storage containers"), ("upload", "Data upload"), ("compute", "Compute cluster"),
         ("datastores", "Datastores"), ("assets", "Environment, model and code"),
         ("endpoint", "Batch endpoint"), ("deployment", "Deployment"), ("schedule", "Schedule"))


@pytest.fixture(autouse=True)
def colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)


class FakeClock:
    """Fixed time; `advance` moves it."""

    def __init__(self, start: float = 1_000.0, now: float = 1_800_000_000.0) -> None:
        self.t, self.wall = start, now

    def monotonic(self) -> float:
        return self.t

    def now(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.wall += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def write_data(folder: Path, files: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"part-{i}.csv").write_text("id,x\n" + "".join(f"{j},{j * i}\n" for j in range(10)))
    return folder


def make_profile(home: Path, name: str = "snap", target: str = "local", save: bool = True, **sections: Any):
    """A local profile over a small scorer and data folder inside `home`."""
    from engine.profile import Profile, profile_path
    from engine.profile import save as save_profile

    scorer = write_scorer(home / "work" / "scorer")
    data = write_data(home / "work" / "data")
    p = Profile(name=name, path=profile_path(name), target=target)
    p.scorer.folder = str(scorer)
    p.data.files = [str(data / "*.csv")]
    p.workspace.resource_group, p.workspace.name = "snap-rg", "snap-ws"
    p.endpoint.name = "snap-endpoint"
    for section, values in sections.items():
        for key, value in values.items():
            setattr(getattr(p, section), key, value)
    if save:
        save_profile(p)
    return p


def shows_snap_home(item: pytest.Item) -> bool:
    """Whether the test's stored snapshot shows a path under SNAP_HOME (or it has none yet)."""
    stored = item.path.parent / "__snapshots__" / item.path.stem / f"{item.name}.svg"
    try:
        return SNAP_HOME.name in stored.read_text(encoding="utf-8")
    except OSError:
        return True


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A snapshot that shows SNAP_HOME needs that very folder: those tests run in one pytest-xdist
    group (`--dist loadgroup`), one at a time, and first, so this longest unit of work is not left
    for last. Every other snapshot test gets a folder of its own process (see `snap_home`), so they
    spread over the workers. Updating snapshots puts them all on SNAP_HOME."""
    updating = config.getoption("--snapshot-update", default=False)
    fixed = {id(item) for item in items if "snap_home" in getattr(item, "fixturenames", ())
             and (updating or shows_snap_home(item))}
    for item in items:
        if id(item) in fixed:
            item.add_marker(pytest.mark.xdist_group("snap_home"))
    items.sort(key=lambda item: id(item) not in fixed)  # stable: each part keeps its order


_OWN_HOME: list[Path] = []  # this process's stand-in for SNAP_HOME, made on first use


def own_snap_home() -> Path:
    """A folder of this process, its path as long as SNAP_HOME's, so no layout differs by it."""
    if not _OWN_HOME:
        SNAP_HOME.parent.mkdir(parents=True, exist_ok=True)  # /tmp: on Windows, maybe not there yet
        _OWN_HOME.append(Path(tempfile.mkdtemp(prefix="amlbatch-tui-s", dir=SNAP_HOME.parent)))
        assert len(str(_OWN_HOME[0])) == len(str(SNAP_HOME))
    return _OWN_HOME[0]


@pytest.fixture
def snap_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """AMLBATCH_HOME for a snapshot, emptied first: snapshot text never carries a tmp path. A test
    whose snapshot shows the folder gets the fixed SNAP_HOME, under a lock that keeps test sessions
    of other checkouts on this machine out of it meanwhile; any other gets its own process's."""
    from filelock import FileLock

    if request.node.get_closest_marker("xdist_group") is None:
        yield from _home_for_a_snapshot(own_snap_home(), monkeypatch)
        return
    SNAP_HOME.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{SNAP_HOME}.lock"):
        yield from _home_for_a_snapshot(SNAP_HOME, monkeypatch)


def _home_for_a_snapshot(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    monkeypatch.setenv("AMLBATCH_HOME", str(home))
    monkeypatch.chdir(home)
    before = set(threading.enumerate())
    yield home
    # workers the app left behind still write here; threads older than the test (tqdm's monitor,
    # which azure-ai-ml's downloads start and which never ends) would each cost the full timeout
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
    shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------------- scripted engine

def finished(step: str, outcome: str, duration: float = 1.5, detail: str = "", error: str = "",
             plan: str = "") -> ev.StepFinished:
    return ev.StepFinished(step, outcome, duration, detail or f"{step.replace('_', ' ')} ok", plan, error)


def summary(outcome: str, steps: dict[str, ev.StepFinished]) -> Any:
    from engine.run import RunSummary

    counts: dict[str, int] = {}
    for f in steps.values():
        counts[f.outcome] = counts.get(f.outcome, 0) + 1
    return RunSummary("run-1", "provision", outcome, 12.0, counts, steps)


def scripted_runner(done: int = 10, fail_at: str | None = None, block: bool = False,
                    logs: int = 3, endpoint_uri: str = "https://snap-endpoint.westeurope.inference.ml.azure.com/jobs"
                    ) -> Callable[[Any, Any, Any], Any]:
    """A runner that emits a fixed story: `done` steps finish (created), then optionally one
    fails, or the run blocks with the next step running until canceled."""

    def run(profile: Any, emit: Any, cancel: Any) -> Any:
        keys = tuple(k for k, _ in STEPS)
        emit(ev.RunStarted("run-1", profile.name, profile.target, "provision", keys, tuple(t for _, t in STEPS)))
        steps: dict[str, ev.StepFinished] = {}
        for index, (key, _) in enumerate(STEPS):
            emit(ev.StepStarted(key, key))
            for n in range(logs):
                emit(ev.StepLog(key, f"{key}: line {n + 1}"))
            if key == fail_at:
                f = finished(key, "failed", 2.0, error="compute.vm_size: quota exceeded for "
                             "standardDSv2Family in westeurope (6 of 6 cores used); pick another size "
                             "or ask for more quota")
                emit(f)
                steps[key] = f
                for rest, _ in STEPS[index + 1:]:
                    emit(ev.StepStarted(rest, rest))
                    skip = finished(rest, "skipped", 0.0, detail=f"not run: {key} failed")
                    emit(skip)
                    steps[rest] = skip
                emit(ev.RunFinished("run-1", "failed", 12.0, {}))
                return summary("failed", steps)
            if index >= done:
                if key == "upload":
                    emit(ev.StepProgress(key, 7, 20, "files"))
                if block:
                    while not cancel.wait(0.02):
                        pass
                    f = finished(key, "canceled", 3.0, detail="stopped before it finished")
                    emit(f)
                    steps[key] = f
                    for rest, _ in STEPS[index + 1:]:
                        emit(ev.StepStarted(rest, rest))
                        c = finished(rest, "canceled", 0.0, detail="not started: the run was canceled")
                        emit(c)
                        steps[rest] = c
                    emit(ev.RunFinished("run-1", "canceled", 12.0, {}))
                    return summary("canceled", steps)
            detail = f"endpoint 'snap-endpoint' {endpoint_uri}" if key == "endpoint" else ""
            f = finished(key, "skipped" if key == "schedule" else "created", 1.25, detail=detail)
            emit(f)
            steps[key] = f
        emit(ev.RunFinished("run-1", "succeeded", 12.0, {}))
        return summary("succeeded", steps)

    return run


def scripted_submitter(status: str = "Completed", block: bool = False):
    from engine.jobs import JobInfo
    from engine.paths import data_dir

    def submit(profile: Any, emit: Any, cancel: Any, input_path: Any) -> Any:
        job_id = "snap-endpoint-20260101000000-abc123"
        # as the local target writes them: absolute paths under the state root
        blobs = data_dir() / "local/subscriptions/local/resourceGroups/snap-rg/storageAccounts/snapwse8aa68fd/containers"
        emit(ev.JobSubmitted(job_id, "azureml://datastores/amlbatch_input/paths/data",
                             str(blobs / "amlbatch-output/blobs/snap-endpoint" / job_id)))
        emit(ev.JobStatus(job_id, "Running"))
        emit(ev.JobProgress(job_id, 3, 4, 15, 20, 7_500, 1))
        for n in range(3):
            emit(ev.JobLog(job_id, "worker-1", f"scored mini-batch {n + 1}"))
        if block:
            while not cancel.wait(0.02):
                pass
            status_ = "Canceled"
        else:
            status_ = status
        failed = [[str(blobs / "amlbatch-input/blobs/data/part-9.csv"), "missing column 'x'"]] \
            if status_ != "Completed" else []
        for name, reason in failed:
            emit(ev.JobLog(job_id, "overview", f"failed: {name}: {reason}", "error"))
        emit(ev.JobFinished(job_id, status_, 10_000, len(failed), 4.0, "results/"))
        return JobInfo(job_id, status_, 0.0, "data", "<output>/snap-endpoint-20260101000000-abc123",
                       10_000, len(failed), 4.0, "1 file failed" if failed else "", failed)

    return submit


def fake_preview(rows: int = 400) -> list[str]:
    out = []
    for i in range(rows):
        p = ((i * 37) % 100) / 100 if i % 3 else ((i * 7) % 10) / 100
        out.append(f"part-{i // 100}.csv,{i % 100},{'malignant' if p >= 0.5 else 'benign'},{p:.6f}")
    return out


class ScriptedBackend(Backend):
    """The real backend (the local engine), except for what a test scripts: `runner` stands in
    for provision, `submitter` for submit, `previewer` for preview. A test may swap one while the
    app runs."""

    def __init__(self, runner: Callable[..., Any] | None = None, submitter: Callable[..., Any] | None = None,
                 previewer: Callable[..., Any] | None = None) -> None:
        self.runner, self.submitter, self.previewer = runner, submitter, previewer

    def provision(self, profile: Any, emit: Any, cancel: Any) -> Any:
        if self.runner is None:
            return super().provision(profile, emit, cancel)
        return self.runner(profile, emit, cancel)

    def submit(self, profile: Any, emit: Any, cancel: Any, input_path: str | None) -> Any:
        if self.submitter is None:
            return super().submit(profile, emit, cancel, input_path)
        return self.submitter(profile, emit, cancel, input_path)

    def preview(self, profile: Any, job_id: str, limit: int) -> list[str]:
        if self.previewer is None:
            return super().preview(profile, job_id, limit)
        return self.previewer(profile, job_id, limit)


class FakeCloud(Backend):
    """The real backend with a scripted Azure for the azure screens: a device-code sign-in (that
    may fail), and subscription, region and VM size lists that need no sign-in."""

    def __init__(self, fail_sign_in: str = "") -> None:
        self.fail_sign_in = fail_sign_in
        self.signed_in = threading.Event()

    def is_signed_in(self, credential: Any) -> bool:
        return True

    def sign_in(self, method: str, tenant_id: str, emit: Any) -> Any:
        if emit is not None and method == "device_code":
            emit(ev.SignInPrompt("To sign in, open https://microsoft.com/devicelogin and enter the code "
                                 "FAKE-CODE-42", url="https://microsoft.com/devicelogin", code="FAKE-CODE-42"))
        if self.fail_sign_in:
            from engine.errors import AmlBatchError

            raise AmlBatchError(self.fail_sign_in)
        self.signed_in.set()
        return object()

    def list_subscriptions(self, credential: Any) -> list:
        from types import SimpleNamespace as S

        return [S(id="11111111-1111-1111-1111-111111111111", name="Contoso Dev",
                  tenant_id="aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", state="Enabled"),
                S(id="22222222-2222-2222-2222-222222222222", name="Contoso Prod",
                  tenant_id="aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", state="Enabled"),
                S(id="33333333-3333-3333-3333-333333333333", name="Fabrikam Research",
                  tenant_id="bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb", state="Disabled")]

    def list_regions(self, credential: Any, subscription_id: str) -> list:
        from types import SimpleNamespace as S

        return [S(name=n, display_name=d) for n, d in
                (("eastus", "East US"), ("northeurope", "North Europe"), ("swedencentral", "Sweden Central"),
                 ("westeurope", "West Europe"), ("westus2", "West US 2"))]

    def list_vm_sizes(self, credential: Any, subscription_id: str, region: str) -> list:
        from types import SimpleNamespace as S

        return [S(name="Standard_DS2_v2", family="standardDSv2Family", cores=2, memory_gb=7.0, quota_left=10),
                S(name="Standard_DS3_v2", family="standardDSv2Family", cores=4, memory_gb=14.0, quota_left=10),
                S(name="Standard_D4s_v3", family="standardDSv3Family", cores=4, memory_gb=16.0, quota_left=0),
                S(name="Standard_E8s_v3", family="standardESv3Family", cores=8, memory_gb=64.0, quota_left=None)]


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (workers and timers included)."""
    import time

    from textual.css.query import NoMatches

    def holds() -> bool:
        try:
            return bool(condition())
        except NoMatches:
            return False  # not composed yet

    end = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


async def started(pilot: Any) -> None:
    """The app pushes its start screen just after Textual's start-up (tui/app.py): wait for it, so
    that the screens a test pushes go above it."""
    await wait_for(pilot, lambda: any(type(s).__name__ == "StartScreen" for s in pilot.app.screen_stack))
