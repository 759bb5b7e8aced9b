"""Bearer-token checks for ARM and Azure ML requests, and who the caller is (for systemData)."""

from __future__ import annotations

import time

from ._aad import decode_token
from ._core import now_iso
from ._http import ApiError, Request


SOVEREIGN_AUDIENCES = {
    "management.chinacloudapi.cn": ("https://management.chinacloudapi.cn", "https://management.core.chinacloudapi.cn"),
    "management.usgovcloudapi.net": ("https://management.usgovcloudapi.net",
                                     "https://management.core.usgovcloudapi.net"),
}
ALL_SOVEREIGN = tuple(a for audiences in SOVEREIGN_AUDIENCES.values() for a in audiences)


class AuthMixin:
    """Token audience/tenant/expiry checks run by the dispatcher before every ARM and ML handler."""

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
        # each cloud's Resource Manager takes only its own audiences (a public-cloud token fails in China)
        management = SOVEREIGN_AUDIENCES.get((req.host or "").lower(),
                                             ("https://management.azure.com", "https://management.core.windows.net"))
        if req.kind == "arm" and aud not in management:
            raise ApiError(401, "InvalidAuthenticationTokenAudience",
                           f"The access token has been obtained for wrong audience or resource '{aud}'. It should "
                           "exactly match with one of the allowed audiences "
                           + ",".join(f"'{a}/'" for a in management) + ".")
        if req.kind == "ml" and aud not in management + ("https://ml.azure.com", "https://ml.azure.cn",
                                                         "https://ml.azure.us") + ALL_SOVEREIGN:
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
        self._check_arm_write(req, claims)  # AuthorizationFailed without the action (_arm_authorization)

    def _caller(self, req: Request) -> dict:
        claims = self._bearer_claims(req) or {}
        return {"oid": claims.get("oid", "00000000-0000-0000-0000-000000000000"),
                "appid": claims.get("appid", ""), "tid": claims.get("tid", self.default_tenant)}

    def _system_data(self, req: Request, created: dict | None = None) -> dict:
        who = self._caller(req)["appid"] or "fake-user"
        now = now_iso()
        base = created or {"createdAt": now, "createdBy": who, "createdByType": "Application"}
        return {**base, "lastModifiedAt": now, "lastModifiedBy": who, "lastModifiedByType": "Application"}
