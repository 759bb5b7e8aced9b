"""The batch deployment, made the endpoint's default. What it should be (asset references, script,
cluster, the batch settings) and what differs is engine.diff's decision (deployment_wanted,
deployment_changes); here: reading it off Azure's entity, busy or failed provisioning, the default.

The scorer's code goes in as a local folder in the deployment's CodeConfiguration: azure-ai-ml
uploads it and registers it as a code asset by content hash (the documented way; an unchanged
folder registers nothing). Which code a deployment runs is read from its TAG_CODE tag, the
"name:content hash" amlbatch computes (engine.ownership.asset_versions), not from the code asset's
SDK-chosen name."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePath
from typing import Any

from engine import diff
from engine.context import StepContext
from engine.deployment import APPEND_ROW, DeploymentSettings
from engine.ownership import CODE_IGNORED
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _lro, _owned
from engine.targets.azure._base import (BUSY_STATES, FAILED_STATES, TAG_CODE, default_deployment, last_segment,
                                        ref_of, state_of, tags_of)
from engine.targets.azure.session import AzureStep

ARM_KINDS = {"model": "models", "environment": "environments"}


def found(current: Any) -> dict[str, Any]:
    """What engine.diff.deployment_changes compares, read off a ModelBatchDeployment."""
    conf = getattr(current, "code_configuration", None)
    retry = getattr(current, "retry_settings", None)
    script = getattr(conf, "scoring_script", None)
    refs = {"model": getattr(current, "model", None), "environment": getattr(current, "environment", None)}
    return {
        **{kind: ref_of(ref, ARM_KINDS[kind]) for kind, ref in refs.items()},
        # an MLflow model's deployment has no code (""), a scorer's has it recorded in TAG_CODE
        "code": "" if conf is None else tags_of(current).get(TAG_CODE) or "(code not recorded by amlbatch)",
        "scoring_script": PurePath(str(script)).as_posix() if script else "",
        "compute": last_segment(getattr(current, "compute", "")),
        "mini_batch_size": getattr(current, "mini_batch_size", None),
        "instance_count": getattr(getattr(current, "resources", None), "instance_count", None),
        "max_concurrency_per_instance": getattr(current, "max_concurrency_per_instance", None),
        "output_action": str(getattr(current, "output_action", "") or ""),
        "output_file_name": getattr(current, "output_file_name", None),
        "error_threshold": getattr(current, "error_threshold", None),
        "max_retries": getattr(retry, "max_retries", None),
        "timeout": getattr(retry, "timeout", None),
        # the SDK reads Azure's "Info" back as an enum member (str() gives "BatchLoggingLevel.INFO")
        "logging_level": str(getattr(getattr(current, "logging_level", ""), "value", None)
                             or getattr(current, "logging_level", "") or ""),
    }


class Deployment(AzureStep):
    key = "deployment"

    def noun(self) -> str:
        return f"deployment '{self.profile.endpoint.deployment}'"

    def _arm_ref(self, kind: str, ref: str) -> str:
        """The ARM id of an asset reference "name:version"."""
        name, _, version = ref.rpartition(":")
        return self.session.arm_id(ARM_KINDS[kind], name, version)

    def check(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint.deployment
        versions = ctx.value("assets") or self.session.asset_versions()
        code = {"code": self.session.code_ref()} if "environment" in versions else {}  # MLflow: no code
        want = diff.deployment_wanted(self.profile, {**versions, **code})
        if "create" in (ctx.planned("workspace"), ctx.planned("endpoint")):
            return Check("create", f"deployment '{name}' (default)", want)
        current = self.session.deployment()
        if current is None:
            return Check("create", f"deployment '{name}' (default)", want)
        what = f"deployment '{name}' of endpoint '{self.profile.endpoint_name}'"
        return _owned.guard(self.session, ctx, what, current, self._check(ctx, current, want),
                            _owned.retag_tracked(self.session, ctx, current, what, "deployment"))

    def _check(self, ctx: StepContext, current: Any, want: dict[str, Any]) -> Check:
        name = self.profile.endpoint.deployment
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"deployment '{name}' is {state}: wait for it", {**want, "busy": True})
        changes = diff.deployment_changes(want, found(current))
        if state in FAILED_STATES:
            changes.insert(0, "retry: it failed to provision earlier")
        endpoint = ctx.value("endpoint") or {}
        if endpoint.get("default") != name:
            changes.append(f"make '{name}' the endpoint's default")
        if changes:
            return Check("update", f"deployment '{name}': " + "; ".join(changes), {**want, "tags": tags_of(current)})
        return none(f"deployment '{name}' (default)", want)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.entities import BatchEndpoint

        p, session = self.profile, self.session
        name, endpoint_name = p.endpoint.deployment, p.endpoint_name
        want = dict(check.value)
        tags = want.pop("tags", None) or session.tags
        if want.pop("busy", False):
            session.wait_until(ctx, lambda: session.ml.batch_deployments.get(name=name, endpoint_name=endpoint_name),
                               f"waiting for deployment '{name}'", lambda d: state_of(d) not in BUSY_STATES)
            session.forget("deployment")
        current = session.deployment()
        needs_put = current is None or state_of(current) in FAILED_STATES or bool(
            diff.deployment_changes(want, found(current)))
        if needs_put and not want["code"]:  # an MLflow model: deployed without code and environment
            self._put(ctx, current, want, tags, None)
            session.forget("deployment")
        elif needs_put:
            with tempfile.TemporaryDirectory(prefix="amlbatch-code-") as tmp:
                self._put(ctx, current, want, tags, self._code_folder(Path(tmp)))
            session.forget("deployment")
        # invoking an endpoint without a default deployment fails ("No valid deployments to route to")
        session.forget("endpoint")
        endpoint = session.endpoint()
        if endpoint is not None and default_deployment(endpoint) != name:
            ctx.log(f"making '{name}' the default deployment of endpoint '{endpoint_name}'")
            update = BatchEndpoint(name=endpoint_name, tags=tags_of(endpoint) or None, description=endpoint.description,
                                   defaults={"deployment_name": name})
            poller = session.ml.batch_endpoints.begin_create_or_update(update)
            _lro.wait_poller(ctx, poller, f"setting the default deployment of '{endpoint_name}'")
        return Done("created" if current is None else "updated", check.detail, want)

    def _code_folder(self, tmp: Path) -> Path:
        """The scorer folder as the deployment's code: without the model and what CODE_IGNORED names."""
        s = self.profile.scorer
        code_dir = tmp / "code"
        shutil.copytree(self.profile.scorer_dir, code_dir,
                        ignore=shutil.ignore_patterns(*CODE_IGNORED, Path(s.model).parts[0]))
        return code_dir

    def _put(self, ctx: StepContext, current: Any, want: dict[str, Any], tags: dict[str, str],
             code_dir: Path | None) -> None:
        """Create or update the deployment; `code_dir` None: an MLflow model, which Azure batch
        deployments score with no scoring script and no environment (documented)."""
        from azure.ai.ml.constants import BatchDeploymentOutputAction
        from azure.ai.ml.entities import (BatchRetrySettings, CodeConfiguration, ModelBatchDeployment,
                                          ModelBatchDeploymentSettings)

        p, session = self.profile, self.session
        name, endpoint_name = p.endpoint.deployment, p.endpoint_name
        s = DeploymentSettings.from_profile(p)
        appending = s.output_action == APPEND_ROW
        action = BatchDeploymentOutputAction.APPEND_ROW if appending else BatchDeploymentOutputAction.SUMMARY_ONLY
        scorer = code_dir is not None
        deployment = ModelBatchDeployment(
            name=name, endpoint_name=endpoint_name,
            tags={**tags, TAG_CODE: want["code"]} if scorer else {k: v for k, v in tags.items() if k != TAG_CODE},
            description=f"amlbatch profile {p.name}",
            model=self._arm_ref("model", want["model"]),
            environment=self._arm_ref("environment", want["environment"]) if scorer else None,
            code_configuration=CodeConfiguration(code=str(code_dir), scoring_script=want["scoring_script"])
            if scorer else None,
            compute=session.arm_id("computes", p.compute.name),
            settings=ModelBatchDeploymentSettings(
                mini_batch_size=s.mini_batch_size, instance_count=s.instance_count,
                max_concurrency_per_instance=s.max_concurrency_per_instance, output_action=action,
                output_file_name=s.output_file_name if appending else None,
                retry_settings=BatchRetrySettings(max_retries=s.max_retries, timeout=s.timeout),
                # "Info", "Warning", "Debug": as the API spells BatchLoggingLevel
                error_threshold=s.error_threshold, logging_level=s.logging_level.capitalize(),
                # the scorer writes its own files in summary_only mode (scorer/score.py)
                environment_variables={"AMLBATCH_OUTPUT_ACTION": s.output_action} if scorer else None))
        doing = "creating" if current is None else "updating"
        ctx.log(f"{doing} deployment '{name}'")
        poller = session.ml.batch_deployments.begin_create_or_update(deployment, skip_script_validation=True)
        _lro.wait_poller(ctx, poller, f"{doing} deployment '{name}'")

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint.deployment
        going = self.session.inside_going(f"deployment '{name}'")
        if going:
            return going
        endpoint = self.session.endpoint()
        if endpoint is None:
            return Check("skip", f"deployment '{name}' already gone")
        if self.session.ours(endpoint):
            return Check("skip", f"deployment '{name}' goes with its endpoint")
        current = self.session.deployment()
        return delete_check(f"deployment '{name}'", current is not None, self.session.ours(current))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        p = self.profile
        return self.session.delete_and_wait(ctx, check, f"deployment '{p.endpoint.deployment}'",
                                            lambda: self.session.ml.batch_deployments.begin_delete(
                                                name=p.endpoint.deployment, endpoint_name=p.endpoint_name))
