"""Blob data plane auth: SharedKey (signature verified), SAS (present and not expired), bearer tokens for
https://storage.azure.com (refused with 403 AuthorizationPermissionMismatch without the blob data action at the
account, see _arm_authorization, and for accounts in ``blob_rbac_denied``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse

from ._arm_authorization import BLOBS, permits
from ._blob_accounts import blob_error
from ._http import Request

_HEADER_ORDER_IGNORED = str.maketrans("", "", "-")


class BlobAuthMixin:
    """Checked by the blob entry point before anything else."""

    def _check_blob_auth(self, req: Request, acc: dict) -> None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("SharedKey "):
            who, _, sig = auth[len("SharedKey "):].partition(":")
            if who.lower() != acc["name"]:
                raise blob_error(403, "AuthenticationFailed", "Server failed to authenticate the request. The account "
                                                         "name in the Authorization header does not match.")
            if self.verify_shared_key and not self._shared_key_ok(req, acc, sig):
                raise blob_error(403, "AuthenticationFailed",
                            "Server failed to authenticate the request. Make sure the value of Authorization header "
                            "is formed correctly including the signature.")
            return
        if auth.lower().startswith("bearer "):
            claims = self._bearer_claims(req) or {}
            aud = (claims.get("aud") or "").rstrip("/")
            if aud not in ("https://storage.azure.com", f"https://{acc['name']}.blob.core.windows.net"):
                raise blob_error(401, "InvalidAuthenticationInfo", f"Audience validation failed. Audience did not "
                                                              f"match: '{aud}'.")
            action = f"{BLOBS}/" + {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(req.method, "write")
            scope = self.storage_scope(acc["name"]) or "/"
            if acc["name"] in self.blob_rbac_denied or not permits(
                    self.effective_permissions(claims.get("oid", ""), scope), action, data=True):
                raise blob_error(403, "AuthorizationPermissionMismatch",
                            "This request is not authorized to perform this operation using this permission.")
            return
        if "sig" in req.query:
            se = req.query.get("se")
            if se and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > se:
                raise blob_error(403, "AuthenticationFailed", "Signed expiry time has passed.")
            return
        raise blob_error(401, "NoAuthenticationInformation",
                    "Server failed to authenticate the request. Please refer to the information in the "
                    "www-authenticate header.")

    def _shared_key_ok(self, req: Request, acc: dict, sig: str) -> bool:
        h = {k: v for k, v in req.headers.items() if v}
        if h.get("content-length") == "0":
            del h["content-length"]
        fixed = [h.get(x, "") for x in ("content-encoding", "content-language", "content-length", "content-md5",
                                        "content-type", "date", "if-modified-since", "if-match", "if-none-match",
                                        "if-unmodified-since")]
        xms = [(k, v) for k, v in req.headers.items() if k.startswith("x-ms-")]
        query = sorted(urllib.parse.parse_qsl(urllib.parse.urlsplit(req.url).query, keep_blank_values=True))
        canon_query = "".join(f"\n{k.lower()}:{urllib.parse.unquote(v)}" for k, v in query)
        resource = f"/{acc['name']}{req.raw_path}"
        for key in (acc["key"], acc["key2"]):
            for order in (sorted(xms), sorted(xms, key=lambda kv: (kv[0].translate(_HEADER_ORDER_IGNORED), kv[0]))):
                canon_headers = "".join(f"{k}:{v}\n" for k, v in order)
                to_sign = req.method + "\n" + "\n".join(fixed) + "\n\n" + canon_headers + resource + canon_query
                expected = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode("utf-8"),
                                                     hashlib.sha256).digest()).decode()
                if hmac.compare_digest(expected, sig):
                    return True
        return False
