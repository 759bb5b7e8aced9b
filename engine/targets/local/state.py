"""What the local steps share: where each resource lives on disk, reading and writing its JSON
record, the ownership tags, and the storage account of the workspace. Steps reach it as
`self.target` (LocalTarget mixes LocalState in) and import this module, never the target."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from engine import ownership, paths
from engine.contract import Step
from engine.datafiles import DataFile, expand
from engine.errors import StepError
from engine.fileio import read_json, write_json
from engine.steps import Check, Done, delete_check
from engine.targets.local import blobindex

ASSET_FOLDERS = {"environment": "environments", "model": "models", "code": "codes"}


def confined(path: Path, root: Path | None = None) -> Path:
    """The one gate of every local write: `path` made absolute with its `..` resolved, refused unless it
    is inside the local state root. Every path a local step or the job code writes to comes from here
    (the path builders of LocalState, the blob and job paths), so a crafted name cannot write outside.
    os.path.abspath, not Path.resolve: no system call per path (uploads pass thousands)."""
    base = os.path.abspath(root if root is not None else paths.local_cloud_dir())
    placed = os.path.abspath(path)
    if placed != base and not placed.startswith(base.rstrip(os.sep) + os.sep):
        raise StepError(f"refused to write {path}: it is outside amlbatch's local state folder {base}")
    return Path(placed)


def read(path: Path) -> dict[str, Any] | None:
    """A resource's JSON record, or None when it does not exist."""
    try:
        return read_json(path)
    except FileNotFoundError:
        return None


def copy_tree(source: Path, dest: Path, ignore: tuple[str, ...] = ownership.CODE_IGNORED) -> None:
    """Copy into a temporary folder and rename: a crash never leaves a half-registered asset.
    `ignore`: glob patterns of names left out of a copied folder."""
    dest = confined(dest)
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if source.is_file():
        tmp.mkdir(parents=True)
        shutil.copy2(source, tmp / source.name)
    else:
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*ignore))
    tmp.rename(dest)


def _tagged(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """(path relative to `folder`, tags) of every tagged record under it, sorted; a container's
    blobs come from its index (blobindex), one entry per blob, and its blob files are not read."""
    found: list[tuple[str, dict[str, str]]] = []
    for top, dirs, names in os.walk(folder):
        here = Path(top)
        if "container.json" in names:
            dirs[:] = [d for d in dirs if d not in ("blobs", blobindex.LEGACY)]
            rel = here.relative_to(folder).as_posix()
            found += [(f"{rel}/blobs/{blob}" if rel != "." else f"blobs/{blob}", tags)
                      for blob, tags in blobindex.blob_owners(here) if tags]
        for name in names:
            if name.endswith(".json"):
                record = read(here / name)
                tags = record.get("tags") if isinstance(record, dict) else None
                if tags:
                    found.append(((here / name).relative_to(folder).as_posix(), tags))
    return sorted(found, key=lambda item: item[0].split("/"))  # in path order, folder by folder


class LocalState:
    """The profile's resources on disk (see the package docstring for the layout)."""

    profile: Any

    def init_state(self, profile: Any) -> None:
        self.profile = profile
        sub = profile.account.subscription_id or "local"
        self.root = paths.local_cloud_dir()
        self.subscriptions = self.root / "subscriptions"
        self.group_dir = confined(self.subscriptions / sub / "resourceGroups" / profile.workspace.resource_group)
        self.ws_dir = confined(self.group_dir / "workspaces" / profile.workspace.name)
        self._data_files: list[DataFile] | None = None

    # ------------------------------------------------------------------ records and ownership

    def new(self, **fields: Any) -> dict[str, Any]:
        """A new resource record, tagged as this profile's."""
        return {**fields, "tags": ownership.tags(self.profile),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def ours(self, resource: dict[str, Any] | None) -> bool:
        return bool(resource) and ownership.made_by(resource.get("tags"), self.profile)

    def inside(self, folder: Path) -> tuple[list[str], list[str]]:
        """What a folder holds, as (this profile's resources, others' resources), each described in a
        few words; records without tags (job state, results) belong to whoever holds them."""
        mine: list[str] = []
        others: list[str] = []
        for rel, tags in _tagged(folder):
            if ownership.made_by(tags, self.profile):
                mine.append(rel)
            else:
                others.append(f"{rel} of {ownership.describe_owner(tags) if ownership.owner_of(tags) else 'a person'}")
        return mine, others

    def kept_or_delete(self, what: str, record: dict[str, Any] | None, folder: Path, value: Any = None) -> Check:
        """Tear-down of a resource that holds others (group, workspace, container): delete it, with
        everything listed, only when it is ours and holds nothing of anyone else's; else keep it."""
        if record is None or not self.ours(record):
            return delete_check(what, record is not None, False)
        mine, others = self.inside(folder)
        if others:
            shown = "; ".join(others[:5]) + (f"; and {len(others) - 5} more" if len(others) > 5 else "")
            return Check("skip", f"kept {what}: it holds resources this profile did not make ({shown}); "
                                 "only this profile's resources inside are deleted")
        return Check("delete", f"{what} with everything in it: " + ", ".join(mine), value)

    def prune(self, folder: Path) -> None:
        """Remove empty parent folders up to the local cloud root."""
        folder = confined(folder)
        while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    # ------------------------------------------------------------------ where resources live

    def account_dir(self, account: str) -> Path:
        return confined(self.group_dir / "storageAccounts" / account)

    def container_dir(self, account: str, container: str) -> Path:
        return confined(self.account_dir(account) / "containers" / container)

    def json_path(self, kind: str, name: str) -> Path:
        """The record of a workspace resource: kind is computes, datastores, batchEndpoints, schedules."""
        return confined(self.ws_dir / kind / f"{name}.json")

    @property
    def endpoint_file(self) -> Path:
        return self.json_path("batchEndpoints", self.profile.endpoint_name)

    @property
    def deployment_file(self) -> Path:
        return confined(self.ws_dir / "batchEndpoints" / self.profile.endpoint_name / "deployments"
                        / f"{self.profile.endpoint.deployment}.json")

    def asset_dir(self, kind: str, name: str, version: str) -> Path:
        return confined(self.ws_dir / ASSET_FOLDERS[kind] / name / version)

    @property
    def jobs_dir(self) -> Path:
        return self.ws_dir / "jobs"

    # ------------------------------------------------------------------ shared reads

    def workspace(self) -> dict[str, Any] | None:
        return read(self.ws_dir / "workspace.json")

    def storage_account(self) -> str:
        ws = self.workspace()
        if not ws:
            raise StepError(f"workspace '{self.profile.workspace.name}' does not exist: run the provisioning first")
        return ws["storage_account"]

    def data_files(self) -> list[DataFile]:
        if self._data_files is None:
            self._data_files = expand(self.profile, self.profile.source)
        return self._data_files


class LocalStep(Step):
    """A step of the local target; `self.target` is the LocalState its records live in."""

    target: LocalState

    def guard(self, ctx: Any, what: str, record: dict[str, Any] | None, check: Check, path: Path) -> Check:
        """`check`, unless the resource (its record at `path`) exists and is not this profile's
        (engine.ownership.guard); with --adopt, taking it over rewrites the record's tags."""
        if record is None:
            return check

        def retag() -> None:
            current = read(path)
            if current is not None:
                write_json(path, {**current, "tags": ownership.tags(self.profile)})
        return ownership.guard(what, record.get("tags"), self.profile, ctx.options, check, retag,
                               changing=check.plan == "update")

    def check_delete_record(self, path: Path, what: str) -> Check:
        """Tear-down of a resource that is one JSON record: its path is the check's value."""
        current = read(path)
        return delete_check(what, current is not None, self.target.ours(current), value=path)

    def delete_record(self, ctx: Any, check: Check) -> Done:
        check.value.unlink()
        return Done("deleted", check.detail)

