"""The scorer's environment and model, registered in the workspace. Their versions are content hashes
(Session.asset_versions), so an unchanged asset keeps its version and a re-run registers nothing; a
model version that exists with other content is refused (its hash is in a tag). The scorer's code is
registered by the deployment step, through the deployment's CodeConfiguration (the documented way:
azure-ai-ml uploads a local code folder and registers it by content hash)."""

from __future__ import annotations

import functools

from engine import mlflowmodel
from engine.context import StepContext
from engine.steps import Check, Done, none
from engine.targets.azure import _errors, _owned
from engine.targets.azure._base import TAG_HASH, tags_of
from engine.targets.azure.session import AzureStep


class Assets(AzureStep):
    key = "assets"

    def noun(self) -> str:
        return "the environment and model"

    def check(self, ctx: StepContext) -> Check:
        session = self.session
        versions = session.asset_versions()
        label = mlflowmodel.noted(", ".join(f"{k} {n}:{v}" for k, (n, v) in versions.items()), versions)
        conda_file = self.profile.scorer_dir / self.profile.scorer.environment
        if "environment" in versions and "azureml-core" not in conda_file.read_text(errors="replace"):
            ctx.log(f"{self.profile.scorer.environment} does not list azureml-core: batch jobs fail with "
                    "\"No module named azureml\" without it (add azureml-core under pip)", "warning")
        if ctx.planned("workspace") == "create":
            return Check("create", label, versions)
        read_versions, found_list = session.assets()
        found = dict(zip(read_versions, found_list)) if read_versions == versions else \
            dict(zip(versions, session.asset_reads(versions)))
        model = found.get("model")
        if model is not None and tags_of(model).get(TAG_HASH) not in (None, session.model_hash):
            n, v = versions["model"]
            return Check("fail", f"scorer.model_name: model {n}:{v} already exists with other content; set "
                                 "scorer.model_name to a new name")
        missing = [k for k, asset in found.items() if asset is None]
        register = "register " + ", ".join(f"{k} {versions[k][0]}:{versions[k][1]}" for k in missing)
        check = Check("create", mlflowmodel.noted(register, versions), versions) if missing else none(label, versions)
        ops = {"environment": session.ml.environments, "model": session.ml.models}
        for kind, asset in found.items():
            n, v = versions[kind]
            check = _owned.guard(session, ctx, f"{kind} {n}:{v}", asset, check, _owned.retag_entity(
                session, f"{kind} {n}:{v}", functools.partial(ops[kind].get, name=n, version=v),
                ops[kind].create_or_update, "assets"))
        return check

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Environment, Model

        session = self.session
        s, folder = self.profile.scorer, self.profile.scorer_dir
        versions: dict[str, tuple[str, str]] = check.value
        current = dict(zip(versions, session.asset_reads(versions)))
        made = []
        for kind, (name, version) in versions.items():
            ctx.checkpoint()
            if current.get(kind) is not None:
                continue
            if kind == "environment":
                session.ml.environments.create_or_update(Environment(
                    name=name, version=version, image=s.image, conda_file=str(folder / s.environment),
                    tags=session.tags, description="amlbatch scorer environment"))
            else:
                session.ml.models.create_or_update(Model(
                    name=name, version=version, path=str(folder / s.model),
                    # an MLflow model (no environment): Azure scores it with no script or environment
                    type=AssetTypes.CUSTOM_MODEL if "environment" in versions else AssetTypes.MLFLOW_MODEL,
                    tags={**session.tags, TAG_HASH: session.model_hash}, description="amlbatch scorer model"))
            made.append(f"{kind} {name}:{version}")
            ctx.log(f"registered {kind} {name}:{version}")
        return Done("created", mlflowmodel.noted("registered " + (", ".join(made) or "nothing new"), versions),
                    versions)

    def check_delete(self, ctx: StepContext) -> Check:
        session = self.session
        going = session.inside_going("the environment and model")
        if going:
            return going
        if _owned.workspace_going(session):
            return Check("skip", "the environment and model go with their workspace")
        versions = session.asset_versions()
        found = dict(zip(versions, session.asset_reads(versions)))
        mine = [(k, *versions[k]) for k, asset in found.items() if asset is not None and session.ours(asset)]
        if not mine:
            return Check("skip", "no asset registered by this profile")
        return Check("delete", "archive " + ", ".join(f"{k} {n}:{v}" for k, n, v in mine)
                     + " (Azure ML keeps asset versions; archived ones are hidden)", mine)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        for kind, name, version in check.value:
            ops = self.session.ml.environments if kind == "environment" else self.session.ml.models
            try:
                ops.archive(name=name, version=version)
            except Exception as exc:  # noqa: BLE001
                if not _errors.is_not_found(exc):
                    raise
        return Done("deleted", check.detail)
