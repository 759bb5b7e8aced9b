"""The environment, model and code assets: copies of the scorer folder's parts, one folder per
content-hash version (engine.ownership.asset_versions), so unchanged assets keep their version."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine import mlflowmodel, ownership
from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, none
from engine.targets.local.state import LocalStep, copy_tree, read
from engine.words import counted


class Assets(LocalStep):
    key = "assets"

    def check(self, ctx: StepContext) -> Check:
        versions = ownership.asset_versions(self.profile)
        label = mlflowmodel.noted(", ".join(f"{k} {n}:{v}" for k, (n, v) in versions.items()), versions)
        if ctx.planned("workspace") == "create":
            return Check("create", label, versions)
        missing = [k for k, (n, v) in versions.items()
                   if not (self.target.asset_dir(k, n, v) / "asset.json").exists()]
        register = "register " + ", ".join(f"{k} {versions[k][0]}:{versions[k][1]}" for k in missing)
        check = Check("create", mlflowmodel.noted(register, versions), versions) if missing else none(label, versions)
        for kind, (name, version) in versions.items():
            path = self.target.asset_dir(kind, name, version) / "asset.json"
            check = self.guard(ctx, f"{kind} {name}:{version}", read(path), check, path)
        return check

    def apply(self, ctx: StepContext, check: Check) -> Done:
        s, folder = self.profile.scorer, self.profile.scorer_dir
        versions: dict[str, tuple[str, str]] = check.value
        made = []
        for kind, (name, version) in versions.items():
            ctx.checkpoint()
            dest = self.target.asset_dir(kind, name, version)
            if (dest / "asset.json").exists():
                continue
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if kind == "model":
                copy_tree(folder / s.model, dest)
            elif kind == "code":
                copy_tree(folder, dest, ignore=(*ownership.CODE_IGNORED, Path(s.model).parts[0]))
            else:
                copy_tree(folder / s.environment, dest)
            write_json(dest / "asset.json", self.target.new(name=name, version=version, kind=kind,
                                                            image=s.image if kind == "environment" else None))
            made.append(f"{kind} {name}:{version}")
            ctx.log(f"registered {kind} {name}:{version}")
        return Done("created", mlflowmodel.noted("registered " + ", ".join(made), versions), versions)

    def check_delete(self, ctx: StepContext) -> Check:
        mine = []
        for kind, name in ownership.asset_names(self.profile).items():
            folder = self.target.asset_dir(kind, name, "x").parent
            if folder.is_dir():
                mine += [p.parent for p in folder.glob("*/asset.json") if self.target.ours(read(p))]
        if not mine:
            return Check("skip", "no asset registered by this profile")
        return Check("delete", counted(len(mine), "asset version"), mine)

    def delete(self, ctx: StepContext, check: Check) -> Done:
        for folder in check.value:
            shutil.rmtree(folder)
            self.target.prune(folder.parent)
        return Done("deleted", check.detail)
