"""Azure ML datastores: the system datastores of a new workspace, PUT/GET/list/DELETE and ``listSecrets``
(secrets are stripped from every GET)."""

from __future__ import annotations

import copy
import re
import uuid

from ._core import WS
from ._http import Request, Response, bad_request, json_response, not_found, route
from ._ml_workspaces import WorkspaceState

DATASTORE_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")


class DatastoresMixin:
    """Datastores; their secrets live apart, in ``WorkspaceState.datastore_secrets``."""

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
