"""FakeAzure: the cloud state, the requests_mock plumbing, failure injection, LROs, calls log."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import requests
import requests_mock

from . import _catalog
from ._aad import AUTHORITY, AadMixin, decode_token
from ._arm import ArmMixin
from ._blob import BlobMixin, blob_error_response
from ._dataplane import DataPlaneMixin
from ._http import ApiError, Request, Response, collect_routes, is_fake_host, json_response
from ._ml import MlMixin

log = logging.getLogger("tests.fakeazure")

DEFAULT_TENANT = "72f988bf-0000-4000-8000-000000000001"
DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
DEFAULT_CLIENT_ID = "11111111-0000-4000-8000-000000000001"
DEFAULT_SECRET = "fake-client-secret-value"


class Call(tuple):
    """(method, path, status) of one request the fake answered; also .host, .url, .query."""

    def __new__(cls, method: str, path: str, status: int, host: str = "", url: str = "",
                query: dict | None = None):
        self = tuple.__new__(cls, (method, path, status))
        self.host = host
        self.url = url
        self.query = query or {}
        return self

    method = property(lambda self: self[0])
    path = property(lambda self: self[1])
    status = property(lambda self: self[2])


@dataclass
class Failure:
    """One failure-injection rule (see FakeAzure.inject_failure)."""

    method: str | None
    path_contains: str | None
    host_contains: str | None
    kind: str  # "http" | "connection" | "lro"
    status: int
    code: str
    message: str
    times: int | None  # None = forever
    retry_after: int | None
    hits: int = 0

    def matches(self, req: Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        if self.path_contains and self.path_contains.lower() not in req.path.lower():
            return False
        if self.host_contains and self.host_contains.lower() not in req.host:
            return False
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass
class Operation:
    """A long-running operation: polled through Azure-AsyncOperation (status body) or Location."""

    id: str
    polls_left: int
    failure: dict | None
    on_success: Callable[[], Any] | None
    on_failure: Callable[[dict], Any] | None
    location_body: Callable[[], Any] | None = None
    status: str = "InProgress"
    error: dict | None = None
    started: str = ""
    ended: str | None = None

    def finish(self) -> None:
        if self.status != "InProgress":
            return
        self.ended = now_iso()
        if self.failure:
            self.status = "Failed"
            self.error = {"code": self.failure["code"], "message": self.failure["message"]}
            if self.on_failure:
                self.on_failure(self.error)
        else:
            self.status = "Succeeded"
            if self.on_success:
                self.on_success()


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeAzure(AadMixin, ArmMixin, MlMixin, DataPlaneMixin, BlobMixin):
    """In-process Azure (AAD + ARM + Azure ML + Blob) for tests. See the package docstring."""

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
        self._init_arm_state()
        self._init_ml_state()
        self._init_blob_state()

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

    # ------------------------------------------------------------------ LROs

    def _start_lro(self, req: Request, *, on_success: Callable[[], Any] | None = None,
                   on_failure: Callable[[dict], Any] | None = None, location: str | None = None,
                   location_body: Callable[[], Any] | None = None, async_header: bool = True,
                   location_header: bool = False, namespace: str = "Microsoft.MachineLearningServices"
                   ) -> dict[str, str]:
        """Register an LRO for this request; returns the headers to send with the 201/202.

        With lro_polls == 0 the operation (and its side effects) completes at once and the first status
        poll answers the terminal state; otherwise that many polls answer InProgress first.
        """
        failure = None
        if req.lro_failure is not None:
            rule: Failure = req.lro_failure
            rule.hits += 1
            failure = {"code": rule.code, "message": rule.message}
            req.lro_failure = None
        op = Operation(id=str(uuid.uuid4()), polls_left=self.lro_polls, failure=failure, on_success=on_success,
                       on_failure=on_failure, location_body=location_body, started=now_iso())
        self.operations[op.id] = op
        if op.polls_left <= 0:
            op.finish()
        base = "https://management.azure.com" if req.kind == "arm" else req.base
        sub = (req.match.get("sub") or next(iter(self.subscriptions.values()))["id"])
        loc = location or "global"
        headers: dict[str, str] = {}
        if async_header:
            kind = "mfeOperationsStatus" if namespace == "Microsoft.MachineLearningServices" else "operationStatuses"
            headers["Azure-AsyncOperation"] = (f"{base}/subscriptions/{sub}/providers/{namespace}/locations/{loc}"
                                               f"/{kind}/{op.id}?api-version=2024-10-01")
        if location_header or not async_header:
            if namespace == "Microsoft.Resources":
                headers["Location"] = f"{base}/subscriptions/{sub}/operationresults/{op.id}?api-version=2022-09-01"
            else:
                kind = "mfeOperationResults" if namespace == "Microsoft.MachineLearningServices" \
                    else "operationResults"
                headers["Location"] = (f"{base}/subscriptions/{sub}/providers/{namespace}/locations/{loc}/{kind}/"
                                       f"{op.id}?api-version=2024-10-01")
        if self.lro_polls > 0:
            headers["Retry-After"] = str(self.lro_retry_after)
        return headers

    def _poll(self, op_id: str) -> Operation:
        op = self.operations.get(op_id)
        if op is None:
            raise ApiError(404, "NotFound", f"Operation '{op_id}' was not found.")
        if op.status == "InProgress":
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                op.finish()
        return op

    def complete_operations(self) -> None:
        """Finish every pending LRO now (for tests using lro_polls > 0 that stop polling)."""
        with self._lock:
            for op in self.operations.values():
                op.finish()

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

    # ------------------------------------------------------------------ direct state set-up (no HTTP)

    def _synthetic_request(self, sub: str) -> Request:
        return Request(method="PUT", url="https://management.azure.com/", scheme="https",
                       host="management.azure.com", path="/", raw_path="/", query={}, headers={}, body=b"",
                       kind="arm", match={"sub": sub})

    def _sub_id(self, subscription: str | None) -> str:
        if subscription is None:
            return next(iter(self.subscriptions.values()))["id"]
        return self._subscription(subscription)["id"]

    def add_resource_group(self, name: str, location: str = "eastus", *, subscription: str | None = None,
                           tags: dict | None = None) -> dict:
        """Create a resource group directly in the fake's state (test set-up without SDK calls)."""
        with self._lock:
            sub = self._sub_id(subscription)
            group = {"id": f"/subscriptions/{sub}/resourceGroups/{name}", "name": name,
                     "type": "Microsoft.Resources/resourceGroups", "location": _catalog.normalize_location(location),
                     "tags": dict(tags or {}), "properties": {"provisioningState": "Succeeded"}}
            self.resource_groups[(sub.lower(), name.lower())] = group
            return group

    def add_workspace(self, name: str, resource_group: str, location: str | None = None, *,
                      subscription: str | None = None, tags: dict | None = None):
        """Create a workspace (with its storage account, key vault, app insights and system datastores)
        directly in the fake's state, as the SDK's template deployment would. Returns its WorkspaceState."""
        with self._lock:
            sub = self._sub_id(subscription)
            group = self._rg(sub, resource_group, must_exist=False) or self.add_resource_group(
                resource_group, location or "eastus", subscription=sub)
            location = _catalog.normalize_location(location or group["location"])
            req = self._synthetic_request(sub)
            stem = "".join(ch for ch in name.lower() if ch.isalnum())[:8]
            names = {kind: f"{stem}{kind}{uuid.uuid4().hex}"[:24] for kind in ("storage", "keyvault", "insights")}
            storage = self._create_storage_account(sub, group["name"], names["storage"],
                                                   {"location": location, "tags": tags or {}})
            ids = {"storageAccount": storage["id"]}
            for kind, ns, rtype in (("keyvault", "Microsoft.KeyVault", "vaults"),
                                    ("insights", "Microsoft.Insights", "components")):
                res = self._generic_resource_json(sub, group["name"], ns, rtype, names[kind],
                                                  {"location": location, "tags": tags or {}})
                self._put_resource(res["id"], res)
                ids["keyVault" if kind == "keyvault" else "applicationInsights"] = res["id"]
            self._create_workspace(sub, group, name, {"location": location, "tags": dict(tags or {}),
                                                      "properties": {**ids, "friendlyName": name}}, req)
            return self.workspaces[(sub.lower(), group["name"].lower(), name.lower())]

    # ------------------------------------------------------------------ auth

    def _bearer_claims(self, req: Request) -> dict | None:
        auth = req.headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        return decode_token(auth[7:].strip())

    def _check_auth(self, req: Request) -> None:
        if req.kind not in ("arm", "ml"):
            return
        if req.path.lower().endswith("/discovery") or req.path.lower() == "/discovery":
            return
        claims = self._bearer_claims(req)
        if claims is None:
            raise ApiError(401, "AuthenticationFailed",
                           "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
                           headers={"WWW-Authenticate": 'Bearer authorization_uri="https://login.windows.net/", '
                                                        'error="invalid_token"'})
        if claims.get("exp", 0) < time.time():
            raise ApiError(401, "ExpiredAuthenticationToken",
                           "The access token expiry UTC time is earlier than current UTC time.")
        aud = (claims.get("aud") or "").rstrip("/")
        management = ("https://management.azure.com", "https://management.core.windows.net")
        if req.kind == "arm" and aud not in management:
            raise ApiError(401, "InvalidAuthenticationTokenAudience",
                           f"The access token has been obtained for wrong audience or resource '{aud}'. It should "
                           "exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
                           "'https://management.azure.com/'.")
        if req.kind == "ml" and aud not in management + ("https://ml.azure.com",):
            raise ApiError(401, "InvalidAuthenticationTokenAudience",
                           f"The access token has been obtained for wrong audience '{aud}'.")
        sub = req.match.get("sub")
        if sub and sub.lower() in self.subscriptions:
            tenant = self.subscriptions[sub.lower()]["tenant"]
            if claims.get("tid", "").lower() != tenant.lower():
                raise ApiError(401, "InvalidAuthenticationTokenTenant",
                               f"The access token is from the wrong issuer 'https://sts.windows.net/"
                               f"{claims.get('tid')}/'. It must match the tenant 'https://sts.windows.net/{tenant}/' "
                               f"associated with this subscription. Please use the authority (URL) "
                               f"'https://login.windows.net/{tenant}' to get the token.")

    def _caller(self, req: Request) -> dict:
        claims = self._bearer_claims(req) or {}
        return {"oid": claims.get("oid", "00000000-0000-0000-0000-000000000000"),
                "appid": claims.get("appid", ""), "tid": claims.get("tid", self.default_tenant)}

    def _system_data(self, req: Request, created: dict | None = None) -> dict:
        who = self._caller(req)["appid"] or "fake-user"
        now = now_iso()
        base = created or {"createdAt": now, "createdBy": who, "createdByType": "Application"}
        return {**base, "lastModifiedAt": now, "lastModifiedBy": who, "lastModifiedByType": "Application"}

    def _subscription(self, sub: str) -> dict:
        s = self.subscriptions.get(sub.lower())
        if s is None:
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return s
