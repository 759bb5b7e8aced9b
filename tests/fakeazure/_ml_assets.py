"""Azure ML assets (environments, models, codes, data, components): containers and immutable versions,
``startPendingUpload``, and resolving asset references of deployments."""

from __future__ import annotations

import copy
import re
import uuid

from ._core import WS
from ._http import ApiError, Request, Response, bad_request, json_response, not_found, route, storage_suffix
from ._ml_workspaces import WorkspaceState

ASSET_KINDS = "(?:environments|models|codes|data|components)"


class AssetsMixin:
    """``WorkspaceState.assets[kind][name] = {"container": ..., "versions": {...}}``."""

    # ------------------------------------------------------------------ lookups

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

    @staticmethod
    def _list_view(items: list[dict], req: Request) -> list[dict]:
        view = (req.query.get("listviewtype") or "ActiveOnly").lower()
        if view == "activeonly":
            return [i for i in items if not i["properties"].get("isArchived")]
        if view == "archivedonly":
            return [i for i in items if i["properties"].get("isArchived")]
        return items

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

    # ------------------------------------------------------------------ containers

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}")
    def ml_list_asset_containers(self, req: Request) -> Response:
        ws = self._ws(req)
        kind = req.match["kind"].lower()
        items = [e["container"] for e in ws.assets.get(kind, {}).values()]
        return json_response({"value": self._list_view(items, req), "nextLink": None})

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

    @route("DELETE", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}")
    def ml_delete_asset_container(self, req: Request) -> Response:
        ws = self._ws(req)
        ws.assets.get(req.match["kind"].lower(), {}).pop(req.match["name"].lower(), None)
        return Response(200)

    # ------------------------------------------------------------------ versions

    @route("GET", "arm", WS + "/{kind:" + ASSET_KINDS + "}/{name}/versions")
    def ml_list_asset_versions(self, req: Request) -> Response:
        ws = self._ws(req)
        kind = req.match["kind"].lower()
        entry = ws.assets.get(kind, {}).get(req.match["name"].lower())
        items = list(entry["versions"].values()) if entry else []
        if kind == "codes" and req.query.get("hash"):
            # Azure (Code Versions - List): "return CodeVersion assets with specified content hash
            # value, regardless of name" - how azure-ai-ml finds anonymous code it already uploaded
            items = [v for e in ws.assets.get(kind, {}).values() for v in e["versions"].values()]
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
        blob_uri = f"https://{account['name']}.blob.{storage_suffix(req.host)}/{container}"
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
