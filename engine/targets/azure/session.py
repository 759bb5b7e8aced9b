"""What the azure target's steps share, once per target: the sign-in, the clients, the read cache.

A `Session` signs in on first use and holds the clients (azure-ai-ml's MLClient, azure-mgmt-
resource's ResourceManagementClient, blob clients per storage account). Every resource is read
through `memo`, once per target however many steps need it; `prefetch` starts every read that needs
nothing but the profile at once. The shared reads, the tear-down rules several steps apply and the
upload that the data step and `--submit --input` both use live here too.

`AzureStep` is the base of the step classes (engine.targets.azure.steps): it reaches the session as
`self.session`. Step modules import this module, never engine.targets.azure.target.
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from engine import events as ev
from engine import ownership
from engine.cloud import endpoints
from engine.contract import Step
from engine.datafiles import DataFile, expand, file_md5
from engine.errors import AmlBatchError, Canceled, StepError
from engine.steps import Check, Done
from engine.targets.azure import _errors, _lro, _owned
from engine.targets.azure._base import carry, get_or_none, last_segment, say, tags_of
from engine.targets.azure._blob import META_MD5, Blobs, blob_endpoint, owner_metadata

STORAGE_API = "2023-05-01"  # Microsoft.Storage/storageAccounts api-version for reading primaryEndpoints


UPLOAD_THREADS = 16
UPLOAD_BATCH = 500


class Session:
    """Credential, clients, the read cache and the shared reads of one target."""

    get_or_none = staticmethod(get_or_none)

    def __init__(self, profile: Any, emit: ev.Emit, credential: Any = None, blob_endpoint: str | None = None,
                 blob_verify: Any = None, blob_options: dict[str, Any] | None = None):
        self.profile = profile
        self.emit = emit
        self._credential = credential
        self._sign_in_error: AmlBatchError | None = None
        self.blob_endpoint = blob_endpoint
        self.blob_verify = blob_verify
        self.blob_options = blob_options  # more blob client keyword arguments (benchmarks add latency)
        self._lock = threading.RLock()  # memo, clients map, closing: held only briefly
        self._client_locks = {"credential": threading.Lock(), "ml": threading.Lock(), "rm": threading.Lock()}
        self._memo: dict[str, Future] = {}
        self._prefetch_pool: ThreadPoolExecutor | None = None
        self._ml: Any = None
        self._rm: Any = None
        self._blobs: dict[str, Blobs] = {}
        self._data_files: list[DataFile] | None = None
        self.model_hash = ""  # the model's full content hash, set by asset_versions
        self._closed = False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = self._prefetch_pool
        if pool is not None:  # not from a prefetch thread itself (a forgotten target collected there)
            pool.shutdown(wait=not threading.current_thread().name.startswith("prefetch"), cancel_futures=True)
        for client in (self._ml, self._rm):
            closer = getattr(client, "close", None)
            if closer:
                try:
                    closer()
                except Exception:  # noqa: BLE001 - closing must not fail a run
                    pass

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every ARM / Azure ML client is made with (public azure-core options)."""
        return {"per_call_policies": [_lro.closing_policy(lambda: self._closed)]}

    # ------------------------------------------------------------------ ownership

    @property
    def tags(self) -> dict[str, str]:
        return ownership.tags(self.profile)

    def ours(self, resource: Any) -> bool:
        found = resource if isinstance(resource, dict) else tags_of(resource)
        return ownership.made_by(found, self.profile)

    # ------------------------------------------------------------------ sign-in and clients

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
                    self._credential = sign_in(account.auth, account.tenant_id, self.emit, cloud=account.cloud)
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
                                    p.workspace.name, show_progress=False, cloud=p.account.cloud or "AzureCloud",
                                    **self.client_options())
            return self._ml

    @property
    def rm(self) -> Any:
        with self._client_locks["rm"]:
            if self._rm is None:
                from azure.mgmt.resource.resources import ResourceManagementClient

                where = endpoints(self.profile.account.cloud)
                self._rm = ResourceManagementClient(self.credential, self.profile.account.subscription_id,
                                                    base_url=where.arm, credential_scopes=[where.arm_scope],
                                                    **self.client_options())
            return self._rm

    def blobs(self, account: str) -> Blobs:
        with self._lock:
            if account in self._blobs:
                return self._blobs[account]
        endpoint = self.blob_endpoint or self.memo(f"blob-endpoint:{account}",
                                                   functools.partial(self._blob_endpoint_of, account))
        with self._lock:
            if account not in self._blobs:
                self._blobs[account] = Blobs(account, self.credential, say, endpoint,
                                             self.blob_verify, self.blob_options)
            return self._blobs[account]

    def _blob_endpoint_of(self, account: str) -> str:
        ws = self.workspace()
        return blob_endpoint(lambda storage_id: self.rm.resources.get_by_id(storage_id, api_version=STORAGE_API),
                             str(getattr(ws, "storage_account", "") or ""), account, self.profile.account.cloud)

    # ------------------------------------------------------------------ reading once, together

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

    # ------------------------------------------------------------------ shared reads

    def resource_group(self) -> Any:
        """The resource group (None if missing); 'forbidden' if we may not read it."""
        return self.memo("resource_group", self._read_resource_group)

    def _read_resource_group(self) -> Any:
        try:
            return get_or_none(lambda: self.rm.resource_groups.get(self.profile.workspace.resource_group))
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
        return get_or_none(lambda: self.ml.workspaces.get(self.profile.workspace.name))

    def ws_info(self, ws: Any) -> dict[str, Any]:
        return {"name": ws.name, "location": (ws.location or "").lower().replace(" ", ""),
                "storage_account": last_segment(ws.storage_account), "storage_id": ws.storage_account,
                "ours": self.ours(ws), "id": getattr(ws, "id", "")}

    def ws_value(self, ctx: Any) -> dict[str, Any]:
        """What the workspace step found or made; read when there is no run (a job call)."""
        value = ctx.value("workspace") if ctx is not None else None
        if value:
            return value
        ws = self.workspace()
        if ws is None:
            raise StepError(f"workspace '{self.profile.workspace.name}' does not exist: run the provisioning first")
        return self.ws_info(ws)

    def container_props(self, account: str, name: str) -> Any:
        blobs = self.blobs(account)
        return get_or_none(lambda: blobs.run(lambda c: c.get_container_client(name).get_container_properties()))

    def compute(self) -> Any:
        return self.memo("compute", self._read_compute)

    def _read_compute(self) -> Any:
        return get_or_none(lambda: self.ml.compute.get(self.profile.compute.name))

    def datastores(self) -> list[Any]:
        """The profile's datastores (None where missing), in engine.diff.datastore_pairs order."""
        return self.memo("datastores", self._read_datastores)

    def _read_datastores(self) -> list[Any]:
        from engine.diff import datastore_pairs

        return self.parallel(*[functools.partial(get_or_none, functools.partial(self.ml.datastores.get, name))
                               for name, _ in datastore_pairs(self.profile)])

    def asset_versions(self) -> dict[str, tuple[str, str]]:
        """(name, version) of the environment and the model, from content hashes (engine.ownership),
        so unchanged assets keep their versions and a re-run registers nothing. Azure ML accepts any
        string as an environment version but only a positive integer as a model version: the
        model's becomes the first 28 bits of its hash, as a decimal; the full hash goes into a tag.
        The code is not registered here: see `code_ref`."""
        versions = ownership.asset_versions(self.profile)
        name, digest = versions["model"]
        versions["model"] = (name, str(int(digest[:7], 16) + 1))
        self.model_hash = digest
        versions.pop("code", None)  # an MLflow model has none (nor an environment)
        return versions

    def code_ref(self) -> tuple[str, str]:
        """(name, content hash) of the scorer's code. The deployment carries the code as a local
        folder in its CodeConfiguration, which azure-ai-ml registers by content hash (an unchanged
        folder registers nothing); this pair goes into the deployment's TAG_CODE tag, which is how
        a re-run knows the deployment already runs this code."""
        return ownership.asset_versions(self.profile)["code"]

    def assets(self) -> tuple[dict[str, tuple[str, str]], list[Any]]:
        """(the versions read, the environment, model and code found: None where missing)."""
        return self.memo("assets", self._read_assets)

    def _read_assets(self) -> tuple[dict[str, tuple[str, str]], list[Any]]:
        versions = self.asset_versions()
        return versions, self.asset_reads(versions)

    def asset_reads(self, versions: dict[str, tuple[str, str]]) -> list[Any]:
        ops = {"environment": self.ml.environments, "model": self.ml.models}
        return self.parallel(*[
            functools.partial(get_or_none, functools.partial(ops[k].get, name=n, version=v))
            for k, (n, v) in versions.items()])

    def endpoint(self) -> Any:
        return self.memo("endpoint", self._read_endpoint)

    def _read_endpoint(self) -> Any:
        return get_or_none(lambda: self.ml.batch_endpoints.get(self.profile.endpoint_name))

    def deployment(self) -> Any:
        return self.memo("deployment", self._read_deployment)

    def _read_deployment(self) -> Any:
        p = self.profile
        return get_or_none(
            lambda: self.ml.batch_deployments.get(name=p.endpoint.deployment, endpoint_name=p.endpoint_name))

    def schedule(self) -> Any:
        return self.memo("schedule", self._read_schedule)

    def _read_schedule(self) -> Any:
        return get_or_none(lambda: self.ml.schedules.get(self.profile.schedule.name))

    def data_files(self) -> list[DataFile]:
        if self._data_files is None:
            source = self.profile.path.name if self.profile.path else self.profile.name
            self._data_files = expand(self.profile, source)
        return self._data_files

    # ------------------------------------------------------------------ ARM

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

    def arm_id(self, kind: str, name: str, version: str | None = None) -> str:
        p = self.profile
        base = (f"/subscriptions/{p.account.subscription_id}/resourceGroups/{p.workspace.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{p.workspace.name}/{kind}/{name}")
        return base + (f"/versions/{version}" if version is not None else "")

    # ------------------------------------------------------------------ tear-down

    def inside_going(self, what: str, check_ws: bool = True) -> Check | None:
        """Skip a per-resource delete when a bigger delete takes it along."""
        goes = "go" if what.startswith("the ") else "goes"
        if _owned.group_going(self):  # ours, and nothing of others' in it
            return Check("skip", f"{what} {goes} with the resource group")
        if check_ws:
            ws = self.workspace()
            if ws is None:
                return Check("skip", f"{what} already gone (no workspace)")
        return None

    def storage_going(self, what: str) -> Check | None:
        """Skip deleting what lives in the workspace's storage account when that goes anyway."""
        going = self.inside_going(what)
        if going:
            return going
        if _owned.workspace_going(self):
            return Check("skip", f"{what} {'go' if what.startswith('the ') else 'goes'} with the workspace's "
                                 "storage account")
        return None

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

    # ------------------------------------------------------------------ blobs

    def upload_files(self, account: str, container: str, todo: list[tuple[Path, str, int]], cancel: Any,
                     progress: Callable[[float, float], None],
                     md5_of: Callable[[Path], str] = file_md5) -> None:
        """Upload (path, blob name, size) concurrently with an md5 in the metadata; bytes progress.
        `md5_of(path)`: a file's MD5 hex (the upload step passes the hashes its check remembered)."""
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
            md5 = md5_of(path)

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
                        metadata={META_MD5: md5, **owner_metadata(self.profile)},  # the profile id: whose blob
                        content_settings=ContentSettings(content_md5=bytearray.fromhex(md5)),
                        progress_hook=hook)

            blobs.run(put)
            with lock:
                done_per_file[name] = size
                report(force=True)

        errors: list[BaseException] = []
        # each small blob is one round trip: many in flight hide the latency (the blob client keeps
        # _blob.CONNECTIONS open); submitted a batch at a time so memory stays flat in the file count
        with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="upload") as pool:
            for start in range(0, len(todo), UPLOAD_BATCH):
                futures = [pool.submit(carry(functools.partial(one, item)))
                           for item in todo[start:start + UPLOAD_BATCH]]
                for future in futures:
                    try:
                        future.result()
                    except BaseException as exc:  # noqa: BLE001 - collected, the first is raised
                        errors.append(exc)
                if errors:
                    break
        if errors:
            canceled = [e for e in errors if isinstance(e, Canceled)]
            raise canceled[0] if canceled else errors[0]


class AzureStep(Step):
    """A step of the azure target: what it shares with the other steps is `self.session`."""

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        self.session: Session = target.session

    def noun(self) -> str:
        """What the step works on, for error sentences ("could not create <noun>: ...")."""
        return self.key.replace("_", " ")
