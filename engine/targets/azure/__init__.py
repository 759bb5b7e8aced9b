"""The azure target: every provisioning step in a real Azure subscription.

Clients: azure-mgmt-resource (resource group), azure-ai-ml MLClient (workspace, compute,
datastores, assets, endpoint, deployment, schedule, jobs) and azure-storage-blob (containers and
data, see `_blob`). Importing this module loads the Azure SDKs; nothing on the local path imports
it (engine.targets.create does, lazily).

Contract (engine.steps): `check_K` only reads, at most one read per resource, reads of one step
made concurrently; `apply_K` makes what the check found missing or different. Every resource we
create carries the tags `created-by=amlbatch` and `amlbatch-profile=<profile>`; tear-down deletes
only what carries this profile's tag.

Resuming: a resource Azure reports as Creating/Updating is waited for, not created again; a
workspace whose template deployment is still running (a run stopped with Ctrl+C) is picked up
from that deployment. Ctrl+C stops the *waiting* (see `_lro`), never the operation in Azure.

Errors from Azure become one sentence with what to do (`_errors.explain`). The SDKs' printing and
logging never reach the terminal (`_capture`).

Test hooks (not profile fields, never set in normal use):
* keyword arguments `credential=` (any azure-core TokenCredential) and `blob_endpoint=` /
  `blob_verify=` (an account URL such as Azurite's, and its CA bundle) of `AzureTarget`;
* for subprocess tests, the environment variables AMLBATCH_TEST_BLOB_ENDPOINT and
  AMLBATCH_TEST_BLOB_CA, read only here, with the same meaning.

Note: MLClient writes AZUREML_CURRENT_CLOUD into os.environ (the cloud it talks to); harmless,
and left in place because other live clients may read it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from engine import events as ev
from engine.datafiles import DataFile, expand, file_md5, human_bytes
from engine.errors import AmlBatchError, Canceled, StepError
from engine.steps import Check, Done, delete_check, none
from engine.targets.azure import _capture, _errors, _lro
from engine.targets.azure._base import (BUSY_STATES, FAILED_STATES, TAG_HASH, carry, get_or_none,
                                        last_segment, same_ref, say, state_of, step, tags_of)
from engine.targets.azure._blob import META_CREATOR, META_MD5, META_PROFILE, Blobs
from engine.targets.azure._jobs import AzureJobs
from engine.targets.azure._schedule import ScheduleSteps
from engine.targets.local import TAG_CREATOR, TAG_PROFILE, asset_versions

class AzureTarget(ScheduleSteps, AzureJobs):
    """Implements check_*/apply_* and check_delete_*/delete_* against Azure."""

    def __init__(self, profile: Any, emit: ev.Emit, cancel: Any, credential: Any = None,
                 blob_endpoint: str | None = None, blob_verify: Any = None):
        self.profile = profile
        self.emit = emit
        self.cancel = cancel
        self._credential = credential
        self._sign_in_error: AmlBatchError | None = None
        self.blob_endpoint = blob_endpoint or os.environ.get("AMLBATCH_TEST_BLOB_ENDPOINT") or None
        self.blob_verify = blob_verify if blob_verify is not None else (
            os.environ.get("AMLBATCH_TEST_BLOB_CA") or None)
        self._lock = threading.RLock()  # memo, clients map, closing: held only briefly
        self._client_locks = {"credential": threading.Lock(), "ml": threading.Lock(), "rm": threading.Lock()}
        self._memo: dict[str, Future] = {}
        self._prefetch_pool: ThreadPoolExecutor | None = None
        self._ml: Any = None
        self._rm: Any = None
        self._blobs: dict[str, Blobs] = {}
        self._data_files: list[DataFile] | None = None
        self._closed = False
        _lro.install()
        _capture.attach(self, self._sdk_output)

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            self._closed = True
            pool = self._prefetch_pool
        if pool is not None:  # not from a prefetch thread itself (a forgotten target collected there)
            pool.shutdown(wait=not threading.current_thread().name.startswith("prefetch"), cancel_futures=True)
        _capture.detach(self)
        for client in (self._ml, self._rm):
            closer = getattr(client, "close", None)
            if closer:
                try:
                    closer()
                except Exception:  # noqa: BLE001 - closing must not fail a run
                    pass

    def __del__(self) -> None:  # a target somebody forgot to close must not keep the capture on
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _sdk_output(self, message: str, level: str) -> None:
        """SDK output from a thread no step or job is bound to (a poller's thread)."""
        recent = getattr(self, "_recent_sdk_sink", None)
        if recent is not None:
            recent(message, level)
        else:
            self.emit(ev.StepLog("", message, "debug"))

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_CREATOR: "amlbatch", TAG_PROFILE: self.profile.name}

    def ours(self, resource: Any) -> bool:
        tags = resource if isinstance(resource, dict) else tags_of(resource)
        return tags.get(TAG_PROFILE) == self.profile.name

    @property
    def credential(self) -> Any:
        """Signed in once per target, on first use; a failed sign-in is not retried by every step
        (a device-code prompt must not appear once per step)."""
        with self._client_locks["credential"]:
            if self._credential is None:
                if self._sign_in_error is not None:
                    raise self._sign_in_error
                from engine.cloud import sign_in

                account = self.profile.account
                try:
                    self._credential = sign_in(account.auth, account.tenant_id, self.emit)
                except AmlBatchError as exc:
                    self._sign_in_error = exc
                    raise
            return self._credential

    @property
    def ml(self) -> Any:
        with self._client_locks["ml"]:  # importing azure.ai.ml takes a second or two: not under _lock
            if self._ml is None:
                from azure.ai.ml import MLClient

                p = self.profile
                self._ml = MLClient(self.credential, p.account.subscription_id, p.workspace.resource_group,
                                    p.workspace.name)
            return self._ml

    @property
    def rm(self) -> Any:
        with self._client_locks["rm"]:
            if self._rm is None:
                from azure.mgmt.resource.resources import ResourceManagementClient

                self._rm = ResourceManagementClient(self.credential, self.profile.account.subscription_id)
            return self._rm

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Read once per target (one read per resource even when several steps need it); waits for
        a read that `prefetch` already started."""
        with self._lock:
            future = self._memo.get(key)
            owner = future is None
            if owner:
                future = self._memo[key] = Future()
        if owner:
            self._settle(key, future, compute)
        return future.result()

    def _settle(self, key: str, future: Future, compute: Callable[[], Any]) -> None:
        try:
            future.set_result(compute())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits; the next ask reads again
            with self._lock:
                if self._memo.get(key) is future:
                    del self._memo[key]
            future.set_exception(exc)

    def forget(self, key: str) -> None:
        with self._lock:
            self._memo.pop(key, None)

    def prefetch(self) -> None:
        """Start, once, every read that needs nothing but the profile, all at the same time.

        The engine runs a step's check when the steps it needs are done, so reads would otherwise
        follow the longest dependency chain (group -> workspace -> containers -> datastores ->
        deployment -> schedule); most of them do not need anything their parents found, only
        names. With this, a no-op re-run costs about two round trips (the workspace, then the
        containers of its storage account) instead of six, and still one read per resource."""
        with self._lock:
            if self._prefetch_pool is not None or self._closed:
                return
            self._prefetch_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="prefetch")
            reads = {"resource_group": self._read_resource_group, "workspace": self._read_workspace,
                     "compute": self._read_compute, "endpoint": self._read_endpoint,
                     "deployment": self._read_deployment, "schedule": self._read_schedule,
                     "datastores": self._read_datastores, "assets": self._read_assets}
            for key, read in reads.items():
                if key in self._memo:
                    continue
                future = self._memo[key] = Future()
                self._prefetch_pool.submit(self._settle, key, future, read)

    def parallel(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent reads together (a step's wall time is its slowest read, not their sum)."""
        if len(calls) <= 1:
            return [c() for c in calls]
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="read") as pool:
            futures = [pool.submit(carry(c)) for c in calls]
            return [f.result() for f in futures]

    get_or_none = staticmethod(get_or_none)

    def wait_until(self, ctx: Any, read: Callable[[], Any], what: str, is_done: Callable[[Any], bool]) -> Any:
        """Poll `read()` (a GET) until `is_done(result)`; for resources another run left busy."""
        state: dict[str, Any] = {"value": None, "next": 0.0}

        def done() -> bool:
            now = time.monotonic()
            if now < state["next"]:
                return False
            state["value"] = read()
            state["next"] = now + min(_lro.CLOCK.max_delay, 5.0) * _lro.CLOCK.scale
            return is_done(state["value"])

        _lro.wait(ctx, done, what)
        return state["value"]

    def data_files(self) -> list[DataFile]:
        if self._data_files is None:
            source = self.profile.path.name if self.profile.path else self.profile.name
            self._data_files = expand(self.profile, source)
        return self._data_files

    # ------------------------------------------------------------------ shared reads

    def resource_group(self) -> Any:
        """The resource group (None if missing); 'forbidden' if we may not read it."""
        return self.memo("resource_group", self._read_resource_group)

    def _read_resource_group(self) -> Any:
        try:
            return self.get_or_none(lambda: self.rm.resource_groups.get(self.profile.workspace.resource_group))
        except Exception as exc:  # noqa: BLE001
            if getattr(exc, "status_code", None) == 403:
                return "forbidden"
            raise

    def rg_is_ours(self) -> bool:
        group = self.resource_group()
        return group not in (None, "forbidden") and self.ours(group)

    def workspace(self) -> Any:
        return self.memo("workspace", self._read_workspace)

    def _read_workspace(self) -> Any:
        return self.get_or_none(lambda: self.ml.workspaces.get(self.profile.workspace.name))

    def ws_info(self, ws: Any) -> dict[str, Any]:
        return {"name": ws.name, "location": (ws.location or "").lower().replace(" ", ""),
                "storage_account": last_segment(ws.storage_account), "storage_id": ws.storage_account,
                "ours": self.ours(ws), "id": getattr(ws, "id", "")}

    def ws_value(self, ctx: Any) -> dict[str, Any]:
        value = ctx.value("workspace") if ctx is not None else None
        if value:
            return value
        ws = self.workspace()
        if ws is None:
            raise StepError(f"workspace '{self.profile.workspace.name}' does not exist: run the provisioning first")
        return self.ws_info(ws)

    def blobs(self, account: str) -> Blobs:
        with self._lock:
            if account not in self._blobs:
                self._blobs[account] = Blobs(account, self.credential, self._account_key, say,
                                             self.blob_endpoint, self.blob_verify)
            return self._blobs[account]

    def _account_key(self) -> str:
        """The storage account key, from the workspace's default datastore secrets (never stored)."""
        datastore = self.ml.datastores.get_default(include_secrets=True)
        key = getattr(getattr(datastore, "credentials", None), "account_key", None)
        if not key:
            raise StepError("the signed-in identity has no data rights on the workspace's storage account and the "
                            "workspace has no account key to fall back to: ask for 'Storage Blob Data Contributor' "
                            "on the storage account")
        return str(key)


    # ------------------------------------------------------------------ resource group

    @step("check")
    def check_resource_group(self, ctx: Any) -> Check:
        rg, location = self.profile.workspace.resource_group, self.profile.workspace.location
        group = self.resource_group()
        if group is None:
            return Check("create", f"resource group '{rg}' in {location}")
        if group == "forbidden":
            return none(f"resource group '{rg}' (no permission to read it; assumed to exist)",
                        {"name": rg, "ours": False})
        if state_of(group) == "deleting":
            return Check("fail", f"resource group '{rg}' is being deleted; wait until it is gone "
                                 "(Azure portal > Resource groups), then run again")
        return none(f"resource group '{rg}' ({group.location})",
                    {"name": rg, "location": group.location, "ours": self.ours(group)})

    @step("apply")
    def apply_resource_group(self, ctx: Any, check: Check) -> Done:
        p = self.profile.workspace
        group = self.rm.resource_groups.create_or_update(p.resource_group, {"location": p.location, "tags": self.tags})
        self.forget("resource_group")
        return Done("created", check.detail, {"name": group.name, "location": group.location, "ours": True})

    @step("check_delete")
    def check_delete_resource_group(self, ctx: Any) -> Check:
        group = self.resource_group()
        what = f"resource group '{self.profile.workspace.resource_group}'"
        return delete_check(what, group is not None, group != "forbidden" and self.ours(group),
                            f"{what} and everything in it")

    @step("delete")
    def delete_resource_group(self, ctx: Any, check: Check) -> Done:
        rg = self.profile.workspace.resource_group
        ctx.log(f"deleting resource group '{rg}' and everything in it (this takes several minutes)")
        return self.delete_and_wait(ctx, check, f"resource group '{rg}'",
                                    lambda: self.rm.resource_groups.begin_delete(rg))

    def delete_and_wait(self, ctx: Any, check: Check, what: str, begin: Callable[[], Any]) -> Done:
        """Start a deletion and wait for it; something already gone counts as deleted."""
        try:
            poller = begin()
        except Exception as exc:  # noqa: BLE001
            if _errors.is_not_found(exc):
                return Done("deleted", f"{what} was already gone")
            raise
        _lro.wait_poller(ctx, poller, f"deleting {what}")
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ workspace

    def arm_get(self, path: str, api_version: str = "2021-04-01", **query: str) -> Any:
        """GET an ARM path as JSON (None if 404). azure-mgmt-resource 26 no longer has template
        deployments (they moved to another package), so those are read through the client's
        public send_request."""
        from urllib.parse import urlencode

        from azure.core.rest import HttpRequest

        url = f"{path}?{urlencode({'api-version': api_version, **query})}"
        response = self.rm.send_request(HttpRequest("GET", url))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def _deployments_path(self) -> str:
        p = self.profile
        return (f"/subscriptions/{p.account.subscription_id}/resourcegroups/{p.workspace.resource_group}"
                "/providers/Microsoft.Resources/deployments")

    def _running_workspace_deployment(self) -> str | None:
        """The template deployment an earlier (interrupted) run started for our workspace, if any."""
        prefix = f"{self.profile.workspace.name}-".lower()
        found = self.arm_get(self._deployments_path(), **{"$filter": "provisioningState eq 'Running'"}) or {}
        for deployment in found.get("value", []):
            name = str(deployment.get("name") or "")
            state = str((deployment.get("properties") or {}).get("provisioningState") or "").lower()
            if name.lower().startswith(prefix) and name[len(prefix):].isdigit() and state in BUSY_STATES:
                return name
        return None

    def _deployment_state(self, name: str) -> tuple[str, dict[str, Any]]:
        found = self.arm_get(f"{self._deployments_path()}/{name}") or {}
        props = found.get("properties") or {}
        return str(props.get("provisioningState") or "").lower(), props.get("error") or {}

    @step("check")
    def check_workspace(self, ctx: Any) -> Check:
        name, location = self.profile.workspace.name, self.profile.workspace.location
        if ctx.planned("resource_group") == "create":
            return Check("create", f"workspace '{name}' in {location} (with its storage account, key vault "
                                   "and application insights)")
        ws = self.workspace()
        if ws is None:
            running = self._running_workspace_deployment()
            if running:
                return Check("create", f"workspace '{name}' is still being created by an earlier run "
                                       f"(deployment {running}): wait for it", {"deployment": running})
            return Check("create", f"workspace '{name}' in {location} (with its storage account, key vault "
                                   "and application insights)")
        info = self.ws_info(ws)
        if info["location"] and info["location"] != location.lower().replace(" ", ""):
            return Check("fail", f"workspace '{name}' is in {ws.location}, the profile says {location}; a "
                                 f"workspace cannot move: set workspace.location to '{info['location']}' or use "
                                 "another workspace.name")
        state = state_of(ws)
        if state in BUSY_STATES:
            return Check("create", f"workspace '{name}' is {state}: wait for it", {**info, "busy": True})
        if state in FAILED_STATES:
            return Check("update", f"workspace '{name}' failed to provision earlier: retry", info)
        return none(f"workspace '{name}' (storage {info['storage_account']})", info)

    @step("apply")
    def apply_workspace(self, ctx: Any, check: Check) -> Done:
        p = self.profile.workspace
        value = check.value or {}
        if value.get("deployment"):
            deployment = value["deployment"]
            state, error = self.wait_until(ctx, lambda: self._deployment_state(deployment),
                                           f"creating workspace '{p.name}'", lambda s: s[0] not in BUSY_STATES)
            if state != "succeeded":
                raise StepError(f"could not create workspace '{p.name}': the earlier deployment {deployment} "
                                f"ended {state or 'missing'}"
                                + (f" ({error.get('code')}: {error.get('message')})" if error else "")
                                + "; run again to retry")
        elif value.get("busy"):
            self.wait_until(ctx, lambda: self.ml.workspaces.get(p.name), f"waiting for workspace '{p.name}'",
                            lambda w: state_of(w) not in BUSY_STATES)
        else:
            from azure.ai.ml.entities import Workspace

            ctx.log(f"creating workspace '{p.name}' with its storage account, key vault and application "
                    "insights (usually 2-5 minutes)")
            tags = dict(self.tags) if check.plan == "create" else None
            poller = self.ml.workspaces.begin_create(Workspace(name=p.name, location=p.location, tags=tags,
                                                               display_name=p.name))
            inner = getattr(poller.polling_method(), "poller", None)
            if inner is not None:  # the ARM template deployment; its own wait would sleep and print
                _lro.wait_poller(ctx, inner, f"creating workspace '{p.name}'")
            else:
                _lro.wait_poller(ctx, poller, f"creating workspace '{p.name}'")
        self.forget("workspace")
        ws = self.workspace()
        if ws is None:
            raise StepError(f"workspace '{p.name}' was not found after its creation finished; run again")
        info = self.ws_info(ws)
        outcome = "created" if check.plan == "create" else "updated"
        return Done(outcome, f"workspace '{p.name}' with storage account {info['storage_account']}", info)

    def _inside_going(self, what: str, check_ws: bool = True) -> Check | None:
        """Skip a per-resource delete when a bigger delete takes it along."""
        goes = "go" if what.startswith("the ") else "goes"
        if self.rg_is_ours():
            return Check("skip", f"{what} {goes} with the resource group")
        if check_ws:
            ws = self.workspace()
            if ws is None:
                return Check("skip", f"{what} already gone (no workspace)")
        return None

    @step("check_delete")
    def check_delete_workspace(self, ctx: Any) -> Check:
        name = self.profile.workspace.name
        purge = bool(ctx.options.get("purge"))
        if self.rg_is_ours() and not purge:
            return Check("skip", f"workspace '{name}' goes with the resource group (soft-deleted for 14 days; "
                                 "--purge frees its name at once)")
        ws = self.workspace()
        if ws is None or not self.ours(ws):
            return delete_check(f"workspace '{name}'", ws is not None, False)
        info = self.ws_info(ws)
        return Check("delete", f"workspace '{name}' with its storage account {info['storage_account']}, key vault "
                               "and application insights" + (" (purged: the name is free at once)" if purge else
                                                             " (soft-deleted for 14 days; --purge frees the name)"),
                     info)

    @step("delete")
    def delete_workspace(self, ctx: Any, check: Check) -> Done:
        name = self.profile.workspace.name
        purge = bool(ctx.options.get("purge"))
        return self.delete_and_wait(ctx, check, f"workspace '{name}'", lambda: self.ml.workspaces.begin_delete(
            name, delete_dependent_resources=True, permanently_delete=purge))

    # ------------------------------------------------------------------ containers

    def _containers(self) -> list[str]:
        s = self.profile.storage
        return [s.input_container, s.output_container]

    def _container_props(self, account: str, name: str) -> Any:
        blobs = self.blobs(account)
        return self.get_or_none(lambda: blobs.run(lambda c: c.get_container_client(name).get_container_properties()))

    @step("check")
    def check_containers(self, ctx: Any) -> Check:
        if ctx.planned("workspace") == "create":
            return Check("create", "containers " + ", ".join(self._containers()) + " (in the new workspace)")
        account = self.ws_value(ctx)["storage_account"]
        found = self.parallel(*[functools.partial(self._container_props, account, c) for c in self._containers()])
        missing = [c for c, props in zip(self._containers(), found) if props is None]
        if missing:
            return Check("create", "containers " + ", ".join(missing) + f" in {account}", account)
        return none("containers " + ", ".join(self._containers()) + f" in {account}", account)

    @step("apply")
    def apply_containers(self, ctx: Any, check: Check) -> Done:
        from azure.core.exceptions import ResourceExistsError

        account = self.ws_value(ctx)["storage_account"]
        blobs = self.blobs(account)
        made = []
        for name in self._containers():
            ctx.checkpoint()
            if self._container_props(account, name) is not None:
                continue
            try:
                blobs.run(lambda c: c.create_container(name, metadata={META_CREATOR: "amlbatch",
                                                                       META_PROFILE: self.profile.name}))
                made.append(name)
            except ResourceExistsError:
                pass
        return Done("created", "containers " + (", ".join(made) or "(already there)") + f" in {account}", account)

    def _storage_going(self, what: str) -> Check | None:
        going = self._inside_going(what)
        if going:
            return going
        if self.ours(self.workspace()):
            return Check("skip", f"{what} {'go' if what.startswith('the ') else 'goes'} with the workspace's "
                                 "storage account")
        return None

    @step("check_delete")
    def check_delete_containers(self, ctx: Any) -> Check:
        going = self._storage_going("the containers")
        if going:
            return going
        account = self.ws_info(self.workspace())["storage_account"]
        found = self.parallel(*[functools.partial(self._container_props, account, c) for c in self._containers()])
        mine = [c for c, props in zip(self._containers(), found)
                if props is not None and (props.metadata or {}).get(META_PROFILE) == self.profile.name]
        if not mine:
            return Check("skip", "no container created by this profile")
        return Check("delete", "containers " + ", ".join(mine) + " and their blobs", (account, mine))

    @step("delete")
    def delete_containers(self, ctx: Any, check: Check) -> Done:
        from azure.core.exceptions import ResourceNotFoundError

        account, mine = check.value
        for name in mine:
            try:
                self.blobs(account).run(lambda c: c.delete_container(name))
            except ResourceNotFoundError:
                pass
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ data upload

    def _listed_blobs(self, account: str) -> dict[str, Any]:
        prefix = self.profile.data.prefix.strip("/")
        container = self.profile.storage.input_container

        def listing(client: Any) -> dict[str, Any]:
            cc = client.get_container_client(container)
            return {b.name: b for b in cc.list_blobs(name_starts_with=f"{prefix}/" if prefix else None,
                                                   include=["metadata"])}
        return self.blobs(account).run(listing)

    @staticmethod
    def _blob_md5(blob: Any) -> str:
        meta = (blob.metadata or {}).get(META_MD5)
        if meta:
            return meta
        settings = getattr(blob, "content_settings", None)
        md5 = getattr(settings, "content_md5", None)
        return bytes(md5).hex() if md5 else ""

    @step("check")
    def check_upload(self, ctx: Any) -> Check:
        files = self.data_files()
        if not files:
            return Check("skip", "no data files in the profile (data.files is empty)")
        total = sum(f.size for f in files)
        if "create" in (ctx.planned("containers"), ctx.planned("workspace")):
            return Check("create", f"{len(files)} files ({human_bytes(total)})", files)
        account = self.ws_value(ctx)["storage_account"]
        present = self._listed_blobs(account)
        todo = []
        for index, data_file in enumerate(files):
            ctx.checkpoint()
            blob = present.get(data_file.blob)
            if blob is None or blob.size != data_file.size or self._blob_md5(blob) != file_md5(data_file.path):
                todo.append(data_file)
            ctx.progress(index + 1, len(files), "files checked")
        if not todo:
            return none(f"{len(files)} files up to date ({human_bytes(total)})")
        return Check("create", f"{len(todo)} of {len(files)} files to upload "
                               f"({human_bytes(sum(f.size for f in todo))})", todo)

    def upload_files(self, account: str, container: str, todo: list[tuple[Path, str, int]], cancel: Any,
                     progress: Callable[[float, float], None]) -> None:
        """Upload (path, blob name, size) concurrently with an md5 in the metadata; bytes progress."""
        from azure.storage.blob import ContentSettings

        blobs = self.blobs(account)
        total = sum(size for _, _, size in todo)
        lock = threading.Lock()
        done_per_file: dict[str, int] = {}
        last = [0.0]

        def report(force: bool = False) -> None:
            now = time.monotonic()
            if force or now - last[0] >= 0.2:
                last[0] = now
                progress(sum(done_per_file.values()), total)

        def one(item: tuple[Path, str, int]) -> None:
            path, name, size = item
            if cancel.canceled:
                raise Canceled()
            md5 = file_md5(path)

            def hook(current: int, _total: Any) -> None:
                if cancel.canceled:
                    raise Canceled()
                with lock:
                    done_per_file[name] = min(int(current or 0), size)
                    report()

            def put(client: Any) -> None:
                with open(path, "rb") as handle:
                    client.get_blob_client(container, name).upload_blob(
                        handle, length=size, overwrite=True, max_concurrency=2,
                        metadata={META_MD5: md5, META_PROFILE: self.profile.name},
                        content_settings=ContentSettings(content_md5=bytearray.fromhex(md5)),
                        progress_hook=hook)

            blobs.run(put)
            with lock:
                done_per_file[name] = size
                report(force=True)

        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="upload") as pool:
            futures = [pool.submit(carry(functools.partial(one, item))) for item in todo]
            errors = []
            for future in futures:
                try:
                    future.result()
                except BaseException as exc:  # noqa: BLE001 - collected, the first is raised
                    errors.append(exc)
            if errors:
                canceled = [e for e in errors if isinstance(e, Canceled)]
                raise canceled[0] if canceled else errors[0]

    @step("apply")
    def apply_upload(self, ctx: Any, check: Check) -> Done:
        account = self.ws_value(ctx)["storage_account"]
        todo: list[DataFile] = check.value
        total = sum(f.size for f in todo)
        self.upload_files(account, self.profile.storage.input_container,
                          [(f.path, f.blob, f.size) for f in todo], ctx.cancel,
                          lambda done, whole: ctx.progress(done, whole, "bytes"))
        return Done("created", f"uploaded {len(todo)} files ({human_bytes(total)}) to "
                               f"{self.profile.storage.input_container}/{self.profile.data.prefix}")

    @step("check_delete")
    def check_delete_upload(self, ctx: Any) -> Check:
        going = self._storage_going("uploaded data")
        if going:
            return going
        account = self.ws_info(self.workspace())["storage_account"]
        container = self._container_props(account, self.profile.storage.input_container)
        if container is None:
            return Check("skip", "uploaded data already gone")
        if (container.metadata or {}).get(META_PROFILE) == self.profile.name:
            return Check("skip", "uploaded data goes with its container")
        mine = [name for name, blob in self._listed_blobs(account).items()
                if (blob.metadata or {}).get(META_PROFILE) == self.profile.name]
        if not mine:
            return Check("skip", "no uploaded data of this profile")
        return Check("delete", f"{len(mine)} uploaded blobs in {self.profile.storage.input_container}",
                     (account, mine))

    @step("delete")
    def delete_upload(self, ctx: Any, check: Check) -> Done:
        from azure.core.exceptions import ResourceNotFoundError

        account, names = check.value
        container = self.profile.storage.input_container
        for name in names:
            ctx.checkpoint()
            try:
                self.blobs(account).run(lambda c: c.get_blob_client(container, name).delete_blob())
            except ResourceNotFoundError:
                pass
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ compute

    def compute(self) -> Any:
        return self.memo("compute", self._read_compute)

    def _read_compute(self) -> Any:
        return self.get_or_none(lambda: self.ml.compute.get(self.profile.compute.name))

    @staticmethod
    def _norm(value: Any) -> str:
        return str(value or "").lower().replace("_", "").replace(" ", "")

    @step("check")
    def check_compute(self, ctx: Any) -> Check:
        return self._check_compute(ctx)

    def _check_compute(self, ctx: Any) -> Check:
        c = self.profile.compute
        want = f"cluster '{c.name}' {c.vm_size}, {c.min_nodes}-{c.max_nodes} nodes"
        if ctx.planned("workspace") == "create":
            return Check("create", want)
        current = self.compute()
        if current is None:
            return Check("create", want)
        kind = str(getattr(current, "type", "") or "").lower()
        if kind and kind != "amlcompute":
            return Check("fail", f"compute.name: '{c.name}' is a {current.type}, not an AmlCompute cluster; set "
                                 "compute.name to another name")
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"cluster '{c.name}' is {state}: wait for it", {"busy": True})
        fixed = [(key, have, getattr(c, key)) for key, have in (("vm_size", current.size), ("tier", current.tier))
                 if have and self._norm(have) != self._norm(getattr(c, key))]
        if fixed:
            key, have, want_value = fixed[0]
            return Check("fail", f"compute.{key}: cluster '{c.name}' has {have}, the profile asks for {want_value}; "
                                 "this cannot change in place: delete the cluster (amlbatch --teardown, or in Azure "
                                 "ML studio) or set compute.name to a new cluster")
        have = {"min_nodes": current.min_instances, "max_nodes": current.max_instances,
                "idle_seconds": int(current.idle_time_before_scale_down or 0)}
        changes = [f"{k} {have[k]} -> {getattr(c, k)}" for k in have
                   if have[k] is not None and int(have[k]) != getattr(c, k)]
        keep = {"tags": tags_of(current), "identity": getattr(current, "identity", None)}
        if state in FAILED_STATES:
            return Check("update", f"cluster '{c.name}' failed to provision earlier: retry", keep)
        if changes:
            return Check("update", f"cluster '{c.name}': " + ", ".join(changes), keep)
        return none(want, {"name": c.name, "id": getattr(current, "id", "")})

    @step("apply")
    def apply_compute(self, ctx: Any, check: Check) -> Done:
        from azure.ai.ml.entities import AmlCompute, IdentityConfiguration

        c = self.profile.compute
        value = check.value or {}
        if value.get("busy"):
            self.wait_until(ctx, lambda: self.ml.compute.get(c.name), f"waiting for cluster '{c.name}'",
                            lambda r: state_of(r) not in BUSY_STATES)
            self.forget("compute")
            again = self._check_compute(ctx)
            if again.plan == "fail":
                raise StepError(again.detail)
            if not again.changes:
                return Done("created", f"cluster '{c.name}' is ready (its creation was started by an earlier run)")
            check, value = again, again.value or {}
        updating = check.plan == "update"
        tags = value.get("tags") if updating else self.tags
        # a new cluster gets a system-assigned identity (what a scheduled run invokes the endpoint
        # with); an existing one keeps whatever identity it has
        identity = value.get("identity") if updating else IdentityConfiguration(type="system_assigned")
        cluster = AmlCompute(name=c.name, size=c.vm_size, tier=c.tier, min_instances=c.min_nodes,
                             max_instances=c.max_nodes, idle_time_before_scale_down=c.idle_seconds,
                             identity=identity, tags=tags or None)
        ctx.log(f"{'creating' if check.plan == 'create' else 'updating'} cluster '{c.name}'")
        poller = self.ml.compute.begin_create_or_update(cluster)
        _lro.wait_poller(ctx, poller, f"{'creating' if check.plan == 'create' else 'updating'} cluster '{c.name}'")
        self.forget("compute")
        return Done("created" if check.plan == "create" else "updated", check.detail)

    @step("check_delete")
    def check_delete_compute(self, ctx: Any) -> Check:
        name = self.profile.compute.name
        going = self._inside_going(f"cluster '{name}'")
        if going:
            return going
        current = self.compute()
        return delete_check(f"cluster '{name}'", current is not None, self.ours(current))

    @step("delete")
    def delete_compute(self, ctx: Any, check: Check) -> Done:
        name = self.profile.compute.name
        return self.delete_and_wait(ctx, check, f"cluster '{name}'", lambda: self.ml.compute.begin_delete(name))

    # ------------------------------------------------------------------ datastores

    def _datastores(self) -> list[tuple[str, str]]:
        s = self.profile.storage
        return [(s.input_datastore, s.input_container), (s.output_datastore, s.output_container)]

    def datastores(self) -> list[Any]:
        return self.memo("datastores", self._read_datastores)

    def _read_datastores(self) -> list[Any]:
        return self.parallel(*[functools.partial(self.get_or_none, functools.partial(self.ml.datastores.get, name))
                               for name, _ in self._datastores()])

    @step("check")
    def check_datastores(self, ctx: Any) -> Check:
        names = ", ".join(n for n, _ in self._datastores())
        if ctx.planned("workspace") == "create":
            return Check("create", f"datastores {names} (identity-based)")
        account = self.ws_value(ctx)["storage_account"]
        todo, changed = [], []
        for (name, container), current in zip(self._datastores(), self.datastores()):
            if current is None:
                todo.append(name)
            elif (getattr(current, "container_name", None) != container
                  or getattr(current, "account_name", None) != account):
                changed.append(f"{name} -> {account}/{container}")
        if todo or changed:
            detail = ", ".join([f"create {n}" for n in todo] + [f"repoint {c}" for c in changed])
            return Check("create" if todo else "update", "datastores: " + detail, account)
        return none(f"datastores {names}", account)

    @step("apply")
    def apply_datastores(self, ctx: Any, check: Check) -> Done:
        from azure.ai.ml.entities import AzureBlobDatastore

        account = self.ws_value(ctx)["storage_account"]
        current = {n: d for (n, _), d in zip(self._datastores(), self.datastores())} \
            if ctx.planned("workspace") != "create" else {}
        for name, container in self._datastores():
            ctx.checkpoint()
            have = current.get(name)
            if have is not None and have.container_name == container and have.account_name == account:
                continue
            tags = tags_of(have) if have is not None else self.tags
            self.ml.datastores.create_or_update(AzureBlobDatastore(
                name=name, account_name=account, container_name=container, tags=tags or None,
                description="amlbatch: identity-based access"))
        self.forget("datastores")
        ctx.log("the datastores use identity-based access: whoever invokes the endpoint needs 'Storage Blob Data "
                "Reader' on the input and 'Storage Blob Data Contributor' on the output container's account")
        return Done("created" if check.plan == "create" else "updated", check.detail)

    @step("check_delete")
    def check_delete_datastores(self, ctx: Any) -> Check:
        going = self._inside_going("the datastores")
        if going:
            return going
        if self.ours(self.workspace()):
            return Check("skip", "the datastores go with their workspace")
        mine = [name for (name, _), d in zip(self._datastores(), self.datastores()) if d is not None and self.ours(d)]
        if not mine:
            return Check("skip", "no datastore created by this profile")
        return Check("delete", "datastores " + ", ".join(mine), mine)

    @step("delete")
    def delete_datastores(self, ctx: Any, check: Check) -> Done:
        for name in check.value:
            try:
                self.ml.datastores.delete(name)
            except Exception as exc:  # noqa: BLE001
                if not _errors.is_not_found(exc):
                    raise
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ environment, model and code

    def asset_versions(self) -> dict[str, tuple[str, str]]:
        """(name, version) of each asset, from content hashes (engine.targets.local), so unchanged
        assets keep their versions and a re-run registers nothing. Azure ML accepts any string as
        an environment or code version but only a positive integer as a model version: the model's
        becomes the first 28 bits of its hash, as a decimal; the full hash goes into a tag."""
        versions = asset_versions(self.profile)
        name, digest = versions["model"]
        versions["model"] = (name, str(int(digest[:7], 16) + 1))
        self._model_hash = digest
        return versions

    def _read_assets(self) -> tuple[dict[str, tuple[str, str]], list[Any]]:
        versions = self.asset_versions()
        return versions, self._asset_reads(versions)

    def _asset_reads(self, versions: dict[str, tuple[str, str]]) -> list[Any]:
        ops = {"environment": self.ml.environments, "model": self.ml.models, "code": self.ml._code}
        return self.parallel(*[
            functools.partial(self.get_or_none, functools.partial(ops[k].get, name=n, version=v))
            for k, (n, v) in versions.items()])

    @step("check")
    def check_assets(self, ctx: Any) -> Check:
        versions = self.asset_versions()
        label = ", ".join(f"{k} {n}:{v}" for k, (n, v) in versions.items())
        conda = (self.profile.scorer_dir / self.profile.scorer.environment).read_text(errors="replace")
        if "azureml-core" not in conda:
            ctx.log(f"{self.profile.scorer.environment} does not list azureml-core: batch jobs fail with "
                    "\"No module named azureml\" without it (add azureml-core under pip)", "warning")
        if ctx.planned("workspace") == "create":
            return Check("create", label, versions)
        read_versions, found_list = self.memo("assets", self._read_assets)
        found = dict(zip(read_versions, found_list)) if read_versions == versions else \
            dict(zip(versions, self._asset_reads(versions)))
        model = found.get("model")
        if model is not None and tags_of(model).get(TAG_HASH) not in (None, self._model_hash):
            n, v = versions["model"]
            return Check("fail", f"scorer.model_name: model {n}:{v} already exists with other content; set "
                                 "scorer.model_name to a new name")
        missing = [k for k, asset in found.items() if asset is None]
        if missing:
            return Check("create", "register " + ", ".join(f"{k} {versions[k][0]}:{versions[k][1]}"
                                                          for k in missing), versions)
        return none(label, versions)

    @step("apply")
    def apply_assets(self, ctx: Any, check: Check) -> Done:
        from azure.ai.ml.entities import Environment, Model
        from azure.ai.ml.entities._assets import Code  # not exported by azure.ai.ml.entities

        s, folder = self.profile.scorer, self.profile.scorer_dir
        versions: dict[str, tuple[str, str]] = check.value
        current = dict(zip(versions, self._asset_reads(versions)))
        made = []
        for kind, (name, version) in versions.items():
            ctx.checkpoint()
            if current.get(kind) is not None:
                continue
            if kind == "environment":
                self.ml.environments.create_or_update(Environment(
                    name=name, version=version, image=s.image, conda_file=str(folder / s.environment),
                    tags=self.tags, description="amlbatch scorer environment"))
            elif kind == "model":
                self.ml.models.create_or_update(Model(
                    name=name, version=version, path=str(folder / s.model), type="custom_model",
                    tags={**self.tags, TAG_HASH: self._model_hash}, description="amlbatch scorer model"))
            else:
                with tempfile.TemporaryDirectory(prefix="amlbatch-code-") as tmp:
                    code_dir = Path(tmp) / "code"
                    model_rel = Path(s.model).parts[0]
                    shutil.copytree(folder, code_dir, ignore=shutil.ignore_patterns(
                        "__pycache__", "*.pyc", ".*", model_rel))
                    self.ml._code.create_or_update(Code(name=name, version=version, path=str(code_dir),
                                                        tags=self.tags))
            made.append(f"{kind} {name}:{version}")
            ctx.log(f"registered {kind} {name}:{version}")
        return Done("created", "registered " + (", ".join(made) or "nothing new"), versions)

    @step("check_delete")
    def check_delete_assets(self, ctx: Any) -> Check:
        going = self._inside_going("the environment, model and code")
        if going:
            return going
        if self.ours(self.workspace()):
            return Check("skip", "the environment, model and code go with their workspace")
        versions = self.asset_versions()
        found = dict(zip(versions, self._asset_reads(versions)))
        mine = [(k, *versions[k]) for k, asset in found.items() if asset is not None and self.ours(asset)
                and k in ("environment", "model")]
        if not mine:
            return Check("skip", "no asset registered by this profile")
        return Check("delete", "archive " + ", ".join(f"{k} {n}:{v}" for k, n, v in mine)
                     + " (Azure ML keeps asset versions; archived ones are hidden)", mine)

    @step("delete")
    def delete_assets(self, ctx: Any, check: Check) -> Done:
        for kind, name, version in check.value:
            ops = self.ml.environments if kind == "environment" else self.ml.models
            try:
                ops.archive(name=name, version=version)
            except Exception as exc:  # noqa: BLE001
                if not _errors.is_not_found(exc):
                    raise
        return Done("deleted", check.detail)

    # ------------------------------------------------------------------ endpoint

    def endpoint(self) -> Any:
        return self.memo("endpoint", self._read_endpoint)

    def _read_endpoint(self) -> Any:
        return self.get_or_none(lambda: self.ml.batch_endpoints.get(self.profile.endpoint_name))

    @staticmethod
    def default_deployment(endpoint: Any) -> str:
        defaults = getattr(endpoint, "defaults", None)
        if isinstance(defaults, dict):
            return str(defaults.get("deployment_name") or defaults.get("deploymentName") or "")
        return str(getattr(defaults, "deployment_name", "") or "")

    def endpoint_info(self, endpoint: Any) -> dict[str, Any]:
        return {"name": endpoint.name, "scoring_uri": endpoint.scoring_uri or "",
                "default": self.default_deployment(endpoint), "ours": self.ours(endpoint)}

    def free_endpoint_name(self) -> str:
        """A name very likely free: the endpoint name with a suffix from subscription, group and workspace."""
        p = self.profile
        seed = f"{p.account.subscription_id}/{p.workspace.resource_group}/{p.workspace.name}/{p.endpoint_name}"
        suffix = hashlib.sha256(seed.lower().encode()).hexdigest()[:5]
        return f"{p.endpoint_name[:26].rstrip('-')}-{suffix}"

    @step("check")
    def check_endpoint(self, ctx: Any) -> Check:
        name = self.profile.endpoint_name
        if ctx.planned("workspace") == "create":
            return Check("create", f"endpoint '{name}'")
        current = self.endpoint()
        if current is None:
            return Check("create", f"endpoint '{name}'")
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"endpoint '{name}' is {state}: wait for it", {"busy": True})
        if state in FAILED_STATES:
            return Check("update", f"endpoint '{name}' failed to provision earlier: retry", {"tags": tags_of(current)})
        return none(f"endpoint '{name}' {current.scoring_uri}", self.endpoint_info(current))

    @step("apply")
    def apply_endpoint(self, ctx: Any, check: Check) -> Done:
        from azure.ai.ml.entities import BatchEndpoint

        name = self.profile.endpoint_name
        value = check.value or {}
        if value.get("busy"):
            endpoint = self.wait_until(ctx, lambda: self.ml.batch_endpoints.get(name), f"waiting for endpoint '{name}'",
                                       lambda e: state_of(e) not in BUSY_STATES)
        else:
            tags = value.get("tags") or self.tags
            try:
                poller = self.ml.batch_endpoints.begin_create_or_update(BatchEndpoint(
                    name=name, tags=tags, description=f"amlbatch profile {self.profile.name}"))
                _lro.wait_poller(ctx, poller, f"creating endpoint '{name}'")
            except Exception as exc:  # noqa: BLE001
                if _errors.endpoint_name_taken(exc):
                    free = self.free_endpoint_name()
                    raise StepError(f"endpoint.name: '{name}' is already taken in {self.profile.workspace.location} "
                                    "(batch endpoint names are unique per region across all of Azure); set "
                                    f"endpoint.name = \"{free}\" and run again") from None
                raise
        self.forget("endpoint")
        endpoint = self.endpoint()
        if endpoint is None:
            raise StepError(f"endpoint '{name}' was not found after its creation; run again")
        outcome = "created" if check.plan == "create" else "updated"
        return Done(outcome, f"endpoint '{name}' {endpoint.scoring_uri}", self.endpoint_info(endpoint))

    @step("check_delete")
    def check_delete_endpoint(self, ctx: Any) -> Check:
        name = self.profile.endpoint_name
        going = self._inside_going(f"endpoint '{name}'")
        if going:
            return going
        current = self.endpoint()
        return delete_check(f"endpoint '{name}'", current is not None, self.ours(current),
                            f"endpoint '{name}' and its deployments")

    @step("delete")
    def delete_endpoint(self, ctx: Any, check: Check) -> Done:
        name = self.profile.endpoint_name
        return self.delete_and_wait(ctx, check, f"endpoint '{name}'",
                                    lambda: self.ml.batch_endpoints.begin_delete(name))

    # ------------------------------------------------------------------ deployment

    def arm_id(self, kind: str, name: str, version: str | None = None) -> str:
        p = self.profile
        base = (f"/subscriptions/{p.account.subscription_id}/resourceGroups/{p.workspace.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{p.workspace.name}/{kind}/{name}")
        return base + (f"/versions/{version}" if version is not None else "")

    def deployment_settings(self, versions: dict[str, tuple[str, str]]) -> dict[str, Any]:
        e = self.profile.endpoint
        return {
            "model": versions["model"], "environment": versions["environment"], "code": versions["code"],
            "scoring_script": Path(self.profile.scorer.script).as_posix(),
            "compute": self.profile.compute.name,
            **{k: getattr(e, k) for k in ("mini_batch_size", "instance_count", "max_concurrency_per_instance",
                                          "output_action", "output_file_name", "error_threshold",
                                          "max_retries", "timeout", "logging_level")},
        }

    def deployment(self) -> Any:
        return self.memo("deployment", self._read_deployment)

    def _read_deployment(self) -> Any:
        p = self.profile
        return self.get_or_none(
            lambda: self.ml.batch_deployments.get(name=p.endpoint.deployment, endpoint_name=p.endpoint_name))

    def _deployment_changes(self, current: Any, want: dict[str, Any]) -> list[str]:
        have_code = getattr(getattr(current, "code_configuration", None), "code", None)
        have_script = getattr(getattr(current, "code_configuration", None), "scoring_script", None)
        retry = getattr(current, "retry_settings", None)
        resources = getattr(current, "resources", None)
        have = {
            "mini_batch_size": getattr(current, "mini_batch_size", None),
            "instance_count": getattr(resources, "instance_count", None),
            "max_concurrency_per_instance": getattr(current, "max_concurrency_per_instance", None),
            "output_action": str(getattr(current, "output_action", "") or "").lower().replace("_", ""),
            "output_file_name": getattr(current, "output_file_name", None),
            "error_threshold": getattr(current, "error_threshold", None),
            "max_retries": getattr(retry, "max_retries", None),
            "timeout": getattr(retry, "timeout", None),
            "logging_level": str(getattr(current, "logging_level", "") or "").lower(),
        }
        changes = []
        for kind, arm_kind in (("model", "models"), ("environment", "environments"), ("code", "codes")):
            name, version = want[kind]
            ref = {"model": current.model, "environment": current.environment, "code": have_code}[kind]
            if not same_ref(ref, arm_kind, name, version):
                changes.append(f"{kind} -> {name}:{version}")
        if Path(str(have_script or "")).as_posix() != want["scoring_script"]:
            changes.append(f"scoring_script {have_script} -> {want['scoring_script']}")
        if last_segment(getattr(current, "compute", "")).lower() != want["compute"].lower():
            changes.append(f"compute {last_segment(getattr(current, 'compute', ''))} -> {want['compute']}")
        for key, value in have.items():
            target = want[key]
            if key == "output_action":
                target = str(target).lower().replace("_", "")
            if key == "output_file_name" and want["output_action"] != "append_row":
                continue
            if value is not None and str(value) != str(target):
                changes.append(f"{key} {value} -> {want[key]}")
        return changes

    @step("check")
    def check_deployment(self, ctx: Any) -> Check:
        name = self.profile.endpoint.deployment
        want = self.deployment_settings(ctx.value("assets") or self.asset_versions())
        if "create" in (ctx.planned("workspace"), ctx.planned("endpoint")):
            return Check("create", f"deployment '{name}' (default)", want)
        current = self.deployment()
        if current is None:
            return Check("create", f"deployment '{name}' (default)", want)
        state = state_of(current)
        if state in BUSY_STATES:
            return Check("create", f"deployment '{name}' is {state}: wait for it", {**want, "busy": True})
        changes = self._deployment_changes(current, want)
        if state in FAILED_STATES:
            changes.insert(0, "retry: it failed to provision earlier")
        endpoint = ctx.value("endpoint") or {}
        if endpoint.get("default") != name:
            changes.append(f"make '{name}' the endpoint's default")
        if changes:
            return Check("update", f"deployment '{name}': " + "; ".join(changes), {**want, "tags": tags_of(current)})
        return none(f"deployment '{name}' (default)", want)

    @step("apply")
    def apply_deployment(self, ctx: Any, check: Check) -> Done:
        from azure.ai.ml.constants import BatchDeploymentOutputAction
        from azure.ai.ml.entities import (BatchRetrySettings, CodeConfiguration, ModelBatchDeployment,
                                          ModelBatchDeploymentSettings)

        p = self.profile
        e, name, endpoint_name = p.endpoint, p.endpoint.deployment, p.endpoint_name
        want = dict(check.value)
        if want.pop("busy", False):
            self.wait_until(ctx, lambda: self.ml.batch_deployments.get(name=name, endpoint_name=endpoint_name),
                            f"waiting for deployment '{name}'", lambda d: state_of(d) not in BUSY_STATES)
            self.forget("deployment")
        current = self.deployment()
        needs_put = current is None or state_of(current) in FAILED_STATES or bool(
            self._deployment_changes(current, want))
        if needs_put:
            tags = want.get("tags") or self.tags
            action = (BatchDeploymentOutputAction.APPEND_ROW if e.output_action == "append_row"
                      else BatchDeploymentOutputAction.SUMMARY_ONLY)
            deployment = ModelBatchDeployment(
                name=name, endpoint_name=endpoint_name, tags=tags,
                description=f"amlbatch profile {p.name}",
                model=self.arm_id("models", *want["model"]),
                environment=self.arm_id("environments", *want["environment"]),
                code_configuration=CodeConfiguration(code=self.arm_id("codes", *want["code"]),
                                                     scoring_script=want["scoring_script"]),
                compute=self.arm_id("computes", p.compute.name),
                settings=ModelBatchDeploymentSettings(
                    mini_batch_size=e.mini_batch_size, instance_count=e.instance_count,
                    max_concurrency_per_instance=e.max_concurrency_per_instance, output_action=action,
                    output_file_name=e.output_file_name if e.output_action == "append_row" else None,
                    retry_settings=BatchRetrySettings(max_retries=e.max_retries, timeout=e.timeout),
                    error_threshold=e.error_threshold, logging_level=e.logging_level,
                    # the scorer writes its own files in summary_only mode (scorer/score.py)
                    environment_variables={"AMLBATCH_OUTPUT_ACTION": e.output_action}))
            ctx.log(f"{'creating' if current is None else 'updating'} deployment '{name}'")
            poller = self.ml.batch_deployments.begin_create_or_update(deployment, skip_script_validation=True)
            _lro.wait_poller(ctx, poller, f"{'creating' if current is None else 'updating'} deployment '{name}'")
            self.forget("deployment")
        # invoking an endpoint without a default deployment fails ("No valid deployments to route to")
        self.forget("endpoint")
        endpoint = self.endpoint()
        if endpoint is not None and self.default_deployment(endpoint) != name:
            from azure.ai.ml.entities import BatchEndpoint

            ctx.log(f"making '{name}' the default deployment of endpoint '{endpoint_name}'")
            update = BatchEndpoint(name=endpoint_name, tags=tags_of(endpoint) or None, description=endpoint.description,
                                   defaults={"deployment_name": name})
            poller = self.ml.batch_endpoints.begin_create_or_update(update)
            _lro.wait_poller(ctx, poller, f"setting the default deployment of '{endpoint_name}'")
        return Done("created" if current is None else "updated", check.detail, want)

    @step("check_delete")
    def check_delete_deployment(self, ctx: Any) -> Check:
        name = self.profile.endpoint.deployment
        going = self._inside_going(f"deployment '{name}'")
        if going:
            return going
        endpoint = self.endpoint()
        if endpoint is None:
            return Check("skip", f"deployment '{name}' already gone")
        if self.ours(endpoint):
            return Check("skip", f"deployment '{name}' goes with its endpoint")
        current = self.deployment()
        return delete_check(f"deployment '{name}'", current is not None, self.ours(current))

    @step("delete")
    def delete_deployment(self, ctx: Any, check: Check) -> Done:
        p = self.profile
        return self.delete_and_wait(ctx, check, f"deployment '{p.endpoint.deployment}'",
                                    lambda: self.ml.batch_deployments.begin_delete(
                                        name=p.endpoint.deployment, endpoint_name=p.endpoint_name))
