"""Azure ML workspaces (Microsoft.MachineLearningServices/workspaces): the per-workspace state every other
_ml_* module works on, creation (by PUT or template), soft delete / purge / recover, keys."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import _catalog
from ._core import MLP, RG, SUB, WS
from ._http import ApiError, Request, Response, json_response, not_found, route

WS_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$")

SOFT_DELETED_MESSAGE = "Soft-deleted workspace exists. Please purge or recover it. https://aka.ms/wsoftdelete"


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


class WorkspacesMixin:
    """Workspaces; ``self.workspaces`` maps (sub, rg, name), lower-cased, to WorkspaceState."""

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

    # ------------------------------------------------------------------ creation, deletion, direct set-up

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

    def _synthetic_request(self, sub: str) -> Request:
        return Request(method="PUT", url="https://management.azure.com/", scheme="https",
                       host="management.azure.com", path="/", raw_path="/", query={}, headers={}, body=b"",
                       kind="arm", match={"sub": sub})

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

    # ------------------------------------------------------------------ routes

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
