"""The scorer's environment, model and code, registered in the workspace. Their versions are content
hashes (Session.asset_versions), so an unchanged asset keeps its version and a re-run registers
nothing; a model version that exists with other content is refused (its hash is in a tag)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from engine.context import StepContext
from engine.ownership import CODE_IGNORED
from engine.steps import Check, Done, none
from engine.targets.azure import _errors
from engine.targets.azure._base import TAG_HASH, tags_of
from engine.targets.azure.session import AzureStep


class Assets(AzureStep):
    key = "assets"

    def noun(self) -> str:
        return "the environment, model and code"

    def check(self, ctx: StepContext) -> Check:
        session = self.session
        versions = session.asset_versions()
        label = ", ".join(f"{k} {n}:{v}" for k, (n, v) in versions.items())
        conda = (self.profile.scorer_dir / self.profile.scorer.environment).read_text(errors="replace")
        if "azureml-core" not in conda:
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
        if missing:
            return Check("create", "register " + ", ".join(f"{k} {versions[k][0]}:{versions[k][1]}"
                                                          for k in missing), versions)
        return none(label, versions)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        from azure.ai.ml.entities import Environment, Model
        from azure.ai.ml.entities._assets import Code  # not exported by azure.ai.ml.entities

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
            elif kind == "model":
                session.ml.models.create_or_update(Model(
                    name=name, version=version, path=str(folder / s.model), type="custom_model",
                    tags={**session.tags, TAG_HASH: session.model_hash}, description="amlbatch scorer model"))
            else:
                with tempfile.TemporaryDirectory(prefix="amlbatch-code-") as tmp:
                    code_dir = Path(tmp) / "code"
                    model_rel = Path(s.model).parts[0]
                    shutil.copytree(folder, code_dir, ignore=shutil.ignore_patterns(*CODE_IGNORED, model_rel))
                    session.ml._code.create_or_update(Code(name=name, version=version, path=str(code_dir),
                                                           tags=session.tags))
            made.append(f"{kind} {name}:{version}")
            ctx.log(f"registered {kind} {name}:{version}")
        return Done("created", "registered " + (", ".join(made) or "nothing new"), versions)

    def check_delete(self, ctx: StepContext) -> Check:
        session = self.session
        going = session.inside_going("the environment, model and code")
        if going:
            return going
        if session.ours(session.workspace()):
            return Check("skip", "the environment, model and code go with their workspace")
        versions = session.asset_versions()
        found = dict(zip(versions, session.asset_reads(versions)))
        mine = [(k, *versions[k]) for k, asset in found.items() if asset is not None and session.ours(asset)
                and k in ("environment", "model")]
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
