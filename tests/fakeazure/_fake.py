"""FakeAzure: the object tests use. It holds the cloud's state, plugs into requests through requests_mock,
injects failures, logs calls and dispatches each request to the resource module whose route matches."""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from typing import Any, Iterable
from urllib.parse import urlsplit

import requests
import requests_mock

from . import _catalog
from ._aad import AUTHORITY, AadMixin
from ._arm_authorization import OWNER_WITH_DATA, AuthorizationMixin
from ._arm_deployments import TemplateDeploymentsMixin
from ._arm_groups import ResourceGroupsMixin
from ._arm_providers import ProvidersMixin
from ._arm_resources import GenericResourcesMixin
from ._arm_storage import StorageAccountsMixin
from ._arm_subscriptions import SubscriptionsMixin
from ._auth import AuthMixin
from ._blob_accounts import BlobAccountsMixin, blob_error_response
from ._blob_auth import BlobAuthMixin
from ._blob_blobs import BlobsMixin
from ._blob_containers import BlobContainersMixin
from ._core import DEFAULT_CLIENT_ID, DEFAULT_SECRET, DEFAULT_SUBSCRIPTION, DEFAULT_TENANT, Call, Failure
from ._http import ApiError, Request, Response, collect_routes, is_fake_host, json_response
from ._lro import LroMixin, Operation
from ._ml_assets import AssetsMixin
from ._ml_compute import ComputeMixin
from ._ml_dataplane import MlDataPlaneMixin
from ._ml_datastores import DatastoresMixin
from ._ml_deployments import BatchDeploymentsMixin
from ._ml_endpoints import BatchEndpointsMixin
from ._ml_invoke import BatchInvokeMixin
from ._ml_joblogs import JobLogsMixin
from ._ml_jobs import JobsMixin
from ._ml_schedules import SchedulesMixin
from ._ml_scoring import ScoringMixin
from ._ml_workspaces import WorkspacesMixin, WorkspaceState

log = logging.getLogger("tests.fakeazure")


class FakeAzure(
    AuthMixin,                 # bearer-token checks before every ARM / ML handler
    AuthorizationMixin,        # ARM: role definitions, role assignments, permissions; who may do what
    LroMixin,                  # long-running operations and their polls
    AadMixin,                  # Entra ID: login.microsoftonline.com
    SubscriptionsMixin,        # ARM: subscriptions, tenants, locations
    ProvidersMixin,            # ARM: resource providers
    ResourceGroupsMixin,       # ARM: resource groups
    StorageAccountsMixin,      # ARM: storage accounts
    GenericResourcesMixin,     # ARM: any other top-level resource (catch-all)
    TemplateDeploymentsMixin,  # ARM: template deployments
    WorkspacesMixin,           # Azure ML: workspaces
    ComputeMixin,              # Azure ML: compute clusters, VM sizes, quota
    DatastoresMixin,           # Azure ML: datastores
    AssetsMixin,               # Azure ML: environments, models, codes, data, components
    BatchEndpointsMixin,       # Azure ML: batch endpoints
    BatchDeploymentsMixin,     # Azure ML: batch deployments
    SchedulesMixin,            # Azure ML: schedules
    JobsMixin,                 # Azure ML: jobs (ARM) and their progression
    BatchInvokeMixin,          # Azure ML: scoring URI invocations, batch job listings
    ScoringMixin,              # Azure ML: what a batch job writes when it completes
    JobLogsMixin,              # Azure ML: a batch job's progress overview and logs (run artifacts)
    MlDataPlaneMixin,          # Azure ML: discovery, run history, datasets
    BlobAccountsMixin,         # Blob: accounts, keys, test-facing blob API
    BlobAuthMixin,             # Blob: SharedKey / SAS / bearer auth
    BlobContainersMixin,       # Blob: entry point, account and container requests
    BlobsMixin,                # Blob: blob requests
):
    """In-process Azure (AAD + ARM + Azure ML + Blob) for tests. See the package docstring.

    The base classes are the registry: each resource module contributes its ``@route`` handlers, which
    ``_dispatch`` tries by priority, then in the order of the bases above (first match answers).
    """

    def __init__(self, subscriptions: Iterable[dict] | None = None, locations: Iterable[Any] | None = None, *,
                 tenants: Iterable[str] | None = None, service_principals: dict[str, str] | None = None,
                 lro_polls: int = 0, delay: float = 0.0, strict: bool = True, token_lifetime: int = 3600):
        subs = list(subscriptions or [{"id": DEFAULT_SUBSCRIPTION, "name": "Fake Subscription",
                                       "tenant": DEFAULT_TENANT}])
        self.subscriptions: dict[str, dict] = {}
        for s in subs:
            sid = s.get("id") or s.get("subscriptionId")
            self.subscriptions[sid.lower()] = {
                "id": sid, "name": s.get("name") or s.get("displayName") or sid,
                "tenant": s.get("tenant") or s.get("tenantId") or DEFAULT_TENANT,
                "state": s.get("state", "Enabled"),
            }
        self.tenants: list[str] = list(dict.fromkeys([*(tenants or []),
                                                      *(s["tenant"] for s in self.subscriptions.values())]))
        self.default_tenant = self.tenants[0]
        locs = list(locations or _catalog.DEFAULT_LOCATIONS)
        self.locations: list[str] = [(l if isinstance(l, str) else l["name"]).lower() for l in locs]
        self.service_principals = dict(service_principals) if service_principals is not None else None
        self.token_lifetime = token_lifetime

        #: seconds of latency added to every request to a faked host (applied outside requests_mock's lock)
        self.delay = delay
        #: status polls that answer InProgress before an LRO reaches its terminal state
        self.lro_polls = lro_polls
        #: Retry-After (seconds) sent with InProgress answers
        self.lro_retry_after = 1
        self.strict = strict

        self.calls: list[Call] = []
        self.unmatched: list[tuple[str, str]] = []
        self.internal_errors: list[str] = []
        self.failures: list[Failure] = []
        self.tokens_issued: list[dict] = []
        self.operations: dict[str, Operation] = {}

        self._lock = threading.RLock()
        self._mocker: requests_mock.Mocker | None = None
        self._inner_send = None
        self._routes = collect_routes(self)

        # ARM (_arm_*)
        self.resource_groups: dict[tuple[str, str], dict] = {}
        self.resources: dict[str, dict] = {}  # lower-cased ARM id -> resource JSON (top-level resources)
        self.deployments: dict[tuple[str, str, str], dict] = {}
        self.taken_storage_account_names: set[str] = set()
        self.registered_providers: dict[tuple[str, str], str] = {}
        #: the bearer callers' own rights (permissions API shape); role assignments to their oid add to them
        self.caller_permissions: list[dict] = [dict(p) for p in OWNER_WITH_DATA]
        self.role_assignments: dict[str, dict] = {}  # lower-cased id -> JSON

        # Azure ML (_ml_*)
        self.workspaces: dict[tuple[str, str, str], WorkspaceState] = {}
        self.soft_deleted_workspaces: dict[tuple[str, str, str], WorkspaceState] = {}
        #: endpoint names reserved by someone else (names are unique per region across all subscriptions)
        self.taken_endpoint_names: set[str] = set()
        #: per (location, family) dedicated vCPU limits; family keys as in vm sizes ("standardDSv2Family"),
        #: plus "TotalDedicatedCores" / "TotalLowPriorityCores"
        self.quota: dict[tuple[str, str], int] = {}

        # Blob data plane (_blob_*)
        self.storage_accounts: dict[str, dict] = {}
        #: check SharedKey signatures against the account key (a wrong key gets 403 AuthenticationFailed)
        self.verify_shared_key = True
        #: accounts whose data plane refuses bearer tokens (simulates a missing "Storage Blob Data" role)
        self.blob_rbac_denied: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeAzure":
        if self._mocker is not None:
            raise RuntimeError("FakeAzure already started")
        self._mocker = requests_mock.Mocker(real_http=True)
        self._mocker.start()
        self._mocker.add_matcher(self._matcher)
        # Latency is added before requests_mock's global send lock so parallel calls overlap like real ones.
        inner = requests.Session.send
        fake = self

        def send_with_latency(session, request, **kwargs):
            if fake.delay:
                try:
                    host = requests.utils.urlparse(request.url).hostname or ""
                except Exception:  # noqa: BLE001
                    host = ""
                if is_fake_host(host):
                    time.sleep(fake.delay)
            return inner(session, request, **kwargs)

        self._inner_send = inner
        requests.Session.send = send_with_latency
        return self

    def stop(self) -> None:
        if self._mocker is None:
            return
        requests.Session.send = self._inner_send
        self._mocker.stop()
        self._mocker = None

    def __enter__(self) -> "FakeAzure":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is None and self.strict and self.internal_errors:
            raise AssertionError("FakeAzure hit internal errors (bugs in the fake):\n" +
                                 "\n".join(self.internal_errors))

    # ------------------------------------------------------------------ credentials

    def credential(self, tenant_id: str | None = None, client_id: str = DEFAULT_CLIENT_ID,
                   client_secret: str | None = None, **kwargs):
        """A real azure.identity.ClientSecretCredential whose token requests reach this fake."""
        from azure.identity import ClientSecretCredential

        if client_secret is None:
            client_secret = (self.service_principals or {}).get(client_id, DEFAULT_SECRET)
        kwargs.setdefault("additionally_allowed_tenants", ["*"])
        return ClientSecretCredential(tenant_id or self.default_tenant, client_id, client_secret,
                                      authority=AUTHORITY, **kwargs)

    # ------------------------------------------------------------------ failure injection

    def inject_failure(self, method: str | None = None, path_contains: str | None = None, *,
                       status: int = 500, times: int | None = 1, kind: str | None = None,
                       code: str | None = None, message: str | None = None, retry_after: int | None = None,
                       host_contains: str | None = None, connection_error: bool = False,
                       lro_failed: bool = False) -> Failure:
        """Make matching requests fail.

        kind="http" (default): answer `status` with an Azure error body (429 gets `Retry-After`).
        kind="connection" (or connection_error=True): raise requests.exceptions.ConnectionError.
        kind="lro" (or lro_failed=True): the request is accepted but its long-running operation ends
        "Failed" with {"code", "message"} (the resource is left in provisioningState Failed).
        times=None fails forever; the returned Failure's .hits counts how often it fired.
        """
        kind = kind or ("connection" if connection_error else "lro" if lro_failed else "http")
        if kind not in ("http", "connection", "lro"):
            raise ValueError(f"unknown failure kind {kind!r}")
        if kind == "http" and status == 429 and retry_after is None:
            retry_after = 1
        default_code = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                        503: "ServiceUnavailable", 504: "GatewayTimeout", 409: "Conflict",
                        400: "BadRequest", 403: "AuthorizationFailed", 404: "ResourceNotFound"}
        rule = Failure(method=method, path_contains=path_contains, host_contains=host_contains, kind=kind,
                       status=status, code=code or ("InternalServerError" if kind == "lro" else
                                                    default_code.get(status, "Error")),
                       message=message or (f"Injected failure ({kind}, {status})" if kind != "lro"
                                           else "Injected failure: the operation failed."),
                       times=times, retry_after=retry_after)
        with self._lock:
            self.failures.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self.failures.clear()

    # ------------------------------------------------------------------ call log helpers

    def calls_matching(self, method: str | None = None, contains: str | None = None,
                       host_contains: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls
                    if (method is None or c.method == method.upper())
                    and (contains is None or contains.lower() in c.path.lower())
                    and (host_contains is None or host_contains.lower() in c.host)]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------------ the matcher

    def _matcher(self, proxy) -> requests.Response | None:
        if not is_fake_host(urlsplit(proxy.url).hostname or ""):
            return None  # real network (e.g. Azurite on 127.0.0.1)
        req = Request.from_proxy(proxy)
        with self._lock:
            rule = next((f for f in self.failures if f.matches(req)), None)
            if rule is not None and rule.kind != "lro":
                rule.hits += 1
                if rule.kind == "connection":
                    self.calls.append(Call(req.method, req.path, 0, req.host, req.url, req.query))
                    raise requests.exceptions.ConnectionError(
                        f"FakeAzure injected connection drop for {req.method} {req.url}")
                err = ApiError(rule.status, rule.code, rule.message)
                if rule.retry_after is not None:
                    err.headers["Retry-After"] = str(rule.retry_after)
                resp = self._error_response(req, err)
            else:
                if rule is not None:
                    req.lro_failure = rule
                resp = self._dispatch(req)
            self.calls.append(Call(req.method, req.path, resp.status, req.host, req.url, req.query))
        content = b"" if req.method == "HEAD" else resp.content()
        headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4()),
                   "Date": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())}
        headers.update(resp.headers)
        if req.method == "HEAD":
            headers.setdefault("Content-Length", str(len(resp.content())) if resp.body is not None else "0")
        else:
            headers["Content-Length"] = str(len(content))
        return requests_mock.create_response(proxy, status_code=resp.status, headers=headers, content=content)

    def _error_response(self, req: Request, err: ApiError) -> Response:
        if req.kind in ("blob", "file"):
            return blob_error_response(err)
        headers = dict(err.headers)
        if req.kind == "arm" or req.kind == "ml":
            headers.setdefault("x-ms-failure-cause", "service" if err.status >= 500 else "gateway")
        body = err.body if err.body is not None else err.error_body()
        return json_response(body, err.status, headers)

    def _dispatch(self, req: Request) -> Response:
        kinds = [req.kind]
        path = req.path
        if req.kind == "ml" and path.lower().startswith("/mferp/managementfrontend/"):
            path = path[len("/mferp/managementfrontend"):]
            kinds = ["arm", "ml"]
        if req.kind == "telemetry":
            return json_response({"itemsReceived": 0, "itemsAccepted": 0, "errors": []})
        if req.kind == "imds":
            raise requests.exceptions.ConnectionError("FakeAzure: no managed identity endpoint here")
        for r in self._routes:
            if req.method not in r.methods or not any(k in r.kinds for k in kinds):
                continue
            m = r.pattern.match(path)
            if not m:
                continue
            req.match = {k: v for k, v in m.groupdict().items() if v is not None}
            try:
                self._check_auth(req)
                return getattr(self, r.handler_name)(req)
            except ApiError as err:
                return self._error_response(req, err)
            except requests.exceptions.RequestException:
                self.calls.append(Call(req.method, req.path, 0, req.host, req.url, req.query))
                raise
            except Exception as exc:  # a bug in the fake: make it loud, and not retried by the SDK
                tb = traceback.format_exc()
                msg = f"{req.method} {req.url}: {type(exc).__name__}: {exc}"
                self.internal_errors.append(msg + "\n" + tb)
                log.error("FakeAzure internal error on %s\n%s", msg, tb)
                return self._error_response(req, ApiError(501, "FakeAzureInternalError", msg))
        self.unmatched.append((req.method, req.url))
        log.warning("FakeAzure: no route for %s %s", req.method, req.url)
        return self._error_response(req, ApiError(
            501, "FakeAzureNoRoute", f"FakeAzure has no route for {req.method} {req.url} (host kind {req.kind})"))

    # ------------------------------------------------------------------ reading the state

    @property
    def state(self) -> dict:
        """A deep-copied, JSON-able snapshot of everything the fake holds (for assertions and debugging)."""
        import copy

        with self._lock:
            workspaces = {}
            for ws in self.workspaces.values():
                workspaces[ws.id] = {
                    "workspace": ws.json,
                    "computes": ws.computes,
                    "datastores": ws.datastores,
                    "assets": {kind: {e["container"]["name"]: sorted(e["versions"]) for e in coll.values()}
                               for kind, coll in ws.assets.items()},
                    "batchEndpoints": ws.endpoints,
                    "batchDeployments": {ep: list(deps) for ep, deps in ws.deployments.items()},
                    "schedules": ws.schedules,
                    "jobs": {j.name: {"status": j.status, "kind": j.kind, "parent": j.parent}
                             for j in ws.jobs.values()},
                }
            return copy.deepcopy({
                "subscriptions": list(self.subscriptions.values()),
                "resourceGroups": list(self.resource_groups.values()),
                "resources": {r["id"]: r for r in self.resources.values()},
                "workspaces": workspaces,
                "softDeletedWorkspaces": [ws.id for ws in self.soft_deleted_workspaces.values()],
                "storage": {name: {c: sorted(cont["blobs"]) for c, cont in acc["containers"].items()}
                            for name, acc in self.storage_accounts.items()},
                "deployments": [d["json"]["id"] for d in self.deployments.values()],
            })
