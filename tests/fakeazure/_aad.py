"""Microsoft Entra ID (AAD): what MSAL asks for so ClientSecretCredential gets a token offline."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

from ._http import ApiError, Request, Response, json_response, route

AUTHORITY = "https://login.microsoftonline.com"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def make_token(claims: dict) -> str:
    """An unsigned JWT: header.payload.signature (the fake never checks signatures)."""
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT', 'kid': 'fakeazure'})}.{_b64(claims)}.ZmFrZWF6dXJl"


def decode_token(token: str) -> dict | None:
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        return json.loads(base64.urlsafe_b64decode(payload))
    except Exception:  # noqa: BLE001 - anything unparsable is "not our token"
        return None


def _aad_error(status: int, error: str, description: str) -> ApiError:
    code = re.match(r"AADSTS(\d+)", description)
    body = {"error": error, "error_description": description, "error_codes": [int(code.group(1))] if code else [],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}
    return ApiError(status, error, description, body=body)


class AadMixin:
    """Routes for login.microsoftonline.com. Needs self.tenants, self.service_principals, self.tokens_issued."""

    def _openid_config(self, tenant: str) -> dict:
        base = f"{AUTHORITY}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{AUTHORITY}/{tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "tid", "oid"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _known_tenant(self, tenant: str) -> bool:
        return tenant.lower() in {t.lower() for t in self.tenants} or tenant.lower() in (
            "common", "organizations", "consumers")

    @route("GET", "aad", "/common/discovery/instance")
    def aad_instance_discovery(self, req: Request) -> Response:
        endpoint = req.query.get("authorization_endpoint", f"{AUTHORITY}/common/oauth2/authorize")
        tenant = endpoint.split("/")[3] if endpoint.count("/") >= 3 else "common"
        return json_response({
            "tenant_discovery_endpoint": f"{AUTHORITY}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{
                "preferred_network": "login.microsoftonline.com",
                "preferred_cache": "login.windows.net",
                "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com",
                            "sts.windows.net"],
            }],
        })

    @route("GET", "aad", "/{tenant}/v2.0/.well-known/openid-configuration")
    @route("GET", "aad", "/{tenant}/.well-known/openid-configuration")
    def aad_openid_configuration(self, req: Request) -> Response:
        tenant = req.match["tenant"]
        if not self._known_tenant(tenant):
            raise _aad_error(400, "invalid_tenant",
                             f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct "
                             "tenant ID and are signing into the correct cloud.")
        return json_response(self._openid_config(tenant))

    @route("GET", "aad", "/{tenant}/discovery/v2.0/keys")
    def aad_keys(self, req: Request) -> Response:
        return json_response({"keys": []})

    @route("POST", "aad", "/{tenant}/oauth2/v2.0/token")
    def aad_token(self, req: Request) -> Response:
        tenant = req.match["tenant"]
        form = req.form()  # holds the secret: never logged, never stored
        if not self._known_tenant(tenant) or tenant.lower() in ("common", "organizations", "consumers"):
            raise _aad_error(400, "invalid_request",
                             f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct "
                             "tenant ID and are signing into the correct cloud.")
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        if grant != "client_credentials":
            raise _aad_error(400, "unsupported_grant_type",
                             f"AADSTS70003: The fake only supports client_credentials, not '{grant}'.")
        if not client_id:
            raise _aad_error(400, "invalid_request", "AADSTS900144: The request body must contain the following "
                                                     "parameter: 'client_id'.")
        expected = self.service_principals.get(client_id) if self.service_principals is not None else None
        if self.service_principals is not None and client_id not in self.service_principals:
            raise _aad_error(400, "unauthorized_client",
                             f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                             f"directory '{tenant}'.")
        secret = form.get("client_secret")
        if secret is None and "client_assertion" not in form:
            raise _aad_error(401, "invalid_client", "AADSTS7000218: The request body must contain the following "
                                                    "parameter: 'client_assertion' or 'client_secret'.")
        if expected is not None and secret != expected:
            raise _aad_error(401, "invalid_client",
                             f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                             f"request is the client secret value, not the client secret ID, for a secret added to "
                             f"app '{client_id}'.")
        scope = form.get("scope", "")
        resource = next((s for s in scope.split() if s.endswith("/.default")), scope.split()[0] if scope else "")
        audience = resource[: -len("/.default")] if resource.endswith("/.default") else resource
        now = int(time.time())
        claims = {
            "aud": audience, "iss": f"https://sts.windows.net/{tenant}/", "iat": now, "nbf": now,
            "exp": now + self.token_lifetime, "appid": client_id, "appidacr": "1", "idtyp": "app",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fakeazure:{tenant}:{client_id}")),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fakeazure:{tenant}:{client_id}")),
            "tid": tenant, "ver": "1.0",
        }
        self.tokens_issued.append({"tenant": tenant, "client_id": client_id, "audience": audience})
        return json_response({"token_type": "Bearer", "expires_in": self.token_lifetime,
                              "ext_expires_in": self.token_lifetime, "access_token": make_token(claims)})
