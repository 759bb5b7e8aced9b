"""ARM: storage accounts (global names, ``listKeys``, blob containers via ``blobServices/default/containers``)."""

from __future__ import annotations

import re

from ._core import RG, now_iso
from ._http import ApiError, Request, Response, json_response, route, storage_suffix

STORAGE_NAME_RE = re.compile(r"^[a-z0-9]{3,24}$")


class StorageAccountsMixin:
    """Creating a storage account also creates its blob data plane (_blob_accounts)."""

    def _create_storage_account(self, sub: str, rg: str, name: str, body: dict, arm_host: str = "") -> dict:
        if not STORAGE_NAME_RE.match(name):
            raise ApiError(400, "AccountNameInvalid",
                           f"{name} is not a valid storage account name. Storage account name must be between 3 "
                           "and 24 characters in length and use numbers and lower-case letters only.")
        group = self._rg(sub, rg)
        arm_id = f"/subscriptions/{sub}/resourceGroups/{group['name']}/providers/Microsoft.Storage/storageAccounts/{name}"
        existing = self.resources.get(arm_id.lower())
        if existing is None and (name in self.taken_storage_account_names or name in self.storage_accounts):
            raise ApiError(409, "StorageAccountAlreadyTaken",
                           f"The storage account named {name} is already taken.")
        out = self._generic_resource_json(sub, rg, "Microsoft.Storage", "storageAccounts", name, body)
        out.setdefault("sku", {"name": "Standard_LRS", "tier": "Standard"})
        out.setdefault("kind", "StorageV2")
        props = out["properties"]
        props.update({
            "primaryEndpoints": {k: f"https://{name}.{k}.{storage_suffix(arm_host)}/"
                                 for k in ("blob", "file", "queue", "table", "dfs", "web")},
            "primaryLocation": out["location"],
            "statusOfPrimary": "available",
            "creationTime": (existing or {}).get("properties", {}).get("creationTime", now_iso()),
            "accessTier": props.get("accessTier", "Hot"),
            "supportsHttpsTrafficOnly": props.get("supportsHttpsTrafficOnly", True),
            "allowBlobPublicAccess": props.get("allowBlobPublicAccess", False),
            "minimumTlsVersion": props.get("minimumTlsVersion", "TLS1_2"),
            "isHnsEnabled": bool(props.get("isHnsEnabled") or False),
        })
        self._ensure_blob_account(name)
        return self._put_resource(arm_id, out)

    @route("POST", "arm", RG + "/providers/Microsoft.Storage/storageAccounts/{name}/listKeys")
    def arm_storage_list_keys(self, req: Request) -> Response:
        res = self._generic_get(req.match["sub"], req.match["rg"], "Microsoft.Storage", "storageAccounts",
                                req.match["name"])
        account = self.storage_accounts[res["name"].lower()]
        return json_response({"keys": [
            {"keyName": "key1", "value": account["key"], "permissions": "FULL", "creationTime": account["created"]},
            {"keyName": "key2", "value": account["key2"], "permissions": "FULL", "creationTime": account["created"]},
        ]})

    @route("GET,PUT,DELETE", "arm", RG + "/providers/Microsoft.Storage/storageAccounts/{name}/blobServices/default"
                                         "/containers/{container}")
    def arm_storage_container(self, req: Request) -> Response:
        res = self._generic_get(req.match["sub"], req.match["rg"], "Microsoft.Storage", "storageAccounts",
                                req.match["name"])
        account = self.storage_accounts[res["name"].lower()]
        cname = req.match["container"]
        cid = f"{res['id']}/blobServices/default/containers/{cname}"
        if req.method == "PUT":
            created = cname not in account["containers"]
            if created:
                self._create_container(account, cname, {})
            meta = (req.json().get("properties") or {}).get("metadata") or {}
            account["containers"][cname]["metadata"].update(meta)
        container = account["containers"].get(cname)
        if container is None:
            raise ApiError(404, "ContainerNotFound", "The specified container does not exist.")
        if req.method == "DELETE":
            del account["containers"][cname]
            return Response(200)
        body = {"id": cid, "name": cname, "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                "properties": {"publicAccess": "None", "metadata": container["metadata"],
                               "lastModifiedTime": container["modified"], "leaseState": "Available"}}
        return json_response(body, 201 if req.method == "PUT" and created else 200)
