"""The schedule step: the deployment's scoring, run on the profile's recurrence.

Azure ML cannot schedule a batch-endpoint invocation. What it documents for recurring scoring is a
`JobSchedule` (a RecurrenceTrigger: frequency, interval, start time, time zone) whose job is a
pipeline job, here with one parallel step (how-to-schedule-pipeline-job,
how-to-use-parallel-job-in-pipeline). That step runs what the deployment runs: the scorer folder
as code, the same registered model (a mounted custom_model input), the same environment, every
batch setting from engine.deployment.DeploymentSettings (mini-batch size, instances, concurrency,
retries, error threshold, log level, output action and file), on the profile's cluster, reading
the profile's input datastore path and writing to `output_uri(profile, <the run's name>)` through
the documented `${{name}}` expression of a scheduled job's output path: where an invoked run writes.

A batch deployment's scorer finds its model under AZUREML_MODEL_DIR; a parallel step gets inputs
as program arguments. `_scheduled_entry.py`, uploaded beside the scorer's files, bridges the two:
it sets AZUREML_MODEL_DIR to the mounted model and calls the scorer's own init() and run().

Each scheduled run carries the profile's tags and TAG_SCHEDULE, so `--jobs` lists it ("scheduled").
The steps' data is read and written with the cluster's managed identity (the `access` step grants it).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine import diff
from engine.context import StepContext
from engine.deployment import APPEND_ROW, DeploymentSettings, input_uri, output_uri
from engine.ownership import CODE_IGNORED
from engine.steps import NO_SCHEDULE, Check, Done, delete_check, none
from engine.targets.azure import _errors, _lro, _owned
from engine.targets.azure._base import BUSY_STATES, FAILED_STATES, state_of, tags_of
from engine.targets.azure.session import AzureStep
from engine.validation import windows_zone

TAG_CONFIG = "amlbatch-config"  # on the schedule: hash of everything its runs use
TAG_SCHEDULE = "amlbatch-schedule"  # on the job it starts: the schedule's name
ENTRY = Path(__file__).resolve().parents[1] / "_scheduled_entry.py"
ENTRY_NAME = "amlbatch_scheduled_entry.py"
STEP = "score"  # the pipeline's parallel step, and the output both it and an invoked run call "score"
RUN_NAME = "${{name}}"  # resolved by Azure ML to the name of each job the schedule starts


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def wall_clock_start(start: str, iana: str) -> str | None:
    """schedule.start_time as Azure reads it: a wall-clock time in the trigger's time zone (no offset)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not start:
        return None  # Azure starts the recurrence when the schedule is created
    when = datetime.fromisoformat(start)
    if when.tzinfo is not None:
        when = when.astimezone(ZoneInfo(iana)).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def found_settings(schedule: Any) -> dict[str, Any]:
    """The batch settings (DeploymentSettings' names) a schedule's parallel step runs with, read back."""
    node = (getattr(getattr(schedule, "create_job", None), "jobs", None) or {}).get(STEP)
    if node is None:
        return {}

    def read(part: Any, key: str) -> Any:  # the SDK gives some parts as dicts, some as objects
        return part.get(key) if isinstance(part, dict) else getattr(part, key, None)

    task, retry = getattr(node, "task", None), getattr(node, "retry_settings", None)
    named = re.search(r"--append_row_file_name\s+(\S+)", str(read(task, "program_arguments") or ""))
    size = getattr(node, "mini_batch_size", None)
    return {"mini_batch_size": int(size) if size is not None else None,
            "instance_count": read(getattr(node, "resources", None), "instance_count"),
            "max_concurrency_per_instance": getattr(node, "max_concurrency_per_instance", None),
            "error_threshold": getattr(node, "error_threshold", None),
            "max_retries": read(retry, "max_retries"), "timeout": read(retry, "timeout"),
            "logging_level": str(getattr(node, "logging_level", "") or "").lower() or None,
            "output_action": APPEND_ROW if read(task, "append_row_to") else "summary_only",
            "output_file_name": named.group(1) if named else None}


class Schedule(AzureStep):
    key = "schedule"

    def noun(self) -> str:
        return f"schedule '{self.profile.schedule.name}'"

    def _config(self) -> dict[str, Any]:
        """What the scheduled runs do: the deployment's own wanted state, plus input, output and recurrence."""
        p = self.profile
        want = diff.deployment_wanted(p, {**self.session.asset_versions(), "code": self.session.code_ref()})
        return {**want, "input": input_uri(p), "output": output_uri(p, RUN_NAME),
                "frequency": p.schedule.frequency, "interval": p.schedule.interval,
                "start_time": p.schedule.start_time, "time_zone": p.schedule.time_zone,
                "entry": hashlib.sha256(ENTRY.read_bytes()).hexdigest()[:12]}

    def _trigger(self) -> Any:
        from azure.ai.ml.entities import RecurrenceTrigger

        sched = self.profile.schedule
        return RecurrenceTrigger(frequency=sched.frequency, interval=sched.interval,
                                 start_time=wall_clock_start(sched.start_time, sched.time_zone),
                                 time_zone=windows_zone(sched.time_zone))

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
        if self.profile.mlflow_model:  # Azure makes an MLflow model's scoring for deployments only
            return Check("fail", "schedule.frequency: a scheduled run scores with the scorer's script in a parallel "
                                 "step, and an MLflow model (scorer.model holds an MLmodel file) comes without one: "
                                 "set schedule.frequency = \"\" or give scorer.folder a scoring script")
        if windows_zone(sched.time_zone) is None:
            return Check("fail", f"schedule.time_zone: '{sched.time_zone}' has no Windows time zone, the names "
                                 "Azure ML schedules take: choose another IANA name for the same clock")
        if fresh:
            return Check("create", f"schedule '{sched.name}' {want}")
        current = self.session.schedule()
        if current is None:
            return Check("create", f"schedule '{sched.name}' {want}")
        return _owned.guard(self.session, ctx, f"schedule '{sched.name}'", current, self._check(current, want),
                            lambda: self._retag(ctx))

    def _check(self, current: Any, want: str) -> Check:
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
        zone = getattr(trigger, "time_zone", None) or "UTC"
        zone = str(getattr(zone, "value", zone))
        if zone != windows_zone(sched.time_zone):
            changes.append(f"time zone {zone} -> {windows_zone(sched.time_zone)}")
        settings = DeploymentSettings.from_profile(self.profile).to_dict()
        changes += [str(c) for c in diff.changes(settings, found_settings(current))]
        if tags_of(current).get(TAG_CONFIG) != config_hash(self._config()) and not changes:
            changes.append("the start time, scorer, model, environment, cluster or data its runs use changed")
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
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def _code_folder(self, tmp: Path) -> Path:
        """The scorer folder as the deployment uploads it (without the model), plus the entry script."""
        code = tmp / "code"
        shutil.copytree(self.profile.scorer_dir, code,
                        ignore=shutil.ignore_patterns(*CODE_IGNORED, Path(self.profile.scorer.model).parts[0]))
        shutil.copyfile(ENTRY, code / ENTRY_NAME)
        return code

    def _pipeline_job(self, code: Path, tags: dict[str, str]) -> Any:
        """The pipeline job each occurrence starts: one parallel step running the deployment's scoring."""
        from azure.ai.ml import Input, Output, dsl
        from azure.ai.ml.entities import ManagedIdentityConfiguration
        from azure.ai.ml.parallel import RunFunction, parallel_run_function

        p, session = self.profile, self.session
        s = DeploymentSettings.from_profile(p)
        versions = session.asset_versions()
        appending = s.output_action == APPEND_ROW
        script = Path(p.scorer.script).as_posix()
        arguments = f"--amlbatch_model_dir ${{{{inputs.model}}}} --amlbatch_scoring_script {script}"
        if appending:
            arguments += f" --append_row_file_name {s.output_file_name}"
        score = parallel_run_function(
            name=STEP, display_name=f"score with {p.endpoint_name}/{p.endpoint.deployment}",
            inputs={"data": Input(type="uri_folder", mode="ro_mount"),
                    "model": Input(type="custom_model", mode="ro_mount")},
            outputs={STEP: Output(type="uri_folder", mode="rw_mount")},
            input_data="${{inputs.data}}", mini_batch_size=str(s.mini_batch_size), instance_count=s.instance_count,
            max_concurrency_per_instance=s.max_concurrency_per_instance, error_threshold=s.error_threshold,
            retry_settings={"max_retries": s.max_retries, "timeout": int(s.timeout)},  # as the docs' samples
            logging_level=s.logging_level.upper(), environment_variables={"AMLBATCH_OUTPUT_ACTION": s.output_action},
            identity=ManagedIdentityConfiguration(),
            task=RunFunction(code=str(code), entry_script=ENTRY_NAME, program_arguments=arguments,
                             append_row_to="${{outputs.%s}}" % STEP if appending else None,
                             environment=session.arm_id("environments", *versions["environment"])))

        @dsl.pipeline(name="amlbatch_scheduled_scoring", compute=p.compute.name, experiment_name=p.endpoint_name,
                      display_name=f"amlbatch {p.name} scheduled scoring")
        def scheduled_scoring(data, model):  # type: ignore[no-untyped-def]  # dsl reads annotations as input types
            return {STEP: score(data=data, model=model).outputs[STEP]}

        job = scheduled_scoring(data=Input(type="uri_folder", path=input_uri(p), mode="ro_mount"),
                                model=Input(type="custom_model", path=session.arm_id("models", *versions["model"]),
                                            mode="ro_mount"))
        job.outputs[STEP] = Output(type="uri_folder", path=output_uri(p, RUN_NAME), mode="rw_mount")
        job.tags = tags
        return job

    def _put(self, ctx: StepContext, existing_tags: dict[str, str] | None) -> None:
        from azure.ai.ml.entities import JobSchedule

        p, sched, session = self.profile, self.profile.schedule, self.session
        tags = {**(existing_tags or session.tags), TAG_CONFIG: config_hash(self._config())}
        with tempfile.TemporaryDirectory(prefix="amlbatch-schedule-") as tmp:
            job = self._pipeline_job(self._code_folder(Path(tmp)), {**session.tags, TAG_SCHEDULE: sched.name})
            schedule = JobSchedule(name=sched.name, trigger=self._trigger(), create_job=job, tags=tags,
                                   display_name=f"amlbatch {p.name}",
                                   description=f"scores {input_uri(p)} as deployment "
                                               f"{p.endpoint_name}/{p.endpoint.deployment} does")
            poller = session.ml.schedules.begin_create_or_update(schedule)
            _lro.wait_poller(ctx, poller, f"creating schedule '{sched.name}'")
        session.forget("schedule")

    def _retag(self, ctx: StepContext) -> None:
        """Taking over: the schedule and the runs it starts get this profile's tags."""
        ml, name = self.session.ml, self.profile.schedule.name
        entity = ml.schedules.get(name)
        entity.tags = {**tags_of(entity), **self.session.tags}
        if entity.create_job is not None:
            entity.create_job.tags = {**(entity.create_job.tags or {}), **self.session.tags, TAG_SCHEDULE: name}
        _lro.wait_poller(ctx, ml.schedules.begin_create_or_update(entity), f"taking over schedule '{name}'")
        self.session.forget("schedule")

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
