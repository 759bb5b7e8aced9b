"""Azure ML resource provider (Microsoft.MachineLearningServices) on ARM: workspaces, computes, quota,
datastores, assets (environments, models, codes, data, components), batch endpoints and deployments,
schedules and jobs."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from . import _catalog
from ._http import ApiError, Request, Response, bad_request, json_response, not_found, route

SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
MLP = "/providers/Microsoft.MachineLearningServices"
WS = RG + MLP + "/workspaces/{ws}"
ASSET_KINDS = "(?:environments|models|codes|data|components)"

WS_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")
COMPUTE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
ENDPOINT_NAME_RE = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
DATASTORE_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")

SOFT_DELETED_MESSAGE = "Soft-deleted workspace exists. Please purge or recover it. https://aka.ms/wsoftdelete"


def _now() -> str:
    from ._core import now_iso
    return now_iso()


def _bool(v: Any) -> Any:
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


@dataclass
class WorkspaceState:
    sub: str
    rg: str
    name: str
    location: str
    json: dict
    storage_account: str
    computes: dict[str, dict] = field(default_factory=dict)
    datastores: dict[str, dict] = field(default_factory=dict)
    datastore_secrets: dict[str, dict] = field(default_factory=dict)
    assets: dict[str, dict[str, dict]] = field(default_factory=dict)
    endpoints: dict[str, dict] = field(default_factory=dict)
    deployments: dict[str, dict[str, dict]] = field(default_factory=dict)
    schedules: dict[str, dict] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.json["id"]

    @property
    def workspace_id(self) -> str:
        return self.json["properties"]["workspaceId"]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sub.lower(), self.rg.lower(), self.name.lower())

    def child_id(self, *parts: str) -> str:
        return "/".join([self.id, *parts])


class MlMixin:
    # ------------------------------------------------------------------ state

    def _init_ml_state(self) -> None:
        self.workspaces: dict[tuple[str, str, str], WorkspaceState] = {}
        self.soft_deleted_workspaces: dict[tuple[str, str, str], WorkspaceState] = {}
        #: endpoint names reserved by someone else (names are unique per region across all subscriptions)
        self.taken_endpoint_names: set[str] = set()
        #: per (location, family) dedicated vCPU limits; family keys as in vm sizes ("standardDSv2Family"),
        #: plus "TotalDedicatedCores" / "TotalLowPriorityCores"
        self.quota: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ lookups

    def _ws(self, req_or_sub, rg: str | None = None, name: str | None = None) -> WorkspaceState:
        if isinstance(req_or_sub, Request):
            m = req_or_sub.match
            sub, rg, name = m["sub"], m["rg"], m["ws"]
        else:
            sub = req_or_sub
        self._rg(sub, rg)
        ws = self.workspaces.get((sub.lower(), rg.lower(), name.lower()))
        if ws is None:
            raise not_found(f"The Resource 'Microsoft.MachineLearningServices/workspaces/{name}' under resource "
                            f"group '{rg}' was not found. For more details please go to "
                            "https://aka.ms/ARMResourceNotFoundFix")
        return ws

    def workspace(self, name: str, resource_group: str | None = None, subscription: str | None = None
                  ) -> WorkspaceState:
        """The fake's state for a workspace (first match on name when group/subscription are omitted)."""
        with self._lock:
            for (s, r, n), ws in self.workspaces.items():
                if n == name.lower() and (resource_group is None or r == resource_group.lower()) and (
                        subscription is None or s == subscription.lower()):
                    return ws
        raise KeyError(f"no workspace {name!r}")

    def _ml_child_resource(self, key: str) -> dict | None:
        m = re.match(r"^(/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.machinelearningservices/"
                     r"workspaces/[^/]+)(/.*)?$", key)
        if not m:
            return None
        ws = next((w for w in self.workspaces.values() if w.id.lower() == m.group(1)), None)
        if ws is None:
            return None
        rest = (m.group(2) or "").strip("/").split("/") if m.group(2) else []
        if not rest:
            return ws.json
        coll, *tail = rest
        simple = {"computes": ws.computes, "datastores": ws.datastores, "batchendpoints": ws.endpoints,
                  "schedules": ws.schedules}
        if coll in simple and len(tail) == 1:
            return simple[coll].get(tail[0])
        if coll == "batchendpoints" and len(tail) == 3 and tail[1] == "deployments":
            return ws.deployments.get(tail[0], {}).get(tail[2])
        if coll == "jobs" and len(tail) == 1:
            job = ws.jobs.get(tail[0])
            return self._job_arm_json(ws, job) if job else None
        if coll in ("environments", "models", "codes", "data", "components") and tail:
            entry = ws.assets.get(coll, {}).get(tail[0])
            if entry is None:
                return None
            if len(tail) == 1:
                return entry["container"]
            if len(tail) == 3 and tail[1] == "versions":
                return next((v for k, v in entry["versions"].items() if k.lower() == tail[2]), None)
        return None

    # ------------------------------------------------------------------ workspaces

    def _discovery_url(self, location: str) -> str:
        return f"https://{location}.api.azureml.ms/discovery"

    def _preflight_workspace(self, sub: str, group: dict, res: dict) -> None:
        name = res["name"]
        if not WS_NAME_RE.match(name):
            raise ApiError(400, "InvalidTemplateDeployment",
                           "The template deployment is not valid according to the validation procedure.",
                           details=[{"code": "ValidationError",
                                     "message": f"Workspace name '{name}' is invalid: it must be 3-33 characters, "
                                                "start with a letter or digit and contain only letters, digits, "
                                                "'-' and '_'."}])
        key = (sub.lower(), group["name"].lower(), name.lower())
        props = res.get("properties") or {}
        if key in self.soft_deleted_workspaces and key not in self.workspaces and \
                not _bool(props.get("allowRecoverSoftDeletedWorkspace")):
            raise ApiError(400, "InvalidTemplateDeployment",
                           f"The template deployment '{name}' is not valid according to the validation procedure. "
                           "See inner errors for details.",
                           details=[{"code": "BadRequest", "message": SOFT_DELETED_MESSAGE}])
        location = _catalog.normalize_location(res.get("location") or group["location"])
        if location not in self.locations:
            raise ApiError(400, "InvalidTemplateDeployment", f"The location '{location}' is not available.",
                           details=[{"code": "LocationNotAvailableForResourceType",
                                     "message": f"The provided location '{location}' is not available for "
                                                "resource type 'Microsoft.MachineLearningServices/workspaces'."}])

    def _create_workspace(self, sub: str, group: dict, name: str, body: dict, req: Request) -> dict:
        key = (sub.lower(), group["name"].lower(), name.lower())
        props_in = {k: v for k, v in (body.get("properties") or {}).items() if v not in (None, "")}
        existing = self.workspaces.get(key)
        if existing is None and key in self.soft_deleted_workspaces and \
                _bool(props_in.get("allowRecoverSoftDeletedWorkspace")):
            existing = self.soft_deleted_workspaces.pop(key)
            self.workspaces[key] = existing
            self.resources[existing.id.lower()] = existing.json
        location = _catalog.normalize_location(body.get("location") or group["location"])
        storage_id = props_in.get("storageAccount") or ""
        storage_name = storage_id.rstrip("/").split("/")[-1]
        if storage_name.lower() not in self.storage_accounts:
            raise ApiError(400, "BadRequest", f"Storage account '{storage_id}' was not found.")
        if existing is not None:
            ws = existing
            ws.json["tags"] = body.get("tags") or ws.json.get("tags") or {}
            for k in ("friendlyName", "description", "applicationInsights", "containerRegistry"):
                if k in props_in:
                    ws.json["properties"][k] = props_in[k]
            return ws.json
        workspace_id = str(uuid.uuid4())
        arm_id = f"/subscriptions/{sub}/resourceGroups/{group['name']}/providers/Microsoft.MachineLearningServices" \
                 f"/workspaces/{name}"
        keep = ("friendlyName", "description", "storageAccount", "keyVault", "applicationInsights",
                "containerRegistry", "imageBuildCompute", "primaryUserAssignedIdentity", "managedNetwork",
                "serverlessComputeSettings", "workspaceHubConfig")
        props = {k: props_in[k] for k in keep if props_in.get(k) not in (None, "", {})}
        props.update({
            "workspaceId": workspace_id,
            "provisioningState": "Succeeded",
            "discoveryUrl": self._discovery_url(location),
            "mlFlowTrackingUri": f"azureml://{location}.api.azureml.ms/mlflow/v1.0{arm_id}",
            "hbiWorkspace": bool(_bool(props_in.get("hbiWorkspace")) is True),
            "publicNetworkAccess": props_in.get("publicNetworkAccess") or "Enabled",
            "allowPublicAccessWhenBehindVnet": False,
            "v1LegacyMode": False,
            "storageHnsEnabled": False,
            "privateLinkCount": 0,
            "tenantId": self._subscription(sub)["tenant"],
            "softDeleteRetentionInDays": 14,
            "systemDatastoresAuthMode": props_in.get("systemDatastoresAuthMode") or "accesskey",
            "enableDataIsolation": bool(_bool(props_in.get("enableDataIsolation")) is True),
            "notebookInfo": {"fqdn": f"ml-{name.lower()}-{location}-{workspace_id}.{location}.notebooks.azure.net",
                             "resourceId": uuid.uuid4().hex},
            "sasGetterUri": "",
            "containerRegistry": props.get("containerRegistry"),
        })
        props.setdefault("friendlyName", name)
        ws_json = {
            "id": arm_id,
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": location,
            "tags": body.get("tags") or {},
            "kind": body.get("kind") or "Default",
            "sku": {"name": "Basic", "tier": "Basic"},
            "identity": {"type": "SystemAssigned", "principalId": str(uuid.uuid4()),
                         "tenantId": self._subscription(sub)["tenant"]},
            "properties": props,
            "systemData": self._system_data(req),
        }
        ws = WorkspaceState(sub=sub, rg=group["name"], name=name, location=location, json=ws_json,
                            storage_account=storage_name.lower())
        self.workspaces[key] = ws
        self.resources[arm_id.lower()] = ws_json
        self._create_system_datastores(ws, req)
        return ws_json

    def _create_system_datastores(self, ws: WorkspaceState, req: Request) -> None:
        account = self.storage_accounts[ws.storage_account]
        acc = account["name"]
        common = {"endpoint": "core.windows.net", "protocol": "https", "credentials": {"credentialsType": "AccountKey"},
                  "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity", "tags": {}, "properties": {},
                  "subscriptionId": ws.sub, "resourceGroup": ws.rg}
        specs = {
            "workspaceblobstore": {"datastoreType": "AzureBlob", "accountName": acc,
                                   "containerName": f"azureml-blobstore-{ws.workspace_id}", "isDefault": True},
            "workspaceartifactstore": {"datastoreType": "AzureBlob", "accountName": acc, "containerName": "azureml",
                                       "isDefault": False},
            "workspacefilestore": {"datastoreType": "AzureFile", "accountName": acc,
                                   "fileShareName": f"azureml-filestore-{ws.workspace_id}", "isDefault": False},
            "workspaceworkingdirectory": {"datastoreType": "AzureFile", "accountName": acc,
                                          "fileShareName": f"code-{uuid.uuid4()}", "isDefault": False},
        }
        for name, spec in specs.items():
            props = {**copy.deepcopy(common), **spec, "description": None}
            ws.datastores[name] = {"id": ws.child_id("datastores", name), "name": name,
                                   "type": "Microsoft.MachineLearningServices/workspaces/datastores",
                                   "properties": props, "systemData": self._system_data(req)}
            ws.datastore_secrets[name] = {"secretsType": "AccountKey", "key": account["key"]}
            if spec["datastoreType"] == "AzureBlob":
                self._create_container(account, spec["containerName"], {})

    def _forget_workspace(self, ws_json: dict, soft: bool) -> None:
        key = next((k for k, w in self.workspaces.items() if w.id.lower() == ws_json["id"].lower()), None)
        if key is None:
            return
        ws = self.workspaces.pop(key)
        self.resources.pop(ws.id.lower(), None)
        # Compute clusters and endpoints are hard-deleted even when the workspace is only soft-deleted.
        ws.computes.clear()
        ws.endpoints.clear()
        ws.deployments.clear()
        if soft:
            self.soft_deleted_workspaces[key] = ws
        else:
            self.soft_deleted_workspaces.pop(key, None)

    def purge_workspace(self, name: str, resource_group: str, subscription: str | None = None) -> bool:
        """Permanently delete a soft-deleted workspace (what the portal's 'Recently deleted' purge does)."""
        with self._lock:
            sub = subscription or next(iter(self.subscriptions.values()))["id"]
            return self.soft_deleted_workspaces.pop((sub.lower(), resource_group.lower(), name.lower()),
                                                    None) is not None

    @route("GET", "arm", SUB + MLP + "/workspaces")
    def ml_list_workspaces_sub(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        items = [w.json for w in self.workspaces.values() if w.sub.lower() == req.match["sub"].lower()]
        return json_response({"value": self._filter_kind(items, req)})

    @route("GET", "arm", RG + MLP + "/workspaces")
    def ml_list_workspaces_rg(self, req: Request) -> Response:
        self._rg(req.match["sub"], req.match["rg"])
        items = [w.json for w in self.workspaces.values()
                 if (w.sub.lower(), w.rg.lower()) == (req.match["sub"].lower(), req.match["rg"].lower())]
        return json_response({"value": self._filter_kind(items, req)})

    @staticmethod
    def _filter_kind(items: list[dict], req: Request) -> list[dict]:
        kind = req.query.get("kind")
        if not kind:
            return items
        kinds = {k.strip().lower() for k in kind.split(",")}
        return [w for w in items if (w.get("kind") or "default").lower() in kinds]

    @route("GET", "arm", WS)
    def ml_get_workspace(self, req: Request) -> Response:
        return json_response(self._ws(req).json)

    @route("PUT", "arm", WS)
    def ml_put_workspace(self, req: Request) -> Response:
        m = req.match
        group = self._rg(m["sub"], m["rg"])
        body = req.json()
        res = {"name": m["ws"], "type": "Microsoft.MachineLearningServices/workspaces",
               "location": body.get("location"), "properties": body.get("properties") or {}}
        self._preflight_workspace(m["sub"], group, res)
        existed = (m["sub"].lower(), m["rg"].lower(), m["ws"].lower()) in self.workspaces
        ws_json = self._create_workspace(m["sub"], group, m["ws"], body, req)
        headers = self._start_lro(req, location=ws_json["location"])
        return json_response(ws_json, 200 if existed else 201, headers)

    @route("PATCH", "arm", WS)
    def ml_patch_workspace(self, req: Request) -> Response:
        ws = self._ws(req)
        body = req.json()
        if body.get("tags") is not None:
            ws.json["tags"] = body["tags"]
        for k, v in (body.get("properties") or {}).items():
            if v is not None:
                ws.json["properties"][k] = v
        if body.get("identity"):
            ws.json["identity"] = {**ws.json.get("identity", {}), **body["identity"]}
        headers = self._start_lro(req, location=ws.location)
        return json_response(ws.json, 202, headers)

    @route("DELETE", "arm", WS)
    def ml_delete_workspace(self, req: Request) -> Response:
        m = req.match
        self._rg(m["sub"], m["rg"])
        key = (m["sub"].lower(), m["rg"].lower(), m["ws"].lower())
        purge = str(req.query.get("forcetopurge", "false")).lower() == "true"
        ws = self.workspaces.get(key)
        if ws is None:
            if purge and key in self.soft_deleted_workspaces:
                del self.soft_deleted_workspaces[key]
                return Response(200)
            return Response(204)
        ws.json["properties"]["provisioningState"] = "Deleting"

        def done():
            self._forget_workspace(ws.json, soft=not purge)

        def failed(_err):
            ws.json["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=done, on_failure=failed, location=ws.location,
                                  location_header=True)
        return Response(202, None, headers)

    @route("POST", "arm", WS + "/listKeys")
    def ml_workspace_keys(self, req: Request) -> Response:
        ws = self._ws(req)
        account = self.storage_accounts.get(ws.storage_account)
        return json_response({
            "userStorageKey": account["key"] if account else None,
            "userStorageResourceId": ws.json["properties"].get("storageAccount"),
            "appInsightsInstrumentationKey": None,
            "containerRegistryCredentials": None,
            "notebookAccessKeys": None,
        })

    @route("POST", "arm", WS + "/listStorageAccountKeys")
    def ml_workspace_storage_keys(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response({"userStorageKey": self.storage_accounts[ws.storage_account]["key"]})

    @route("GET", "arm", WS + "/{coll:(?:connections|outboundRules|privateEndpointConnections)}")
    def ml_workspace_empty_lists(self, req: Request) -> Response:
        self._ws(req)
        return json_response({"value": []})

    # ------------------------------------------------------------------ quota, VM sizes

    def _limit(self, location: str, family: str) -> int:
        if (location, family) in self.quota:
            return self.quota[(location, family)]
        if (None, family) in self.quota:
            return self.quota[(None, family)]
        return _catalog.DEFAULT_QUOTA.get(family, _catalog.DEFAULT_TOTALS.get(family, 0))

    def _usage(self, sub: str, location: str) -> dict[str, int]:
        used: dict[str, int] = {}
        for ws in self.workspaces.values():
            if ws.sub.lower() != sub.lower() or ws.location != location:
                continue
            for c in ws.computes.values():
                inner = c["properties"].get("properties") or {}
                size = _catalog.vm_size(inner.get("vmSize", ""))
                if size is None:
                    continue
                nodes = inner.get("currentNodeCount") or 0
                cores = size[2] * nodes
                if (inner.get("vmPriority") or "Dedicated").lower() == "lowpriority":
                    used[_catalog.TOTAL_LOW_PRIORITY] = used.get(_catalog.TOTAL_LOW_PRIORITY, 0) + cores
                else:
                    used[size[1]] = used.get(size[1], 0) + cores
                    used[_catalog.TOTAL_DEDICATED] = used.get(_catalog.TOTAL_DEDICATED, 0) + cores
        return used

    def _check_location(self, loc: str) -> str:
        loc = _catalog.normalize_location(loc)
        if loc not in self.locations:
            raise ApiError(400, "UnsupportedLocation", f"The location '{loc}' is not supported.")
        return loc

    @route("GET", "arm", SUB + MLP + "/locations/{loc}/vmSizes")
    def ml_vm_sizes(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        self._check_location(req.match["loc"])
        return json_response({"value": [{
            "name": name, "family": family, "vCPUs": cpus, "gpus": gpus, "osVhdSizeMB": 1047552,
            "maxResourceVolumeMB": int(memory * 4096), "memoryGB": memory, "lowPriorityCapable": low,
            "premiumIO": True, "supportedComputeTypes": ["ComputeInstance", "AmlCompute"],
        } for name, family, cpus, memory, gpus, low in _catalog.VM_SIZES]})

    @route("GET", "arm", SUB + MLP + "/locations/{loc}/usages")
    def ml_usages(self, req: Request) -> Response:
        sub = req.match["sub"]
        self._subscription(sub)
        loc = self._check_location(req.match["loc"])
        used = self._usage(sub, loc)
        values = []
        names = list(_catalog.FAMILY_NAMES) + [_catalog.TOTAL_DEDICATED, _catalog.TOTAL_LOW_PRIORITY]
        for fam in names:
            localized = {
                _catalog.TOTAL_DEDICATED: "Total Cluster Dedicated Regional vCPUs",
                _catalog.TOTAL_LOW_PRIORITY: "Total Cluster LowPriority Regional vCPUs",
            }.get(fam, f"{_catalog.FAMILY_NAMES.get(fam, fam)} Cluster Dedicated vCPUs")
            values.append({
                "id": f"/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages/{fam}",
                "amlWorkspaceLocation": loc,
                "type": "Microsoft.MachineLearningServices/totalCores/usages",
                "unit": "Count",
                "currentValue": used.get(fam, 0),
                "limit": self._limit(loc, fam),
                "name": {"value": fam, "localizedValue": localized},
            })
        return json_response({"value": values})

    # ------------------------------------------------------------------ computes

    def _compute(self, ws: WorkspaceState, name: str) -> dict:
        c = ws.computes.get(name.lower())
        if c is None:
            raise not_found(f"Compute '{name}' was not found in workspace '{ws.name}'.",
                            code="ResourceNotFound")
        return c

    @route("GET", "arm", WS + "/computes")
    def ml_list_computes(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response({"value": list(ws.computes.values())})

    @route("GET", "arm", WS + "/computes/{name}")
    def ml_get_compute(self, req: Request) -> Response:
        return json_response(self._compute(self._ws(req), req.match["name"]))

    def _validate_cluster(self, ws: WorkspaceState, name: str, inner: dict, current: dict | None) -> dict:
        size = _catalog.vm_size(inner.get("vmSize") or "Standard_DS3_v2")
        if size is None:
            raise bad_request(f"The specified VM size '{inner.get('vmSize')}' is not available in location "
                              f"'{ws.location}'. Use list_sizes to see the sizes offered.", code="UserError")
        scale = inner.get("scaleSettings") or {}
        lo, hi = int(scale.get("minNodeCount") or 0), int(scale.get("maxNodeCount", 1) if scale else 1)
        if lo < 0 or hi < 1 or lo > hi:
            raise bad_request(f"Invalid scale settings: minNodeCount {lo}, maxNodeCount {hi} (need 0 <= min <= max, "
                              "max >= 1).", code="UserError")
        priority = inner.get("vmPriority") or "Dedicated"
        if current is not None:
            cur = current["properties"]["properties"]
            if cur["vmSize"].lower() != size[0].lower():
                raise ApiError(409, "Conflict",
                               f"Compute '{name}' already exists with VM size '{cur['vmSize']}'; the VM size of an "
                               "AmlCompute cluster cannot be changed in place. Delete and re-create it.")
            if (cur.get("vmPriority") or "Dedicated").lower() != priority.lower():
                raise ApiError(409, "Conflict",
                               f"Compute '{name}' already exists with VM priority '{cur.get('vmPriority')}'; "
                               "it cannot be changed in place.")
        if priority.lower() != "lowpriority" and lo:
            used = self._usage(ws.sub, ws.location)
            already = (current["properties"]["properties"].get("currentNodeCount") or 0) * size[2] if current else 0
            need = used.get(size[1], 0) - already + lo * size[2]
            limit = self._limit(ws.location, size[1])
            if need > limit:
                raise bad_request(f"Operation could not be completed as it results in exceeding approved "
                                  f"{_catalog.FAMILY_NAMES.get(size[1], size[1])} Cores quota. Location: "
                                  f"{ws.location}, Current Limit: {limit}, Current Usage: {used.get(size[1], 0)}, "
                                  f"Additional Required: {lo * size[2]}.", code="QuotaExceeded")
        return {"size": size, "min": lo, "max": hi, "priority": priority,
                "idle": scale.get("nodeIdleTimeBeforeScaleDown") or "PT120S"}

    @route("PUT", "arm", WS + "/computes/{name}")
    def ml_put_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        if not COMPUTE_NAME_RE.match(name):
            raise bad_request(f"Compute name '{name}' is invalid. It can include letters, digits and dashes. It must "
                              "start with a letter, end with a letter or digit, and be between 3 and 24 characters "
                              "long.", code="ValidationError")
        body = req.json()
        props = body.get("properties") or {}
        ctype = props.get("computeType") or "AmlCompute"
        current = ws.computes.get(name.lower())
        if current is not None and current["properties"]["computeType"] != ctype:
            raise ApiError(409, "Conflict", f"Compute '{name}' already exists with type "
                                            f"{current['properties']['computeType']}.")
        inner = copy.deepcopy(props.get("properties") or {})
        now = _now()
        out_props = {k: v for k, v in props.items() if k != "properties"}
        out_props.update({"computeType": ctype, "computeLocation": _catalog.normalize_location(
            body.get("location") or ws.location), "isAttachedCompute": False, "disableLocalAuth": bool(
            props.get("disableLocalAuth", True)), "provisioningErrors": None, "resourceId": props.get("resourceId"),
            "createdOn": current["properties"]["createdOn"] if current else now, "modifiedOn": now})
        if ctype == "AmlCompute":
            v = self._validate_cluster(ws, name, inner, current)
            inner.update({
                "vmSize": inner.get("vmSize") or v["size"][0],
                "vmPriority": v["priority"],
                "scaleSettings": {"maxNodeCount": v["max"], "minNodeCount": v["min"],
                                  "nodeIdleTimeBeforeScaleDown": v["idle"]},
                "osType": inner.get("osType") or "Linux",
                "remoteLoginPortPublicAccess": inner.get("remoteLoginPortPublicAccess") or "NotSpecified",
                "enableNodePublicIp": inner.get("enableNodePublicIp", True),
                "isolatedNetwork": inner.get("isolatedNetwork", False),
                "allocationState": "Steady",
                "allocationStateTransitionTime": now,
                "currentNodeCount": v["min"],
                "targetNodeCount": v["min"],
                "nodeStateCounts": {"idleNodeCount": v["min"], "runningNodeCount": 0, "preparingNodeCount": 0,
                                    "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
                "errors": None,
            })
        out_props["properties"] = inner
        out_props["provisioningState"] = "Creating" if current is None else "Updating"
        compute = {
            "id": ws.child_id("computes", current["name"] if current else name),
            "name": current["name"] if current else name,
            "type": "Microsoft.MachineLearningServices/workspaces/computes",
            "location": out_props["computeLocation"],
            "tags": body.get("tags") if body.get("tags") is not None else (current or {}).get("tags") or {},
            "properties": out_props,
            "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        if body.get("identity"):
            ident = copy.deepcopy(body["identity"])
            if "systemassigned" in (ident.get("type") or "").lower():
                ident.setdefault("principalId", str(uuid.uuid4()))
                ident.setdefault("tenantId", self._subscription(ws.sub)["tenant"])
            compute["identity"] = ident
        if body.get("sku"):
            compute["sku"] = body["sku"]
        ws.computes[name.lower()] = compute

        def failed(error):
            compute["properties"]["provisioningState"] = "Failed"
            compute["properties"]["provisioningErrors"] = [{"error": error}]

        return self._accepted_put(req, ws, compute, current, failed)

    def _accepted_put(self, req: Request, ws: Any, resource: dict, current: Any,
                      on_failure: Callable[[dict], Any] | None = None) -> Response:
        """Answer a create/update as Azure does: 200/201 with Creating/Updating, then an async
        operation that ends with the resource Succeeded (or Failed)."""
        def ok():
            resource["properties"]["provisioningState"] = "Succeeded"

        def failed(_error):
            resource["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=ok, on_failure=on_failure or failed, location=ws.location)
        snapshot = copy.deepcopy(resource)
        snapshot["properties"]["provisioningState"] = "Creating" if current is None else "Updating"
        return json_response(snapshot, 200 if current else 201, headers)

    @route("PATCH", "arm", WS + "/computes/{name}")
    def ml_patch_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        compute = self._compute(ws, req.match["name"])
        body = req.json()
        inner_patch = ((body.get("properties") or {}).get("properties") or {})
        inner = compute["properties"].get("properties") or {}
        if "scaleSettings" in inner_patch and compute["properties"]["computeType"] == "AmlCompute":
            merged = {**inner, "scaleSettings": {**inner.get("scaleSettings", {}), **inner_patch["scaleSettings"]}}
            v = self._validate_cluster(ws, compute["name"], merged, compute)
            inner["scaleSettings"] = {"maxNodeCount": v["max"], "minNodeCount": v["min"],
                                      "nodeIdleTimeBeforeScaleDown": v["idle"]}
            inner["currentNodeCount"] = inner["targetNodeCount"] = v["min"]
        if body.get("tags") is not None:
            compute["tags"] = body["tags"]
        if body.get("identity"):
            compute["identity"] = body["identity"]
        compute["properties"]["modifiedOn"] = _now()
        compute["systemData"] = self._system_data(req, compute.get("systemData"))
        headers = self._start_lro(req, location=ws.location)
        return json_response(compute, 202, headers)

    @route("DELETE", "arm", WS + "/computes/{name}")
    def ml_delete_compute(self, req: Request) -> Response:
        ws = self._ws(req)
        compute = ws.computes.get(req.match["name"].lower())
        if compute is None:
            return Response(204)
        compute["properties"]["provisioningState"] = "Deleting"

        def done():
            ws.computes.pop(req.match["name"].lower(), None)

        def failed(error):
            compute["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=done, on_failure=failed, location=ws.location,
                                  location_header=True)
        return Response(202, None, headers)

    @route("POST", "arm", WS + "/computes/{name}/listNodes")
    def ml_compute_nodes(self, req: Request) -> Response:
        self._compute(self._ws(req), req.match["name"])
        return json_response({"nodes": [], "nextLink": None})

    @route("POST", "arm", WS + "/computes/{name}/listKeys")
    def ml_compute_keys(self, req: Request) -> Response:
        self._compute(self._ws(req), req.match["name"])
        return json_response({"computeType": "AmlCompute"})

    # ------------------------------------------------------------------ datastores

    def _datastore(self, ws: WorkspaceState, name: str) -> dict:
        ds = ws.datastores.get(name.lower())
        if ds is None:
            raise not_found(f"DatastoreNotFound: {name} does not exist in workspace {ws.name}.", code="UserError")
        return ds

    @route("GET", "arm", WS + "/datastores")
    def ml_list_datastores(self, req: Request) -> Response:
        ws = self._ws(req)
        items = list(ws.datastores.values())
        if "isdefault" in req.query:
            want = req.query["isdefault"].lower() == "true"
            items = [d for d in items if bool(d["properties"].get("isDefault")) == want]
        names = [v for k, v in req.query.items() if k == "names"]
        if names:
            wanted = {n.lower() for n in ",".join(names).split(",")}
            items = [d for d in items if d["name"].lower() in wanted]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/datastores/{name}")
    def ml_get_datastore(self, req: Request) -> Response:
        return json_response(self._datastore(self._ws(req), req.match["name"]))

    @route("PUT", "arm", WS + "/datastores/{name}")
    def ml_put_datastore(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        if not DATASTORE_NAME_RE.match(name):
            raise bad_request(f"Datastore name '{name}' is invalid: use lowercase letters, digits and underscores.",
                              code="UserError")
        body = req.json()
        props = copy.deepcopy(body.get("properties") or {})
        dtype = props.get("datastoreType")
        if dtype not in ("AzureBlob", "AzureFile", "AzureDataLakeGen2", "AzureDataLakeGen1", "OneLake"):
            raise bad_request(f"Unsupported datastoreType '{dtype}'.", code="UserError")
        required = {"AzureBlob": ("accountName", "containerName"), "AzureFile": ("accountName", "fileShareName"),
                    "AzureDataLakeGen2": ("accountName", "filesystem")}.get(dtype, ())
        missing = [f for f in required if not props.get(f)]
        if missing:
            raise bad_request(f"Datastore '{name}' is missing required properties: {', '.join(missing)}.",
                              code="UserError")
        creds = props.get("credentials") or {"credentialsType": "None"}
        secrets = creds.pop("secrets", None)
        props["credentials"] = creds
        props.setdefault("endpoint", "core.windows.net")
        props.setdefault("protocol", "https")
        props.setdefault("serviceDataAccessAuthIdentity", "None")
        props["isDefault"] = bool(props.get("isDefault"))
        props.setdefault("subscriptionId", ws.sub)
        props.setdefault("resourceGroup", ws.rg)
        current = ws.datastores.get(name.lower())
        if props["isDefault"]:
            for other in ws.datastores.values():
                other["properties"]["isDefault"] = False
        ds = {"id": ws.child_id("datastores", name), "name": name,
              "type": "Microsoft.MachineLearningServices/workspaces/datastores", "properties": props,
              "systemData": self._system_data(req, (current or {}).get("systemData"))}
        ws.datastores[name.lower()] = ds
        if secrets:
            ws.datastore_secrets[name.lower()] = secrets
        else:
            ws.datastore_secrets.pop(name.lower(), None)
        return json_response(ds, 200 if current else 201)

    @route("DELETE", "arm", WS + "/datastores/{name}")
    def ml_delete_datastore(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"].lower()
        if name not in ws.datastores:
            return Response(204)
        if name in ("workspaceblobstore", "workspaceartifactstore", "workspacefilestore",
                    "workspaceworkingdirectory"):
            raise bad_request(f"Datastore '{name}' is a system datastore and cannot be deleted.", code="UserError")
        del ws.datastores[name]
        ws.datastore_secrets.pop(name, None)
        return Response(200)

    @route("POST", "arm", WS + "/datastores/{name}/listSecrets")
    def ml_datastore_secrets(self, req: Request) -> Response:
        ws = self._ws(req)
        ds = self._datastore(ws, req.match["name"])
        secrets = ws.datastore_secrets.get(ds["name"].lower())
        if not secrets:
            raise bad_request(f"Datastore '{ds['name']}' has no secrets: its credentials type is "
                              f"{ds['properties']['credentials'].get('credentialsType')}.", code="UserError")
        return json_response(secrets)

    # ------------------------------------------------------------------ assets

    def _asset_entry(self, ws: WorkspaceState, kind: str, name: str) -> dict:
        entry = ws.assets.get(kind, {}).get(name.lower())
        if entry is None:
            raise not_found(f"Could not find asset with ID: {ws.id}/{kind}/{name}", code="UserError")
        return entry

    def _asset_version(self, ws: WorkspaceState, kind: str, name: str, version: str) -> dict:
        entry = self._asset_entry(ws, kind, name)
        v = entry["versions"].get(version)
        if v is None:
            raise not_found(f"Could not find asset with ID: {ws.id}/{kind}/{name}/versions/{version}",
                            code="UserError")
        return v

    @staticmethod
    def _kind_type(kind: str) -> str:
        return f"Microsoft.MachineLearningServices/workspaces/{kind}"

    def _refresh_container(self, ws: WorkspaceState, kind: str, entry: dict) -> None:
        versions = entry["versions"]
        live = [v for v in versions.values() if not v["properties"].get("isArchived")]
        latest = max(live or versions.values(), key=lambda v: v["systemData"]["createdAt"], default=None)
        numeric = [int(k) for k in versions if k.isdigit()]
        entry["container"]["properties"]["latestVersion"] = latest["name"] if latest else None
        entry["container"]["properties"]["nextVersion"] = str(max(numeric) + 1) if numeric else "1"

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}")
    def ml_list_asset_containers(self, req: Request) -> Response:
        ws = self._ws(req)
        kind = req.match["kind"].lower()
        items = [e["container"] for e in ws.assets.get(kind, {}).values()]
        return json_response({"value": self._list_view(items, req), "nextLink": None})

    @staticmethod
    def _list_view(items: list[dict], req: Request) -> list[dict]:
        view = (req.query.get("listviewtype") or "ActiveOnly").lower()
        if view == "activeonly":
            return [i for i in items if not i["properties"].get("isArchived")]
        if view == "archivedonly":
            return [i for i in items if i["properties"].get("isArchived")]
        return items

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}")
    def ml_get_asset_container(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response(self._asset_entry(ws, req.match["kind"].lower(), req.match["name"])["container"])

    @route("PUT", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}")
    def ml_put_asset_container(self, req: Request) -> Response:
        ws = self._ws(req)
        kind, name = req.match["kind"].lower(), req.match["name"]
        entry = self._ensure_container(ws, kind, name, req)
        props = (req.json().get("properties") or {})
        for k in ("description", "tags", "properties", "isArchived"):
            if k in props:
                entry["container"]["properties"][k] = props[k]
        return json_response(entry["container"])

    def _ensure_container(self, ws: WorkspaceState, kind: str, name: str, req: Request) -> dict:
        coll = ws.assets.setdefault(kind, {})
        entry = coll.get(name.lower())
        if entry is None:
            entry = {"container": {"id": ws.child_id(kind, name), "name": name, "type": self._kind_type(kind),
                                   "properties": {"description": None, "tags": {}, "properties": {},
                                                  "isArchived": False, "latestVersion": None,
                                                  "nextVersion": "1", "provisioningState": "Succeeded"},
                                   "systemData": self._system_data(req)},
                     "versions": {}}
            coll[name.lower()] = entry
        return entry

    @route("DELETE", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}")
    def ml_delete_asset_container(self, req: Request) -> Response:
        ws = self._ws(req)
        ws.assets.get(req.match["kind"].lower(), {}).pop(req.match["name"].lower(), None)
        return Response(200)

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions")
    def ml_list_asset_versions(self, req: Request) -> Response:
        ws = self._ws(req)
        kind = req.match["kind"].lower()
        entry = ws.assets.get(kind, {}).get(req.match["name"].lower())
        items = list(entry["versions"].values()) if entry else []
        items = self._list_view(items, req)
        if req.query.get("hash"):
            items = [v for v in items if (v["properties"].get("properties") or {}).get("hash_sha256")
                     == req.query["hash"]]
        order = (req.query.get("$orderby") or "").lower()
        items.sort(key=lambda v: v["systemData"]["createdAt"], reverse="desc" in order or not order)
        top = req.query.get("$top")
        if top:
            items = items[: int(top)]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions/{version}")
    def ml_get_asset_version(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response(self._asset_version(ws, req.match["kind"].lower(), req.match["name"],
                                                 req.match["version"]))

    # fields that make a version's content: changing them under an existing version is refused
    _IMMUTABLE = {
        "environments": ("image", "condaFile", "build", "osType", "inferenceConfig"),
        "models": ("modelUri", "modelType"),
        "codes": ("codeUri",),
        "data": ("dataUri", "dataType"),
        "components": ("componentSpec",),
    }

    @route("PUT", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions/{version}")
    def ml_put_asset_version(self, req: Request) -> Response:
        ws = self._ws(req)
        kind, name, version = req.match["kind"].lower(), req.match["name"], req.match["version"]
        props = copy.deepcopy(req.json().get("properties") or {})
        self._validate_asset(ws, kind, name, version, props)
        entry = self._ensure_container(ws, kind, name, req)
        current = entry["versions"].get(version)
        if current is not None:
            changed = [f for f in self._IMMUTABLE[kind]
                       if f in props and props.get(f) != current["properties"].get(f)]
            if changed:
                raise ApiError(409, "UserError",
                               f"A {kind.rstrip('s')} version '{name}:{version}' already exists with different "
                               f"{', '.join(changed)}. Only description, tags, properties and isArchived can be "
                               "updated; register the new content as a new version.")
            merged = {**current["properties"], **{k: v for k, v in props.items()
                                                   if k in ("description", "tags", "properties", "isArchived",
                                                            "stage")}}
            current["properties"] = merged
            current["systemData"] = self._system_data(req, current["systemData"])
            return json_response(current, 200)
        props.setdefault("description", None)
        props.setdefault("tags", {})
        props.setdefault("properties", {})
        props.setdefault("isArchived", False)
        props.setdefault("isAnonymous", False)
        props["provisioningState"] = "Succeeded"
        if kind == "environments":
            props.setdefault("osType", "Linux")
            props.setdefault("environmentType", "UserCreated")
            props.setdefault("autoRebuild", "OnBaseImageUpdate")
        if kind == "models":
            props.setdefault("modelType", "custom_model")
            props.setdefault("flavors", {})
        vjson = {"id": ws.child_id(kind, name, "versions", version), "name": version,
                 "type": self._kind_type(kind) + "/versions", "properties": props,
                 "systemData": self._system_data(req)}
        entry["versions"][version] = vjson
        self._refresh_container(ws, kind, entry)
        return json_response(vjson, 201)

    def _validate_asset(self, ws: WorkspaceState, kind: str, name: str, version: str, props: dict) -> None:
        if not re.match(r"^[A-Za-z0-9_][-A-Za-z0-9_.]{0,254}$", name):
            raise bad_request(f"Asset name '{name}' is invalid.", code="UserError")
        if kind == "environments" and not (props.get("image") or props.get("build")):
            raise bad_request("Environment must specify either image or build.", code="UserError")
        if kind == "models" and not props.get("modelUri"):
            raise bad_request("Model must specify modelUri.", code="UserError")
        if kind == "codes" and not props.get("codeUri"):
            raise bad_request("Code must specify codeUri.", code="UserError")

    @route("DELETE", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions/{version}")
    def ml_delete_asset_version(self, req: Request) -> Response:
        ws = self._ws(req)
        entry = ws.assets.get(req.match["kind"].lower(), {}).get(req.match["name"].lower())
        if entry and entry["versions"].pop(req.match["version"], None) is not None:
            self._refresh_container(ws, req.match["kind"].lower(), entry)
            return Response(200)
        return Response(204)

    @route("POST", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions/{version}/startPendingUpload")
    def ml_start_pending_upload(self, req: Request) -> Response:
        ws = self._ws(req)
        account = self.storage_accounts[ws.storage_account]
        # Like Azure: a fresh container in the workspace storage account, handed out with a SAS.
        container = uuid.uuid4().hex
        self._create_container(account, container, {})
        blob_uri = f"https://{account['name']}.blob.core.windows.net/{container}"
        sas = self.make_sas(account["name"], container)
        return json_response({
            "blobReferenceForConsumption": {
                "blobUri": blob_uri,
                "storageAccountArmId": ws.json["properties"]["storageAccount"],
                "credential": {"credentialType": "SAS", "sasUri": f"{blob_uri}?{sas}"},
            },
            "pendingUploadId": req.json().get("pendingUploadId") or str(uuid.uuid4()),
            "pendingUploadType": "TemporaryBlobReference",
        })

    def _resolve_asset_ref(self, ws: WorkspaceState, ref: str | None, kind: str) -> dict | None:
        """An ARM id (or azureml:name:version) of an asset in this workspace -> its version JSON, or raise."""
        if not ref:
            return None
        m = re.search(rf"/{kind}/([^/]+)/versions/([^/]+)$", ref, re.IGNORECASE)
        if m is None:
            m2 = re.match(r"^(?:azureml:)?([^:/]+):([^:/]+)$", ref)
            if not m2:
                raise bad_request(f"Invalid {kind} reference '{ref}'.", code="UserError")
            name, version = m2.group(1), m2.group(2)
        else:
            name, version = m.group(1), m.group(2)
            if f"/workspaces/{ws.name}/".lower() not in ref.lower() and "/registries/" not in ref.lower():
                raise bad_request(f"The {kind} '{ref}' does not belong to workspace '{ws.name}'.", code="UserError")
            if "/registries/" in ref.lower():
                return {"name": version, "properties": {}}
        try:
            return self._asset_version(ws, kind, name, version)
        except ApiError:
            raise bad_request(f"The {kind[:-1] if kind != 'data' else 'data'} asset '{name}:{version}' referenced "
                              f"by the deployment was not found in workspace '{ws.name}'.", code="UserError")

    # ------------------------------------------------------------------ batch endpoints

    def _endpoint(self, ws: WorkspaceState, name: str) -> dict:
        ep = ws.endpoints.get(name.lower())
        if ep is None:
            raise not_found(f"Batch endpoint '{name}' was not found in workspace '{ws.name}'.",
                            code="UserError")
        return ep

    def _endpoint_name_taken(self, ws: WorkspaceState, name: str) -> bool:
        if name.lower() in {n.lower() for n in self.taken_endpoint_names}:
            return True
        for other in self.workspaces.values():
            if other is ws or other.location != ws.location:
                continue
            if name.lower() in other.endpoints:
                return True
        return False

    @route("GET", "arm", WS + "/batchEndpoints")
    def ml_list_endpoints(self, req: Request) -> Response:
        ws = self._ws(req)
        return json_response({"value": list(ws.endpoints.values()), "nextLink": None})

    @route("GET", "arm", WS + "/batchEndpoints/{ep}")
    def ml_get_endpoint(self, req: Request) -> Response:
        return json_response(self._endpoint(self._ws(req), req.match["ep"]))

    def _check_tags(self, tags: dict | None, what: str) -> None:
        bad = [k for k, v in (tags or {}).items() if v is None or v == ""]
        if bad:
            errors = ", ".join(f'{{"PropertyName": "Tags.{k}", "ErrorMessage": "Tag values must not be null or '
                               f'empty."}}' for k in bad)
            raise bad_request(f"The {what} request provided has the following validation errors. Please resolve "
                              f"them and try again. Errors: [{errors}]", code="UserError")

    @route("PUT", "arm", WS + "/batchEndpoints/{ep}")
    def ml_put_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["ep"]
        if not (3 <= len(name) <= 32) or not ENDPOINT_NAME_RE.match(name):
            raise bad_request(f"Endpoint name '{name}' is invalid. It must be 3-32 characters, start with a letter, "
                              "and contain only letters, digits and '-' (not at the end).", code="UserError")
        body = req.json()
        current = ws.endpoints.get(name.lower())
        if current is None and self._endpoint_name_taken(ws, name):
            raise bad_request(f"The specified endpoint name '{name}' is not available. Endpoint names must be unique "
                              "within the region. Please choose a different name and try again.", code="UserError")
        self._check_tags(body.get("tags"), "Endpoint")
        props = copy.deepcopy(body.get("properties") or {})
        default = (props.get("defaults") or {}).get("deploymentName")
        if default and default.lower() not in ws.deployments.get(name.lower(), {}):
            raise bad_request(f"The default deployment '{default}' does not exist under batch endpoint '{name}'. "
                              "Create the deployment first.", code="UserError")
        props.setdefault("authMode", "AADToken")
        props["defaults"] = {"deploymentName": default} if default else (
            current["properties"].get("defaults") if current and "defaults" not in (body.get("properties") or {})
            else {"deploymentName": None})
        ep_name = current["name"] if current else name
        props["scoringUri"] = f"https://{ep_name.lower()}.{ws.location}.inference.ml.azure.com/jobs"
        props["swaggerUri"] = None
        props["provisioningState"] = "Creating" if current is None else "Updating"
        props.setdefault("properties", {})
        props["properties"].setdefault("BatchEndpointCreationApiVersion", "2024-10-01")
        endpoint = {
            "id": ws.child_id("batchEndpoints", ep_name), "name": ep_name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints",
            "location": ws.location, "tags": body.get("tags") or {}, "kind": body.get("kind"),
            "identity": body.get("identity") or {"type": "SystemAssigned", "principalId": str(uuid.uuid4()),
                                                 "tenantId": self._subscription(ws.sub)["tenant"]},
            "properties": props,
            "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        ws.endpoints[name.lower()] = endpoint
        ws.deployments.setdefault(name.lower(), {})
        return self._accepted_put(req, ws, endpoint, current)

    @route("PATCH", "arm", WS + "/batchEndpoints/{ep}")
    def ml_patch_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        body = req.json()
        if body.get("tags") is not None:
            self._check_tags(body["tags"], "Endpoint")
            ep["tags"] = body["tags"]
        default = ((body.get("properties") or {}).get("defaults") or {}).get("deploymentName")
        if default:
            if default.lower() not in ws.deployments.get(ep["name"].lower(), {}):
                raise bad_request(f"The default deployment '{default}' does not exist under batch endpoint "
                                  f"'{ep['name']}'.", code="UserError")
            ep["properties"]["defaults"] = {"deploymentName": default}
        headers = self._start_lro(req, location=ws.location)
        return json_response(ep, 202, headers)

    @route("DELETE", "arm", WS + "/batchEndpoints/{ep}")
    def ml_delete_endpoint(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["ep"].lower()
        ep = ws.endpoints.get(name)
        if ep is None:
            return Response(204)
        ep["properties"]["provisioningState"] = "Deleting"

        def done():
            ws.endpoints.pop(name, None)
            ws.deployments.pop(name, None)

        def failed(_e):
            ep["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=done, on_failure=failed, location=ws.location,
                                  location_header=True)
        return Response(202, None, headers)

    @route("POST", "arm", WS + "/batchEndpoints/{ep}/listkeys")
    def ml_endpoint_keys(self, req: Request) -> Response:
        self._endpoint(self._ws(req), req.match["ep"])
        raise bad_request("Keys are not supported for batch endpoints (authMode AADToken).", code="UserError")

    # ------------------------------------------------------------------ batch deployments

    @route("GET", "arm", WS + "/batchEndpoints/{ep}/deployments")
    def ml_list_deployments(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        return json_response({"value": list(ws.deployments.get(req.match["ep"].lower(), {}).values()),
                              "nextLink": None})

    @route("GET", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_get_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        dep = ws.deployments.get(req.match["ep"].lower(), {}).get(req.match["dep"].lower())
        if dep is None:
            raise not_found(f"Deployment '{req.match['dep']}' was not found under batch endpoint "
                            f"'{req.match['ep']}'.", code="UserError")
        return json_response(dep)

    @route("PUT", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_put_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        name = req.match["dep"]
        if not (3 <= len(name) <= 32) or not ENDPOINT_NAME_RE.match(name):
            raise bad_request(f"Deployment name '{name}' is invalid. It must be 3-32 characters, start with a "
                              "letter, and contain only letters, digits and '-'.", code="UserError")
        body = req.json()
        self._check_tags(body.get("tags"), "Deployment")
        props = copy.deepcopy(body.get("properties") or {})
        compute = props.get("compute")
        if compute:
            cname = compute.rstrip("/").split("/")[-1]
            if cname.lower() not in ws.computes:
                raise bad_request(f"Compute '{cname}' referenced by deployment '{name}' was not found in workspace "
                                  f"'{ws.name}'.", code="UserError")
        model = props.get("model") or {}
        if model.get("assetId"):
            self._resolve_asset_ref(ws, model["assetId"], "models")
        if props.get("environmentId"):
            self._resolve_asset_ref(ws, props["environmentId"], "environments")
        code = (props.get("codeConfiguration") or {}).get("codeId")
        if code:
            self._resolve_asset_ref(ws, code, "codes")
        current = ws.deployments.get(ep["name"].lower(), {}).get(name.lower())
        props.setdefault("deploymentConfiguration", None)
        if props.get("deploymentConfiguration") is None:
            props.setdefault("outputAction", "AppendRow")
            props.setdefault("outputFileName", "predictions.csv")
            props.setdefault("miniBatchSize", 10)
            props.setdefault("maxConcurrencyPerInstance", 1)
            props.setdefault("errorThreshold", -1)
            props.setdefault("loggingLevel", "Info")
            props.setdefault("retrySettings", {"maxRetries": 3, "timeout": "PT30S"})
            props.setdefault("resources", {"instanceCount": 1})
        props["provisioningState"] = "Creating" if current is None else "Updating"
        dep = {
            "id": ws.child_id("batchEndpoints", ep["name"], "deployments", name), "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/deployments",
            "location": ws.location, "tags": body.get("tags") or {}, "kind": body.get("kind"),
            "properties": props, "systemData": self._system_data(req, (current or {}).get("systemData")),
        }
        ws.deployments.setdefault(ep["name"].lower(), {})[name.lower()] = dep
        return self._accepted_put(req, ws, dep, current)

    @route("PATCH", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_patch_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        self._endpoint(ws, req.match["ep"])
        dep = ws.deployments.get(req.match["ep"].lower(), {}).get(req.match["dep"].lower())
        if dep is None:
            raise not_found(f"Deployment '{req.match['dep']}' was not found.", code="UserError")
        body = req.json()
        if body.get("tags") is not None:
            dep["tags"] = body["tags"]
        for k, v in (body.get("properties") or {}).items():
            dep["properties"][k] = v
        headers = self._start_lro(req, location=ws.location)
        return json_response(dep, 202, headers)

    @route("DELETE", "arm", WS + "/batchEndpoints/{ep}/deployments/{dep}")
    def ml_delete_deployment(self, req: Request) -> Response:
        ws = self._ws(req)
        ep = self._endpoint(ws, req.match["ep"])
        deps = ws.deployments.get(ep["name"].lower(), {})
        dep = deps.get(req.match["dep"].lower())
        if dep is None:
            return Response(204)
        default = (ep["properties"].get("defaults") or {}).get("deploymentName")
        if default and default.lower() == dep["name"].lower() and len(deps) > 1:
            raise bad_request(f"Deployment '{dep['name']}' is the default deployment of endpoint '{ep['name']}'. "
                              "Change the default before deleting it.", code="UserError")

        def done():
            deps.pop(dep["name"].lower(), None)
            if default and default.lower() == dep["name"].lower():
                ep["properties"]["defaults"] = {"deploymentName": None}

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)

    # ------------------------------------------------------------------ schedules

    @route("GET", "arm", WS + "/schedules")
    def ml_list_schedules(self, req: Request) -> Response:
        ws = self._ws(req)
        items = list(ws.schedules.values())
        view = (req.query.get("listviewtype") or "EnabledOnly").lower()
        if view == "enabledonly":
            items = [s for s in items if s["properties"].get("isEnabled", True)]
        elif view == "disabledonly":
            items = [s for s in items if not s["properties"].get("isEnabled", True)]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/schedules/{name}")
    def ml_get_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        s = ws.schedules.get(req.match["name"].lower())
        if s is None:
            raise not_found(f"Schedule '{req.match['name']}' was not found.", code="UserError")
        return json_response(s)

    @route("PUT", "arm", WS + "/schedules/{name}")
    def ml_put_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        body = req.json()
        props = copy.deepcopy(body.get("properties") or {})
        trigger = props.get("trigger") or {}
        ttype = trigger.get("triggerType")
        if ttype not in ("Recurrence", "Cron"):
            raise bad_request(f"Unsupported triggerType '{ttype}'.", code="UserError")
        if ttype == "Recurrence":
            freq = trigger.get("frequency")
            if (freq or "").lower() not in ("minute", "hour", "day", "week", "month"):
                raise bad_request(f"Invalid recurrence frequency '{freq}'.", code="UserError")
            if int(trigger.get("interval") or 0) < 1:
                raise bad_request("Recurrence interval must be a positive integer.", code="UserError")
        action = props.get("action") or {}
        if not action.get("actionType"):
            raise bad_request("Schedule action is required.", code="UserError")
        current = ws.schedules.get(name.lower())
        props.setdefault("isEnabled", True)
        props["provisioningState"] = "Creating" if current is None else "Updating"
        sched = {"id": ws.child_id("schedules", name), "name": name,
                 "type": "Microsoft.MachineLearningServices/workspaces/schedules", "properties": props,
                 "systemData": self._system_data(req, (current or {}).get("systemData"))}
        ws.schedules[name.lower()] = sched

        def ok():
            sched["properties"]["provisioningState"] = "Succeeded"

        def failed(_e):
            sched["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=ok, on_failure=failed, location=ws.location)
        snapshot = copy.deepcopy(sched)
        return json_response(snapshot, 200 if current else 201, headers)

    @route("DELETE", "arm", WS + "/schedules/{name}")
    def ml_delete_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"].lower()
        if name not in ws.schedules:
            return Response(204)

        def done():
            ws.schedules.pop(name, None)

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)
