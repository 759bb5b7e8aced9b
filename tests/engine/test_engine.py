"""The engine on the local target: idempotency, plan, drift, concurrency, failure isolation,
cancel and resume, the per-profile lock, run records and tear-down."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from engine import events as ev
from engine import paths, run
from engine.errors import LockedError
from engine.profile import load
from engine.record import last_run
from engine.targets.local.compute import Compute
from engine.targets.local.target import LocalTarget
from engine.targets.local.upload import Upload
from tests.support import Collector


def provision(profile, target=None) -> Collector:
    sink = Collector()
    run.provision(profile, sink, target=target)
    return sink


def local_files() -> set[str]:
    root = paths.local_cloud_dir()
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def test_provision_is_idempotent_and_teardown_removes_everything(make_profile) -> None:
    profile = load(str(make_profile()))
    first = provision(profile).outcomes()
    assert first == {"resource_group": "created", "workspace": "created", "containers": "created",
                     "upload": "created", "compute": "created", "access": "created", "datastores": "created",
                     "assets": "created", "endpoint": "created", "deployment": "created", "schedule": "skipped"}
    state = {p: (paths.local_cloud_dir() / p).stat().st_mtime_ns for p in local_files()}

    second = provision(profile).outcomes()
    assert set(second.values()) == {"exists", "skipped"}
    assert {p: (paths.local_cloud_dir() / p).stat().st_mtime_ns for p in local_files()} == state

    plan_sink = Collector()
    assert run.plan(profile, plan_sink).outcome == "succeeded"

    summary = run.teardown(profile, Collector())
    assert summary.outcome == "succeeded" and summary.counts["deleted"] == 9
    assert not [p for p in local_files() if (paths.local_cloud_dir() / p).is_file()]
    after = Collector()
    assert run.plan(profile, after).outcome == "changes"
    assert after.finished()["resource_group"].plan == "create"


def test_plan_changes_nothing_and_says_what_would_happen(make_profile) -> None:
    profile = load(str(make_profile()))
    sink = Collector()
    summary = run.plan(profile, sink)
    assert summary.outcome == "changes"
    assert summary.counts["would_create"] == 10
    assert local_files() == set()
    plans = {k: e.plan for k, e in sink.finished().items()}
    assert plans["upload"] == "create" and plans["schedule"] == "skip"
    assert "3 files" in sink.finished()["upload"].detail


def test_upload_skips_unchanged_files_by_content(make_profile, tmp_path: Path) -> None:
    profile = load(str(make_profile(files=3)))
    provision(profile)
    (tmp_path / "data" / "part-1.csv").write_text("id,value\n1,999\n")
    (tmp_path / "data" / "part-3.csv").write_text("id,value\n3,6\n")
    sink = provision(profile)
    upload = sink.finished()["upload"]
    assert upload.outcome == "created"
    assert "uploaded 2 files" in upload.detail
    blob = next(paths.local_cloud_dir().rglob("blobs/data/part-1.csv"))
    assert blob.read_text() == "id,value\n1,999\n"


def test_drift_updates_what_can_change_and_explains_what_cannot(make_profile) -> None:
    path = make_profile()
    provision(load(str(path)))
    changed = load(str(path), ["compute.max_nodes=4", "endpoint.mini_batch_size=20"])
    sink = provision(changed)
    outcomes = sink.outcomes()
    assert outcomes["compute"] == "updated" and "max_nodes 2 -> 4" in sink.finished()["compute"].detail
    assert outcomes["deployment"] == "updated" and "mini_batch_size 10 -> 20" in sink.finished()["deployment"].detail

    resized = load(str(path), ["compute.vm_size=Standard_DS4_v2", "compute.max_nodes=4",
                               "endpoint.mini_batch_size=20"])
    sink = provision(resized)
    compute = sink.finished()["compute"]
    assert compute.outcome == "failed"
    assert "compute.vm_size" in compute.error and "Standard_DS3_v2" in compute.error
    assert "cannot change in place" in compute.error
    assert sink.outcomes()["deployment"] == "skipped"
    # the data roles are granted to the cluster's identity before any blob is touched: no cluster, no upload
    assert sink.outcomes()["access"] == "skipped" and sink.outcomes()["upload"] == "skipped"

    moved = load(str(path), ["workspace.location=eastus"])
    workspace = provision(moved).finished()["workspace"]
    assert workspace.outcome == "failed" and "cannot move" in workspace.error


class SignalingCompute(Compute):
    def apply(self, ctx, check):
        done = super().apply(ctx, check)
        self.target.compute_done.set()
        return done


class WaitingUpload(Upload):
    def apply(self, ctx, check):
        assert self.target.compute_done.wait(10), "compute waited for the upload"
        return super().apply(ctx, check)


class SlowUploadTarget(LocalTarget):
    """The real local target, with an upload that waits until the compute step has finished."""

    compute_done = None
    steps = {**LocalTarget.steps, "compute": SignalingCompute, "upload": WaitingUpload}


def test_independent_steps_run_concurrently(make_profile) -> None:
    profile = load(str(make_profile()))
    target = SlowUploadTarget(profile, lambda e: None, run.CancelToken())
    target.compute_done = threading.Event()
    sink = provision(profile, target)
    assert sink.outcomes()["upload"] == "created"
    order = [e.step for e in sink.events if isinstance(e, ev.StepFinished)]
    assert order.index("compute") < order.index("upload")


class BrokenCompute(Compute):
    def apply(self, ctx, check):
        raise RuntimeError("quota exceeded for family standardDSv2Family")


class BrokenComputeTarget(LocalTarget):
    steps = {**LocalTarget.steps, "compute": BrokenCompute}


def test_a_failed_step_stops_only_what_depends_on_it(make_profile) -> None:
    profile = load(str(make_profile()))
    sink = Collector()
    summary = run.provision(profile, sink, target=BrokenComputeTarget(profile, sink, run.CancelToken()))
    outcomes = sink.outcomes()
    assert summary.outcome == "failed"
    assert outcomes["compute"] == "failed"
    assert "quota exceeded" in sink.finished()["compute"].error
    assert outcomes["deployment"] == "skipped" and "compute failed" in sink.finished()["deployment"].detail
    assert outcomes["schedule"] == "skipped"
    for independent in ("assets", "endpoint"):
        assert outcomes[independent] == "created"
    # the blobs wait for the data roles, which need the cluster's identity
    for waiting in ("access", "containers", "upload", "datastores"):
        assert outcomes[waiting] == "skipped"
    # the re-run completes what is missing and does not re-create the rest
    again = provision(profile).outcomes()
    assert again["compute"] == "created" and again["deployment"] == "created"
    assert again["upload"] == "created" and again["endpoint"] == "exists"


class UploadThenCancel(Upload):
    """Asks the run to stop once the first file is uploaded (as Ctrl+C would)."""

    def apply(self, ctx, check):
        original = ctx.progress

        def progress(done, total, unit=""):
            original(done, total, unit)
            ctx.cancel.cancel()

        ctx.progress = progress
        return super().apply(ctx, check)


class CancelDuringUpload(LocalTarget):
    steps = {**LocalTarget.steps, "upload": UploadThenCancel}


def test_cancel_stops_between_operations_and_the_next_run_resumes(make_profile) -> None:
    profile = load(str(make_profile(files=30)))
    sink = Collector()
    cancel = run.CancelToken()
    summary = run.provision(profile, sink, cancel, target=CancelDuringUpload(profile, sink, cancel))
    assert summary.outcome == "canceled"
    outcomes = sink.outcomes()
    assert outcomes["upload"] == "canceled"
    assert outcomes["schedule"] == "canceled"
    uploaded = len(list(paths.local_cloud_dir().rglob("blobs/data/*.csv")))
    assert 1 <= uploaded < 30
    assert not list(paths.local_cloud_dir().rglob("*.uploading"))

    resumed = provision(profile)
    upload = resumed.finished()["upload"]
    assert upload.outcome == "created"
    assert f"uploaded {30 - uploaded} files" in upload.detail
    assert resumed.outcomes()["resource_group"] == "exists"


def test_a_second_run_of_the_same_profile_is_refused(make_profile) -> None:
    profile = load(str(make_profile()))
    with run.profile_lock(profile):
        with pytest.raises(LockedError, match="already being run"):
            run.provision(profile, Collector())
        with pytest.raises(LockedError, match="already being run"):
            run.teardown(profile, Collector())
        assert run.plan(profile, Collector()).outcome == "changes"  # looking changes nothing: allowed
    assert provision(profile).outcomes()["workspace"] == "created"


def test_every_run_appends_a_record_of_its_events(make_profile) -> None:
    profile = load(str(make_profile()))
    sink = provision(profile)
    records = sorted(paths.runs_dir(profile.name).glob("*.jsonl"))
    assert len(records) == 1
    lines = [json.loads(line) for line in records[0].read_text().splitlines()]
    assert [line["type"] for line in lines] == [e.type for e in sink.events]
    assert all(line["v"] == ev.EVENT_SCHEMA and line["ts"] > 0 for line in lines)
    assert lines[0]["type"] == "run_started" and lines[-1]["type"] == "run_finished"
    assert last_run(profile.name)["outcome"] == "succeeded"
    run.plan(profile, Collector())
    assert last_run(profile.name)["action"] == "provision"  # a plan is not the last run
    assert [ev.from_dict(line) for line in lines] == sink.events


# A second profile in the first one's workspace: its own names for everything that is not shared.
GUEST_TABLES = ('\n[compute]\nname = "guest-cluster"\n[endpoint]\nname = "guest-endpoint"\n'
                '[storage]\ninput_datastore = "guest_in"\noutput_datastore = "guest_out"\n')
GUEST_SETS = ["data.prefix=guest", "scorer.model_name=guest-model", "scorer.environment_name=guest-env"]


def without_id(text: str) -> str:
    """A profile file's text as a new profile (copying a file with its id would be a copy of that profile)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("id ="))


def test_teardown_keeps_what_another_profile_created(make_profile, tmp_path: Path) -> None:
    owner = load(str(make_profile(name="owner")))
    provision(owner)
    guest = load(str(make_profile(name="guest", extra=GUEST_TABLES)), GUEST_SETS)
    outcomes = provision(guest).outcomes()
    assert outcomes["resource_group"] == "exists" and outcomes["compute"] == "created"

    sink = Collector()
    run.teardown(guest, sink)
    outcomes = sink.outcomes()
    assert outcomes["compute"] == "deleted" and outcomes["endpoint"] == "deleted"
    assert outcomes["resource_group"] == "skipped" and "not created by this profile" in sink.finished()["resource_group"].detail
    assert outcomes["workspace"] == "skipped"
    assert set(provision(owner).outcomes().values()) <= {"exists", "skipped"}


def test_endpoint_names_are_unique_per_region(make_profile, tmp_path: Path) -> None:
    provision(load(str(make_profile(name="first", extra='[endpoint]\nname = "shared-name"\n'))))
    other = tmp_path / "second.toml"
    other.write_text(without_id((tmp_path / "first.toml").read_text()).replace('resource_group', 'x')
                     + '\n[workspace]\nresource_group = "other-rg"\n')
    sink = provision(load(str(other)))
    endpoint = sink.finished()["endpoint"]
    assert endpoint.outcome == "failed"
    assert "'shared-name' is already taken in westeurope" in endpoint.error
    assert 'try endpoint.name = "shared-name-2"' in endpoint.error


def test_schedule_created_updated_and_removed(make_profile, tmp_path: Path) -> None:
    path = make_profile(extra='[schedule]\nfrequency = "hour"\ninterval = 2\n')
    assert provision(load(str(path))).outcomes()["schedule"] == "created"
    sink = provision(load(str(path), ["schedule.interval=6"]))
    assert sink.outcomes()["schedule"] == "updated" and "every 6 hour(s)" in sink.finished()["schedule"].detail
    sink = provision(load(str(path), ["schedule.frequency="]))
    assert sink.outcomes()["schedule"] == "updated" and "remove schedule" in sink.finished()["schedule"].detail
    assert provision(load(str(path), ["schedule.frequency="])).outcomes()["schedule"] == "skipped"


def test_changed_scorer_registers_a_new_model_version_only(make_profile, tmp_path: Path) -> None:
    profile = load(str(make_profile()))
    first = provision(profile).finished()["assets"].detail
    (tmp_path / "myscorer" / "model" / "weights.bin").write_bytes(b"retrained")
    sink = provision(profile)
    assets = sink.finished()["assets"]
    assert assets.outcome == "created"
    assert "model" in assets.detail and "environment" not in assets.detail and "code" not in assets.detail
    assert sink.outcomes()["deployment"] == "updated"
    assert first != assets.detail


def test_events_never_carry_secrets(make_profile) -> None:
    profile = load(str(make_profile()))
    from engine.secrets import redact, remember

    remember("s3cr3t-account-key-value==")
    assert redact("conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==;") == \
        "conn: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=***;"
    assert redact("https://a.blob.core.windows.net/c?sv=2024&sig=abcDEF%2B&se=x") == \
        "https://a.blob.core.windows.net/c?sv=2024&sig=***&se=x"
    assert redact("Authorization: Bearer eyJ0eXAiOi.abc.def") == "Authorization: Bearer ***"

    class LeakyCompute(Compute):
        def apply(self, ctx, check):
            ctx.log("using key s3cr3t-account-key-value== for the account")
            return super().apply(ctx, check)

    class Leaky(LocalTarget):
        steps = {**LocalTarget.steps, "compute": LeakyCompute}

    sink = Collector()
    run.provision(profile, sink, target=Leaky(profile, sink, run.CancelToken()))
    text = "\n".join(json.dumps(e.to_dict()) for e in sink.events)
    record = "".join(p.read_text() for p in paths.runs_dir(profile.name).glob("*.jsonl"))
    assert "s3cr3t-account-key-value" not in text and "s3cr3t-account-key-value" not in record
    assert "using key *** for the account" in text


def test_a_step_not_run_blocks_what_needs_it_too(make_profile) -> None:
    profile = load(str(make_profile(extra='[schedule]\nfrequency = "day"\n')))
    sink = Collector()
    run.provision(profile, sink, target=BrokenComputeTarget(profile, sink, run.CancelToken()))
    finished = sink.finished()
    assert finished["deployment"].outcome == "skipped"
    assert finished["schedule"].outcome == "skipped"
    assert finished["schedule"].detail == "not run: deployment not run"
