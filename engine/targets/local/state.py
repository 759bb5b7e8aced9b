"""What the local steps share: where each resource lives on disk, reading and writing its JSON
record, the ownership tags, and the storage account of the workspace. Steps reach it as
`self.target` (LocalTarget mixes LocalState in) and import this module, never the target."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from engine import ownership, paths
from engine.contract import Step
from engine.datafiles import DataFile, expand
from engine.errors import StepError
from engine.fileio import read_json
from engine.steps import Check, Done, delete_check

ASSET_FOLDERS = {"environment": "environments", "model": "models", "code": "codes"}


def read(path: Path) -> dict[str, Any] | None:
    """A resource's JSON record, or None when it does not exist."""
    try:
        return read_json(path)
    except FileNotFoundError:
        return None


def copy_tree(source: Path, dest: Path, ignore: tuple[str, ...] = ownership.CODE_IGNORED) -> None:
    """Copy into a temporary folder and rename: a crash never leaves a half-registered asset.
    `ignore`: glob patterns of names left out of a copied folder."""
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if source.is_file():
        tmp.mkdir(parents=True)
        shutil.copy2(source, tmp / source.name)
    else:
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*ignore))
    tmp.rename(dest)


class LocalState:
    """The profile's resources on disk (see the package docstring for the layout)."""

    profile: Any

    def init_state(self, profile: Any) -> None:
        self.profile = profile
        sub = profile.account.subscription_id or "local"
        self.root = paths.local_cloud_dir()
        self.subscriptions = self.root / "subscriptions"
        self.group_dir = self.subscriptions / sub / "resourceGroups" / profile.workspace.resource_group
        self.ws_dir = self.group_dir / "workspaces" / profile.workspace.name
        self._data_files: list[DataFile] | None = None

    # ------------------------------------------------------------------ records and ownership

    def new(self, **fields: Any) -> dict[str, Any]:
        """A new resource record, tagged as this profile's."""
        return {**fields, "tags": ownership.tags(self.profile),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def ours(self, resource: dict[str, Any] | None) -> bool:
        return bool(resource) and ownership.made_by(resource.get("tags"), self.profile)

    def prune(self, folder: Path) -> None:
        """Remove empty parent folders up to the local cloud root."""
        while folder != self.root and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    # ------------------------------------------------------------------ where resources live

    def account_dir(self, account: str) -> Path:
        return self.group_dir / "storageAccounts" / account

    def container_dir(self, account: str, container: str) -> Path:
        return self.account_dir(account) / "containers" / container

    def json_path(self, kind: str, name: str) -> Path:
        """The record of a workspace resource: kind is computes, datastores, batchEndpoints, schedules."""
        return self.ws_dir / kind / f"{name}.json"

    @property
    def endpoint_file(self) -> Path:
        return self.json_path("batchEndpoints", self.profile.endpoint_name)

    @property
    def deployment_file(self) -> Path:
        return (self.ws_dir / "batchEndpoints" / self.profile.endpoint_name / "deployments"
                / f"{self.profile.endpoint.deployment}.json")

    def asset_dir(self, kind: str, name: str, version: str) -> Path:
        return self.ws_dir / ASSET_FOLDERS[kind] / name / version

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

    def check_delete_record(self, path: Path, what: str) -> Check:
        """Tear-down of a resource that is one JSON record: its path is the check's value."""
        current = read(path)
        return delete_check(what, current is not None, self.target.ours(current), value=path)

    def delete_record(self, ctx: Any, check: Check) -> Done:
        check.value.unlink()
        return Done("deleted", check.detail)

