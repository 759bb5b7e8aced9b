"""The target contract: a new target and a new step plug in through engine.contract alone, and a
target that lacks an operation is refused when it is built, naming what it lacks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import events as ev
from engine import jobs, run, targets
from engine.contract import Step, Target, TargetError
from engine.errors import ProfileError
from engine.jobinfo import JobInfo
from engine.profile import load
from engine.steps import STEPS, Check, Done, StepSpec, delete_check, none
from tests.support import Collector

# A toy cloud: one dict, resource name -> owning profile. A target's whole state.
TOY_GRAPH = (StepSpec("bucket", "Bucket"), StepSpec("greeting", "Greeting", ("bucket",)))


class Bucket(Step):
    key = "bucket"

    def check(self, ctx):
        if "bucket" in self.target.cloud:
            return none("bucket", "bucket")
        return Check("create", "bucket")

    def apply(self, ctx, check):
        self.target.cloud["bucket"] = self.profile.name
        return Done("created", "bucket", "bucket")

    def check_delete(self, ctx):
        owner = self.target.cloud.get("bucket")
        return delete_check("bucket", owner is not None, owner == self.profile.name)

    def delete(self, ctx, check):
        del self.target.cloud["bucket"]
        return Done("deleted", check.detail)


class Greeting(Step):
    """The extra step: it reads what the step it needs found."""

    key = "greeting"

    def check(self, ctx):
        want = f"hello from {ctx.value('bucket')}"
        if self.target.cloud.get("greeting") == want:
            return none(want)
        return Check("create", want, want)

    def apply(self, ctx, check):
        self.target.cloud["greeting"] = check.value
        return Done("created", check.detail)

    def check_delete(self, ctx):
        return delete_check("greeting", "greeting" in self.target.cloud, True)

    def delete(self, ctx, check):
        del self.target.cloud["greeting"]
        return Done("deleted", check.detail)


class ToyTarget(Target):
    name = "toy"
    graph = TOY_GRAPH
    steps = {"bucket": Bucket, "greeting": Greeting}
    cloud: dict[str, str] = {}

    def submit_job(self, input_path):
        job = JobInfo("toy-1", "Completed", time.time(), input=input_path or "uploaded", rows=3)
        self.cloud["job"] = job.job_id
        return job

    def get_job(self, job_id):
        return JobInfo(job_id, "Completed", 0.0, rows=3)

    def list_jobs(self):
        return [self.get_job(self.cloud["job"])] if "job" in self.cloud else []

    def cancel_job(self, job_id):
        pass

    def follow_job(self, job_id, emit, cancel):
        job = self.get_job(job_id)
        emit(ev.JobFinished(job_id, job.status, job.rows, 0, 0.0, "", ""))
        return job

    def download_results(self, job_id, out_dir: Path):
        return []

    def preview_rows(self, job_id, limit):
        return ["a,1", "b,2", "c,3"][:limit]


@pytest.fixture
def toy(make_profile):
    ToyTarget.cloud = {}
    targets.register("toy", ToyTarget)
    yield load(str(make_profile(name="toyprofile")), ["target=toy"])
    targets.unregister("toy")


def test_a_third_target_runs_the_whole_life_cycle_through_the_contract(toy) -> None:
    sink = Collector()
    summary = run.provision(toy, sink)
    assert summary.outcome == "succeeded"
    assert [e.step for e in sink.of(ev.StepFinished)] == ["bucket", "greeting"]
    assert ToyTarget.cloud == {"bucket": "toyprofile", "greeting": "hello from bucket"}

    again = Collector()
    run.provision(toy, again)
    assert again.outcomes() == {"bucket": "exists", "greeting": "exists"}
    assert run.plan(toy, Collector()).outcome == "succeeded"  # "changes" if anything would change

    job = jobs.submit(toy, Collector())
    assert (job.status, job.rows) == ("Completed", 3)
    assert [j.job_id for j in jobs.list_jobs(toy)] == ["toy-1"]
    assert jobs.preview(toy, "toy-1", 2) == ["a,1", "b,2"]

    down = Collector()
    assert run.teardown(toy, down).outcome == "succeeded"
    assert [e.step for e in down.of(ev.StepFinished)] == ["greeting", "bucket"]  # reverse order
    assert set(ToyTarget.cloud) == {"job"}


def test_an_extra_step_plugs_into_the_local_target(make_profile) -> None:
    local = targets.target_class("local")
    seen = {}

    class Notify(Step):
        key = "notify"

        def check(self, ctx):
            seen["deployment"] = ctx.planned("deployment")
            return Check("create", "tell the team")

        def apply(self, ctx, check):
            seen["applied"] = True
            return Done("created", "told the team")

        def check_delete(self, ctx):
            return Check("skip", "nothing to delete")

        def delete(self, ctx, check):
            raise AssertionError("a skipped delete is never applied")

    class LocalWithNotify(local):
        graph = STEPS + (StepSpec("notify", "Notify", ("deployment",)),)
        steps = {**local.steps, "notify": Notify}

    profile = load(str(make_profile()))
    sink = Collector()
    summary = run.provision(profile, sink, target=LocalWithNotify(profile, sink, run.CancelToken()))
    assert summary.outcome == "succeeded"
    order = [e.step for e in sink.of(ev.StepFinished)]
    assert order.index("deployment") < order.index("notify")
    assert seen == {"deployment": "create", "applied": True}
    assert run.teardown(profile, Collector(), target=LocalWithNotify(profile, Collector(),
                                                                    run.CancelToken())).ok


def test_a_target_missing_operations_is_refused_when_built(make_profile) -> None:
    class Half(Target):
        name = "half"
        graph = TOY_GRAPH
        steps = {"bucket": Bucket}  # no greeting step

    # an operation left abstract in a step
    class HalfStep(Step):
        key = "greeting"

        def check(self, ctx):
            return Check("skip")

        def apply(self, ctx, check):
            return Done("skipped")

        def check_delete(self, ctx):
            return Check("skip")

    profile = load(str(make_profile()))
    with pytest.raises(TargetError) as refused:
        Half(profile, lambda e: None, run.CancelToken())
    message = str(refused.value)
    assert "step 'greeting'" in message
    for operation in ("submit_job", "follow_job", "preview_rows", "download_results"):
        assert operation in message

    class ToyWithHalfStep(ToyTarget):
        steps = {"bucket": Bucket, "greeting": HalfStep}

    with pytest.raises(TargetError, match=r"greeting\.delete"):
        ToyWithHalfStep(profile, lambda e: None, run.CancelToken())


def test_the_profile_target_takes_only_registered_names(make_profile, toy) -> None:
    assert "toy" in targets.names() and {"local", "azure"} <= set(targets.names())
    with pytest.raises(ProfileError) as bad:
        load(str(make_profile()), ["target=tyo"])
    assert "target" in str(bad.value) and "'toy'" in str(bad.value) and "'local'" in str(bad.value)
