"""The input and output blob containers in the workspace's storage account."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.context import StepContext
from engine.fileio import write_json
from engine.steps import Check, Done, delete_containers, none
from engine.targets.local.state import LocalStep, read


class Containers(LocalStep):
    key = "containers"

    def _names(self) -> list[str]:
        s = self.profile.storage
        return [s.input_container, s.output_container]

    def _record(self, account: str, container: str) -> Path:
        return self.target.container_dir(account, container) / "container.json"

    def check(self, ctx: StepContext) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", "containers " + ", ".join(self._names()) + " (in the new workspace)")
        account = self.target.storage_account()
        missing = [c for c in self._names() if not self._record(account, c).exists()]
        if missing:
            return Check("create", "containers " + ", ".join(missing) + f" in {account}", account)
        return none("containers " + ", ".join(self._names()) + f" in {account}", account)

    def apply(self, ctx: StepContext, check: Check) -> Done:
        account = check.value or self.target.storage_account()
        made = []
        for container in self._names():
            path = self._record(account, container)
            if not path.exists():
                (path.parent / "blobs").mkdir(parents=True, exist_ok=True)
                write_json(path, self.target.new(name=container))
                made.append(container)
        return Done("created", "containers " + ", ".join(made) + f" in {account}", account)

    def check_delete(self, ctx: StepContext) -> Check:
        ws = self.target.workspace()
        if ws is None:
            return Check("skip", "containers already gone")
        account = ws["storage_account"]
        mine, kept = [], []
        datastores = [read(p) or {} for p in sorted((self.target.ws_dir / "datastores").glob("*.json"))]
        for name in self._names():
            check = self.target.kept_or_delete(f"container '{name}'", read(self._record(account, name)),
                                               self.target.container_dir(account, name))
            users = [d.get("name") for d in datastores if d.get("container_name") == name and d.get("tags")
                     and not self.target.ours(d)]
            if check.plan == "delete" and users:  # another profile's datastore reads or writes it
                check = Check("skip", f"kept container '{name}': datastore {', '.join(map(str, users))} of "
                                      "another profile points at it")
            if check.plan == "delete":
                mine.append(name)
            elif self.target.ours(read(self._record(account, name))):
                kept.append(check.detail)
        return delete_containers(mine, kept, (account, mine))

    def delete(self, ctx: StepContext, check: Check) -> Done:
        account, mine = check.value
        for container in mine:
            shutil.rmtree(self.target.container_dir(account, container))
        return Done("deleted", check.detail)
