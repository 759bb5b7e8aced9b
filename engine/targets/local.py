"""The local target: every step on this machine, with state on disk under the data folder.

The on-disk layout follows Azure's resource model so a profile means the same thing on both
targets:

    <data>/local/subscriptions/<sub>/resourceGroups/<rg>/group.json
        storageAccounts/<account>/account.json
        storageAccounts/<account>/containers/<container>/container.json, blobs/..., meta/...
        workspaces/<ws>/workspace.json
        workspaces/<ws>/{computes,datastores,batchEndpoints,schedules}/<name>.json
        workspaces/<ws>/batchEndpoints/<endpoint>/deployments/<name>.json
        workspaces/<ws>/{environments,models,codes}/<name>/<version>/...
        workspaces/<ws>/jobs/<job id>/...

Every resource carries tags naming the profile that made it; tear-down removes only those.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engine import paths
from engine.datafiles import DataFile, expand, file_md5, human_bytes
from engine.errors import StepError
from engine.fileio import read_json, write_json
from engine.localjob import LocalJobs
from engine.run import StepContext
from engine.steps import Check, Done, delete_check, none

TAG_CREATOR, TAG_PROFILE = "created-by", "amlbatch-profile"
CODE_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def tree_hash(root: Path, skip: tuple[str, ...] = ()) -> str:
    """A short content hash of a file or folder: the asset version, so unchanged assets keep theirs."""
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        if "__pycache__" in rel or rel.endswith(".pyc") or any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        digest.update(rel.encode() + b"\0" + bytes.fromhex(file_md5(path)) + b"\0")
    return digest.hexdigest()[:12]


def _copy_tree(source: Path, dest: Path, ignore=CODE_IGNORE) -> None:
    """Copy into a temporary folder and rename: a crash never leaves a half-registered asset."""
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if source.is_file():
        tmp.mkdir(parents=True)
        shutil.copy2(source, tmp / source.name)
    else:
        shutil.copytree(source, tmp, ignore=ignore)
    tmp.rename(dest)


def asset_names(profile) -> dict[str, str]:
    s = profile.scorer
    return {"environment": s.environment_name, "model": s.model_name, "code": f"{s.model_name}-code"}


def asset_versions(profile) -> dict[str, tuple[str, str]]:
    """(name, version) of each asset; versions are content hashes so unchanged assets keep theirs.
    Both targets version assets this way."""
    s, folder = profile.scorer, profile.scorer_dir
    env_hash = hashlib.sha256((folder / s.environment).read_bytes() + s.image.encode()).hexdigest()[:12]
    names = asset_names(profile)
    return {
        "environment": (names["environment"], env_hash),
        "model": (names["model"], tree_hash(folder / s.model)),
        "code": (names["code"], tree_hash(folder, skip=(Path(s.model).as_posix(),))),
    }


class LocalTarget(LocalJobs):
    """Implements check_*/apply_* and check_delete_*/delete_* for every step on disk."""

    def __init__(self, profile, emit, cancel):
        self.profile = profile
        self.emit = emit
        self.cancel = cancel
        sub = profile.account.subscription_id or "local"
        self.subscriptions = paths.local_cloud_dir() / "subscriptions"
        self.group_dir = self.subscriptions / sub / "resourceGroups" / profile.workspace.resource_group
        self.ws_dir = self.group_dir / "workspaces" / profile.workspace.name
        self._data_files: list[DataFile] | None = None

    # ------------------------------------------------------------------ shared helpers

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_CREATOR: "amlbatch", TAG_PROFILE: self.profile.name}

    def ours(self, resource: dict[str, Any] | None) -> bool:
        return bool(resource) and resource.get("tags", {}).get(TAG_PROFILE) == self.profile.name

    @staticmethod
    def _read(path: Path) -> dict[str, Any] | None:
        try:
            return read_json(path)
        except FileNotFoundError:
            return None

    def _new(self, **fields: Any) -> dict[str, Any]:
        return {**fields, "tags": self.tags, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def data_files(self) -> list[DataFile]:
        if self._data_files is None:
            self._data_files = expand(self.profile, self.profile.source)
        return self._data_files

    # paths of resources
    def account_dir(self, account: str) -> Path:
        return self.group_dir / "storageAccounts" / account

    def container_dir(self, account: str, container: str) -> Path:
        return self.account_dir(account) / "containers" / container

    def _json(self, kind: str, name: str) -> Path:
        return self.ws_dir / kind / f"{name}.json"

    @property
    def endpoint_file(self) -> Path:
        return self._json("batchEndpoints", self.profile.endpoint_name)

    @property
    def deployment_file(self) -> Path:
        return (self.ws_dir / "batchEndpoints" / self.profile.endpoint_name / "deployments"
                / f"{self.profile.endpoint.deployment}.json")

    def workspace(self) -> dict[str, Any] | None:
        return self._read(self.ws_dir / "workspace.json")

    def storage_account(self) -> str:
        ws = self.workspace()
        if not ws:
            raise StepError(f"workspace '{self.profile.workspace.name}' does not exist: run the provisioning first")
        return ws["storage_account"]

    # ------------------------------------------------------------------ resource group

    def check_resource_group(self, ctx: StepContext) -> Check:
        group = self._read(self.group_dir / "group.json")
        rg = self.profile.workspace.resource_group
        if group is None:
            return Check("create", f"resource group '{rg}' in {self.profile.workspace.location}")
        return none(f"resource group '{rg}' ({group['location']})", group)

    def apply_resource_group(self, ctx: StepContext, check: Check) -> Done:
        group = self._new(name=self.profile.workspace.resource_group, location=self.profile.workspace.location)
        write_json(self.group_dir / "group.json", group)
        return Done("created", check.detail, group)

    def check_delete_resource_group(self, ctx: StepContext) -> Check:
        group = self._read(self.group_dir / "group.json")
        what = f"resource group '{self.profile.workspace.resource_group}'"
        return delete_check(what, group is not None, self.ours(group), f"{what} and everything in it")

    def delete_resource_group(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.group_dir)
        self._prune(self.group_dir.parent)
        return Done("deleted", check.detail)

    def _prune(self, folder: Path) -> None:
        """Remove empty parent folders up to the local cloud root."""
        root = paths.local_cloud_dir()
        while folder != root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    # ------------------------------------------------------------------ workspace

    def check_workspace(self, ctx: StepContext) -> Check:
        ws = self.workspace()
        name, location = self.profile.workspace.name, self.profile.workspace.location
        if ws is None:
            return Check("create", f"workspace '{name}' in {location}")
        if ws["location"] != location:
            return Check("fail", f"workspace '{name}' is in {ws['location']}, the profile says {location}; "
                                 "a workspace cannot move: set workspace.location to "
                                 f"'{ws['location']}' or use another workspace.name")
        return none(f"workspace '{name}' (storage {ws['storage_account']})", ws)

    def apply_workspace(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.workspace.name
        # Azure names the auto-created storage account from the workspace name plus a unique suffix.
        stem = "".join(ch for ch in name.lower() if ch.isalnum())[:16]
        suffix = hashlib.sha256(str(self.ws_dir).encode()).hexdigest()[:8]
        account = f"{stem}{suffix}"[:24]
        write_json(self.account_dir(account) / "account.json",
                   self._new(name=account, kind="StorageV2", location=self.profile.workspace.location))
        ws = self._new(name=name, location=self.profile.workspace.location, storage_account=account)
        default = self._new(name="workspaceblobstore", account_name=account,
                            container_name=f"azureml-blobstore-{suffix}", is_default=True)
        write_json(self._json("datastores", "workspaceblobstore"), default)
        write_json(self.ws_dir / "workspace.json", ws)
        return Done("created", f"workspace '{name}' with storage account {account}", ws)

    def check_delete_workspace(self, ctx: StepContext) -> Check:
        ws = self.workspace()
        what = f"workspace '{self.profile.workspace.name}'"
        return delete_check(what, ws is not None, self.ours(ws),
                            f"{what} and its storage account {(ws or {}).get('storage_account')}", ws)

    def delete_workspace(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.account_dir(check.value["storage_account"]), ignore_errors=True)
        shutil.rmtree(self.ws_dir)
        self._prune(self.ws_dir.parent)
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ containers

    def _containers(self) -> list[str]:
        s = self.profile.storage
        return [s.input_container, s.output_container]

    def check_containers(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", "containers " + ", ".join(self._containers()) + " (in the new workspace)")
        account = self.storage_account()
        missing = [c for c in self._containers() if not (self.container_dir(account, c) / "container.json").exists()]
        if missing:
            return Check("create", "containers " + ", ".join(missing) + f" in {account}", account)
        return none("containers " + ", ".join(self._containers()) + f" in {account}", account)

    def apply_containers(self, ctx: StepContext, check: Check) -> Done:
        account = check.value or self.storage_account()
        made = []
        for container in self._containers():
            path = self.container_dir(account, container) / "container.json"
            if not path.exists():
                (path.parent / "blobs").mkdir(parents=True, exist_ok=True)
                write_json(path, self._new(name=container))
                made.append(container)
        return Done("created", "containers " + ", ".join(made) + f" in {account}", account)

    def check_delete_containers(self, ctx: StepContext) -> Check:
        ws = self.workspace()
        if ws is None:
            return Check("skip", "containers already gone")
        mine = [c for c in self._containers()
                if self.ours(self._read(self.container_dir(ws["storage_account"], c) / "container.json"))]
        if not mine:
            return Check("skip", "no container created by this profile")
        return Check("delete", "containers " + ", ".join(mine) + " and their blobs", (ws["storage_account"], mine))

    def delete_containers(self, ctx: StepContext, check: Check) -> Done:
        account, mine = check.value
        for container in mine:
            shutil.rmtree(self.container_dir(account, container))
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ data upload

    def _blob_paths(self, account: str, blob: str) -> tuple[Path, Path]:
        container = self.container_dir(account, self.profile.storage.input_container)
        return container / "blobs" / blob, container / "meta" / (blob + ".json")

    def check_upload(self, ctx: StepContext) -> Check:
        files = self.data_files()
        if not files:
            return Check("skip", "no data files in the profile (data.files is empty)")
        total = sum(f.size for f in files)
        if ctx.planned("containers") == "create" or ctx.planned("workspace") == "create":
            return Check("create", f"{len(files)} files ({human_bytes(total)})", files)
        account = self.storage_account()
        todo = []
        for index, data_file in enumerate(files):
            ctx.checkpoint()
            _, meta_path = self._blob_paths(account, data_file.blob)
            meta = self._read(meta_path)
            if not meta or meta.get("size") != data_file.size or meta.get("content_md5") != file_md5(data_file.path):
                todo.append(data_file)
            ctx.progress(index + 1, len(files), "files checked")
        if not todo:
            return none(f"{len(files)} files up to date ({human_bytes(total)})")
        return Check("create", f"{len(todo)} of {len(files)} files to upload ({human_bytes(sum(f.size for f in todo))})", todo)

    def apply_upload(self, ctx: StepContext, check: Check) -> Done:
        account = self.storage_account()
        todo: list[DataFile] = check.value
        total = sum(f.size for f in todo)
        done_bytes = 0

        def upload(data_file: DataFile) -> int:
            ctx.checkpoint()
            blob_path, meta_path = self._blob_paths(account, data_file.blob)
            blob_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = blob_path.with_name(blob_path.name + ".uploading")
            shutil.copyfile(data_file.path, tmp)
            tmp.replace(blob_path)
            write_json(meta_path, {"size": data_file.size, "content_md5": file_md5(blob_path),
                                   "tags": self.tags})
            return data_file.size

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload") as pool:
            for size in pool.map(upload, todo):
                done_bytes += size
                ctx.progress(done_bytes, total, "bytes")
        return Done("created", f"uploaded {len(todo)} files ({human_bytes(total)}) to "
                               f"{self.profile.storage.input_container}/{self.profile.data.prefix}")

    def check_delete_upload(self, ctx: StepContext) -> Check:
        ws = self.workspace()
        if ws is None:
            return Check("skip", "uploaded data already gone")
        container = self.container_dir(ws["storage_account"], self.profile.storage.input_container)
        if self.ours(self._read(container / "container.json")):
            return Check("skip", "uploaded data goes with its container")
        metas = [m for m in sorted((container / "meta").rglob("*.json")) if self.ours(self._read(m))] \
            if (container / "meta").is_dir() else []
        if not metas:
            return Check("skip", "no uploaded data of this profile")
        return Check("delete", f"{len(metas)} uploaded blobs in {self.profile.storage.input_container}",
                     (container, metas))

    def delete_upload(self, ctx: StepContext, check: Check) -> Done:
        container, metas = check.value
        for meta in metas:
            blob = meta.relative_to(container / "meta").as_posix()[: -len(".json")]
            (container / "blobs" / blob).unlink(missing_ok=True)
            meta.unlink()
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ compute

    def check_compute(self, ctx: StepContext) -> Check:
        c = self.profile.compute
        current = self._read(self._json("computes", c.name))
        if current is None:
            return Check("create", f"cluster '{c.name}' {c.vm_size}, {c.min_nodes}-{c.max_nodes} nodes")
        fixed = [(k, current[k], getattr(c, k)) for k in ("vm_size", "tier") if current[k] != getattr(c, k)]
        if fixed:
            key, have, want = fixed[0]
            return Check("fail", f"compute.{key}: cluster '{c.name}' has {have}, the profile asks for {want}; "
                                 f"this cannot change in place: delete the cluster (amlbatch --teardown) "
                                 f"or set compute.name to a new cluster")
        changes = [f"{k} {current[k]} -> {getattr(c, k)}" for k in ("min_nodes", "max_nodes", "idle_seconds")
                   if current[k] != getattr(c, k)]
        if changes:
            return Check("update", f"cluster '{c.name}': " + ", ".join(changes), current)
        return none(f"cluster '{c.name}' {c.vm_size}, {c.min_nodes}-{c.max_nodes} nodes", current)

    def apply_compute(self, ctx: StepContext, check: Check) -> Done:
        c = self.profile.compute
        settings = dict(vm_size=c.vm_size, tier=c.tier, min_nodes=c.min_nodes, max_nodes=c.max_nodes,
                        idle_seconds=c.idle_seconds)
        if check.plan == "update":
            write_json(self._json("computes", c.name), {**check.value, **settings})
            return Done("updated", check.detail)
        write_json(self._json("computes", c.name), self._new(name=c.name, type="AmlCompute", **settings))
        return Done("created", check.detail)

    def _check_delete_json(self, path: Path, what: str) -> Check:
        current = self._read(path)
        return delete_check(what, current is not None, self.ours(current), value=path)

    def _delete_json(self, ctx: StepContext, check: Check) -> Done:
        check.value.unlink()
        return Done("deleted", check.detail)

    def check_delete_compute(self, ctx: StepContext) -> Check:
        name = self.profile.compute.name
        return self._check_delete_json(self._json("computes", name), f"cluster '{name}'")

    delete_compute = _delete_json

    # ------------------------------------------------------------------ datastores

    def _datastores(self) -> list[tuple[str, str]]:
        s = self.profile.storage
        return [(s.input_datastore, s.input_container), (s.output_datastore, s.output_container)]

    def check_datastores(self, ctx: StepContext) -> Check:
        names = ", ".join(n for n, _ in self._datastores())
        if ctx.planned("workspace") == "create":
            return Check("create", f"datastores {names}")
        account = self.storage_account()
        todo, changed = [], []
        for name, container in self._datastores():
            current = self._read(self._json("datastores", name))
            if current is None:
                todo.append(name)
            elif current["container_name"] != container or current["account_name"] != account:
                changed.append(f"{name} -> {container}")
        if todo or changed:
            detail = ", ".join([f"create {n}" for n in todo] + [f"repoint {c}" for c in changed])
            return Check("create" if todo else "update", "datastores: " + detail, account)
        return none(f"datastores {names}", account)

    def apply_datastores(self, ctx: StepContext, check: Check) -> Done:
        account = check.value or self.storage_account()
        for name, container in self._datastores():
            path = self._json("datastores", name)
            current = self._read(path)
            if current is None:
                write_json(path, self._new(name=name, type="AzureBlob", account_name=account,
                                           container_name=container, credentials="identity"))
            elif current["container_name"] != container or current["account_name"] != account:
                write_json(path, {**current, "container_name": container, "account_name": account})
        return Done("created" if check.plan == "create" else "updated", check.detail)

    def check_delete_datastores(self, ctx: StepContext) -> Check:
        mine = [self._json("datastores", n) for n, _ in self._datastores()
                if self.ours(self._read(self._json("datastores", n)))]
        if not mine:
            return Check("skip", "no datastore created by this profile")
        return Check("delete", "datastores " + ", ".join(p.stem for p in mine), mine)

    def delete_datastores(self, ctx: StepContext, check: Check) -> Done:
        for path in check.value:
            path.unlink()
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ environment, model, code

    def asset_versions(self) -> dict[str, tuple[str, str]]:
        return asset_versions(self.profile)

    def _asset_dir(self, kind: str, name: str, version: str) -> Path:
        return self.ws_dir / {"environment": "environments", "model": "models", "code": "codes"}[kind] / name / version

    def check_assets(self, ctx: StepContext) -> Check:
        versions = self.asset_versions()
        label = ", ".join(f"{k} {n}:{v}" for k, (n, v) in versions.items())
        if ctx.planned("workspace") == "create":
            return Check("create", label, versions)
        missing = [k for k, (n, v) in versions.items()
                   if not (self._asset_dir(k, n, v) / "asset.json").exists()]
        if missing:
            return Check("create", "register " + ", ".join(f"{k} {versions[k][0]}:{versions[k][1]}"
                                                          for k in missing), versions)
        return none(label, versions)

    def apply_assets(self, ctx: StepContext, check: Check) -> Done:
        s, folder = self.profile.scorer, self.profile.scorer_dir
        versions: dict[str, tuple[str, str]] = check.value
        made = []
        for kind, (name, version) in versions.items():
            ctx.checkpoint()
            dest = self._asset_dir(kind, name, version)
            if (dest / "asset.json").exists():
                continue
            shutil.rmtree(dest, ignore_errors=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if kind == "model":
                _copy_tree(folder / s.model, dest)
            elif kind == "code":
                model_rel = Path(s.model).parts[0]
                _copy_tree(folder, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*", model_rel))
            else:
                _copy_tree(folder / s.environment, dest)
            write_json(dest / "asset.json", self._new(name=name, version=version, kind=kind,
                                                      image=s.image if kind == "environment" else None))
            made.append(f"{kind} {name}:{version}")
            ctx.log(f"registered {kind} {name}:{version}")
        return Done("created", "registered " + ", ".join(made), versions)

    def asset_names(self) -> dict[str, str]:
        return asset_names(self.profile)

    def check_delete_assets(self, ctx: StepContext) -> Check:
        mine = []
        for kind, name in self.asset_names().items():
            folder = self._asset_dir(kind, name, "x").parent
            if folder.is_dir():
                mine += [p.parent for p in folder.glob("*/asset.json") if self.ours(self._read(p))]
        if not mine:
            return Check("skip", "no asset registered by this profile")
        return Check("delete", f"{len(mine)} asset versions", mine)

    def delete_assets(self, ctx: StepContext, check: Check) -> Done:
        for folder in check.value:
            shutil.rmtree(folder)
            self._prune(folder.parent)
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ endpoint

    def _endpoint_taken_elsewhere(self, name: str) -> bool:
        """Endpoint names are unique per region across all subscriptions, as on Azure."""
        location = self.profile.workspace.location
        for path in self.subscriptions.glob(f"*/resourceGroups/*/workspaces/*/batchEndpoints/{name}.json"):
            if path != self.endpoint_file and (self._read(path) or {}).get("location") == location:
                return True
        return False

    def check_endpoint(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint_name
        current = self._read(self.endpoint_file)
        if current is not None:
            return none(f"endpoint '{name}' {current['scoring_uri']}", current)
        if self._endpoint_taken_elsewhere(name):
            free = next(f"{name[:27]}-{i}" for i in range(2, 1000) if not self._endpoint_taken_elsewhere(f"{name[:27]}-{i}"))
            return Check("fail", f"endpoint.name: '{name}' is already taken in {self.profile.workspace.location} "
                                 f"(endpoint names are unique per region); try endpoint.name = \"{free}\"")
        return Check("create", f"endpoint '{name}'")

    def apply_endpoint(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.endpoint_name
        endpoint = self._new(name=name, location=self.profile.workspace.location, default_deployment="",
                             scoring_uri=f"local://{self.profile.workspace.name}/batchEndpoints/{name}/jobs")
        write_json(self.endpoint_file, endpoint)
        return Done("created", f"endpoint '{name}' {endpoint['scoring_uri']}", endpoint)

    def check_delete_endpoint(self, ctx: StepContext) -> Check:
        return self._check_delete_json(self.endpoint_file, f"endpoint '{self.profile.endpoint_name}'")

    def delete_endpoint(self, ctx: StepContext, check: Check) -> Done:
        shutil.rmtree(self.endpoint_file.with_suffix(""), ignore_errors=True)
        return self._delete_json(ctx, check)

    # ------------------------------------------------------------------ deployment

    def deployment_settings(self, versions: dict[str, tuple[str, str]]) -> dict[str, Any]:
        e, s = self.profile.endpoint, self.profile.scorer
        return {
            "model": "{}:{}".format(*versions["model"]),
            "environment": "{}:{}".format(*versions["environment"]),
            "code": "{}:{}".format(*versions["code"]),
            "scoring_script": s.script,
            "compute": self.profile.compute.name,
            **{k: getattr(e, k) for k in ("mini_batch_size", "instance_count", "max_concurrency_per_instance",
                                          "output_action", "output_file_name", "error_threshold",
                                          "max_retries", "timeout", "logging_level")},
        }

    def check_deployment(self, ctx: StepContext) -> Check:
        name = self.profile.endpoint.deployment
        want = self.deployment_settings(ctx.value("assets") or self.asset_versions())
        current = self._read(self.deployment_file)
        if current is None:
            return Check("create", f"deployment '{name}' (default)", want)
        changes = [f"{k} {current['settings'].get(k)} -> {v}" for k, v in want.items()
                   if current["settings"].get(k) != v]
        endpoint = self._read(self.endpoint_file) or {}
        if endpoint.get("default_deployment") != name:
            changes.append(f"make '{name}' the endpoint's default")
        if changes:
            return Check("update", f"deployment '{name}': " + "; ".join(changes), want)
        return none(f"deployment '{name}' (default)", want)

    def apply_deployment(self, ctx: StepContext, check: Check) -> Done:
        name = self.profile.endpoint.deployment
        current = self._read(self.deployment_file)
        record = {**current, "settings": check.value} if current else self._new(name=name, settings=check.value)
        write_json(self.deployment_file, record)
        # Invoking an endpoint with no default deployment fails, so always set it.
        endpoint = self._read(self.endpoint_file)
        if endpoint.get("default_deployment") != name:
            write_json(self.endpoint_file, {**endpoint, "default_deployment": name})
        return Done("updated" if current else "created", check.detail)

    def check_delete_deployment(self, ctx: StepContext) -> Check:
        return self._check_delete_json(self.deployment_file, f"deployment '{self.profile.endpoint.deployment}'")

    delete_deployment = _delete_json

    # ------------------------------------------------------------------ schedule

    def check_schedule(self, ctx: StepContext) -> Check:
        sched = self.profile.schedule
        current = self._read(self._json("schedules", sched.name))
        if not sched.frequency:
            if current is not None and self.ours(current):
                return Check("update", f"remove schedule '{sched.name}' (the profile has none)")
            return Check("skip", "no schedule asked for")
        want = f"every {sched.interval} {sched.frequency}(s)"
        if current is None:
            return Check("create", f"schedule '{sched.name}' {want}")
        if (current["frequency"], current["interval"]) != (sched.frequency, sched.interval):
            return Check("update", f"schedule '{sched.name}': every {current['interval']} "
                                   f"{current['frequency']}(s) -> {want}", current)
        return none(f"schedule '{sched.name}' {want}")

    def apply_schedule(self, ctx: StepContext, check: Check) -> Done:
        sched = self.profile.schedule
        path = self._json("schedules", sched.name)
        if not sched.frequency:
            path.unlink()
            return Done("updated", check.detail)
        fields = dict(frequency=sched.frequency, interval=sched.interval, endpoint=self.profile.endpoint_name,
                      input=f"azureml://datastores/{self.profile.storage.input_datastore}/paths/"
                            f"{self.profile.data.prefix}", enabled=True)
        if check.plan == "update":
            write_json(path, {**check.value, **fields})
            return Done("updated", check.detail)
        write_json(path, self._new(name=sched.name, **fields))
        return Done("created", check.detail)

    def check_delete_schedule(self, ctx: StepContext) -> Check:
        name = self.profile.schedule.name
        return self._check_delete_json(self._json("schedules", name), f"schedule '{name}'")

    delete_schedule = _delete_json
