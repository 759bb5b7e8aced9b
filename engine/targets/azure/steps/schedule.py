"""The schedule step: a recurring scoring run of the profile's endpoint.

Azure ML cannot schedule a batch-endpoint invocation itself: a `JobSchedule` starts jobs (pipeline
jobs), not endpoint invocations. The alternatives were

* scheduling a pipeline with a parallel step that re-creates the deployment (same code, environment
  and settings). It would run the scorer, but outside the endpoint: its runs would not show among
  the endpoint's jobs, the model would have to be wired in differently (no AZUREML_MODEL_DIR), and
  every setting would exist twice and could drift apart;
* an external scheduler (Logic Apps, Data Factory): more resources, permissions and moving parts.

We schedule a one-step pipeline job instead whose only step *invokes the endpoint*: a
standard-library script (`_invoker.py`) running on the profile's cluster, in the scorer's
environment, takes a token from the cluster's managed identity and POSTs the same invocation
`--submit` makes (the profile's input folder, a fresh output folder `<endpoint>/<job>/`). So every
scheduled run is a normal endpoint job: same deployment, listed by `--jobs`, results fetched by
`--results`. The one extra need is honest and said in the log: the cluster's identity must be
allowed to invoke the endpoint ('AzureML Data Scientist' on the workspace).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.context import StepContext
from engine.deployment import input_uri, output_uri
from engine.steps import NO_SCHEDULE, Check, Done, delete_check, none
from engine.targets.azure import _errors, _lro, _owned
from engine.targets.azure._base import BUSY_STATES, FAILED_STATES, state_of, tags_of
from engine.targets.azure.session import AzureStep

TAG_CONFIG = "amlbatch-config"
INVOKER = Path(__file__).resolve().parents[1] / "_invoker.py"


def invoke_body(input_uri: str, output_uri: str, job_name: str) -> dict[str, Any]:
    """The JSON body of a batch-endpoint invocation (what azure-ai-ml's invoke sends)."""
    return {"properties": {
        "inputData": {"UriFolder": {"jobInputType": "UriFolder", "uri": input_uri}},
        "outputData": {"score": {"jobOutputType": "UriFolder", "uri": output_uri}},
        "name": job_name,
    }}


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


class Schedule(AzureStep):
    key = "schedule"

    def noun(self) -> str:
        return f"schedule '{self.profile.schedule.name}'"

    def _config(self, scoring_uri: str) -> dict[str, Any]:
        p = self.profile
        versions = self.session.asset_versions()
        return {
            "scoring_uri": scoring_uri, "endpoint": p.endpoint_name, "deployment": p.endpoint.deployment,
            "body": invoke_body(input_uri(p), output_uri(p, "{job}"), "{job}"),
            "environment": self.session.arm_id("environments", *versions["environment"]),
            "compute": p.compute.name, "frequency": p.schedule.frequency, "interval": p.schedule.interval,
            "invoker": hashlib.sha256(INVOKER.read_bytes()).hexdigest()[:12],
        }

    def _scoring_uri(self, ctx: StepContext) -> str:
        value = ctx.value("endpoint") or {}
        if value.get("scoring_uri"):
            return value["scoring_uri"]
        endpoint = self.session.endpoint()
        return (endpoint.scoring_uri or "") if endpoint is not None else ""

    def check(self, ctx: StepContext) -> Check:
        sched = self.profile.schedule
        fresh = "create" in (ctx.planned("workspace"), ctx.planned("endpoint"))
        if not sched.frequency:
            if fresh:
                return Check("skip", "no schedule asked for")
            current = self.session.schedule()
            if current is not None and self.session.ours(current):
                return Check("update", f"remove schedule '{sched.name}' (the profile has none)", {"remove": True})
            return Check("skip", "no schedule asked for")
        want = f"every {sched.interval} {sched.frequency}(s)"
        if fresh:
            return Check("create", f"schedule '{sched.name}' {want}")
        current = self.session.schedule()
        if current is None:
            return Check("create", f"schedule '{sched.name}' {want}")
        ml = self.session.ml
        return _owned.guard(self.session, ctx, f"schedule '{sched.name}'", current, self._check(ctx, current, want),
                            _owned.retag_entity(self.session, f"schedule '{sched.name}'",
                                                lambda: ml.schedules.get(sched.name),
                                                lambda e: _lro.wait_poller(ctx, ml.schedules.begin_create_or_update(e),
                                                                           f"taking over schedule '{sched.name}'"),
                                                "schedule"))

    def _check(self, ctx: StepContext, current: Any, want: str) -> Check:
        sched = self.profile.schedule
        if state_of(current) in BUSY_STATES:
            return Check("create", f"schedule '{sched.name}' is {state_of(current)}: wait for it", {"busy": True})
        if state_of(current) in FAILED_STATES:
            return Check("update", f"schedule '{sched.name}' failed to provision earlier: retry",
                         {"tags": tags_of(current)})
        trigger = getattr(current, "trigger", None)
        have = (str(getattr(trigger, "frequency", "") or "").lower(), getattr(trigger, "interval", None))
        changes = []
        if have != (sched.frequency, sched.interval):
            changes.append(f"every {have[1]} {have[0]}(s) -> {want}")
        if tags_of(current).get(TAG_CONFIG) != config_hash(self._config(self._scoring_uri(ctx))) and not changes:
            changes.append("the endpoint, input or environment it uses changed")
        if getattr(current, "is_enabled", True) is False:
            changes.append("enable it")
        if changes:
            return Check("update", f"schedule '{sched.name}': " + "; ".join(changes), {"tags": tags_of(current)})
        return none(f"schedule '{sched.name}' {want}")

    def apply(self, ctx: StepContext, check: Check) -> Done:
        sched = self.profile.schedule
        value = check.value or {}
        if value.get("remove"):
            self._remove(ctx)
            return Done("updated", check.detail)
        if value.get("busy"):
            self.session.wait_until(ctx, lambda: self.session.ml.schedules.get(sched.name),
                                    f"waiting for schedule '{sched.name}'", lambda s: state_of(s) not in BUSY_STATES)
        self._put(ctx, value.get("tags") if check.plan == "update" else None)
        ctx.log(f"each scheduled run invokes endpoint '{self.profile.endpoint_name}' with the identity of "
                f"cluster '{self.profile.compute.name}': give that identity the 'AzureML Data Scientist' role on "
                "the workspace (Azure portal > the workspace > Access control) if it does not have it", "info")
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def _put(self, ctx: StepContext, existing_tags: dict[str, str] | None) -> None:
        from azure.ai.ml import command
        from azure.ai.ml.entities import JobSchedule, ManagedIdentityConfiguration, PipelineJob, RecurrenceTrigger

        p, sched, session = self.profile, self.profile.schedule, self.session
        config = self._config(self._scoring_uri(ctx))
        tags = {**(existing_tags or session.tags), TAG_CONFIG: config_hash(config)}
        with tempfile.TemporaryDirectory(prefix="amlbatch-schedule-") as tmp:
            code = Path(tmp) / "invoker"
            code.mkdir()
            shutil.copyfile(INVOKER, code / "invoke_endpoint.py")
            (code / "config.json").write_text(json.dumps(
                {k: config[k] for k in ("scoring_uri", "endpoint", "deployment", "body")}, indent=2))
            node = command(name="invoke_endpoint", display_name=f"invoke {p.endpoint_name}",
                           command="python invoke_endpoint.py", code=str(code), environment=config["environment"],
                           compute=p.compute.name, identity=ManagedIdentityConfiguration())
            job = PipelineJob(jobs={"invoke_endpoint": node}, display_name=f"amlbatch {p.name} schedule",
                              experiment_name=p.endpoint_name, compute=p.compute.name, tags=dict(session.tags))
            schedule = JobSchedule(name=sched.name, trigger=RecurrenceTrigger(frequency=sched.frequency,
                                                                            interval=sched.interval),
                                   create_job=job, tags=tags, display_name=f"amlbatch {p.name}",
                                   description=f"scores {input_uri(p)} with endpoint {p.endpoint_name}")
            poller = session.ml.schedules.begin_create_or_update(schedule)
            _lro.wait_poller(ctx, poller, f"creating schedule '{sched.name}'")
        session.forget("schedule")

    def _remove(self, ctx: StepContext) -> None:
        name, ml = self.profile.schedule.name, self.session.ml
        try:
            current = ml.schedules.get(name)
            if getattr(current, "is_enabled", False):
                _lro.wait_poller(ctx, ml.schedules.begin_disable(name), f"disabling schedule '{name}'")
            _lro.wait_poller(ctx, ml.schedules.begin_delete(name), f"deleting schedule '{name}'")
        except Exception as exc:  # noqa: BLE001
            if not _errors.is_not_found(exc):
                raise
        self.session.forget("schedule")

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.schedule.name
        going = self.session.inside_going(f"schedule '{name}'")
        if going:
            return going
        current = self.session.schedule()
        if current is None and not self.profile.schedule.frequency:
            return Check("skip", NO_SCHEDULE)
        return delete_check(f"schedule '{name}'", current is not None, self.session.ours(current),
                            f"schedule '{name}' (disabled first)")

    def delete(self, ctx: StepContext, check: Check) -> Done:
        self._remove(ctx)
        return Done("deleted", check.detail)
