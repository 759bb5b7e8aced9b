"""Signing in to Azure and the listings the wizard offers: subscriptions, regions, VM sizes.

Cheap to import: the Azure SDKs load inside the functions. Nothing here prints; a device-code
sign-in sends its URL and code as a `SignInPrompt` event. Tokens stay inside azure-identity's
in-memory credential objects: amlbatch never writes one anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from engine.errors import AmlBatchError

METHODS = ("cli", "device_code", "browser", "environment", "managed_identity", "default")
ARM_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True)
class AzureCloudEndpoints:
    """Where a cloud signs in and where its Resource Manager is (the values of
    azure.identity.AzureAuthorityHosts and of `az cloud show`); the blob endpoint of a storage
    account is not here: it is read off the account (primaryEndpoints.blob)."""

    name: str
    authority: str  # Entra ID host
    arm: str  # Resource Manager endpoint
    blob_suffix: str  # only when the storage account cannot be read

    @property
    def arm_scope(self) -> str:
        return self.arm + "/.default"

    @property
    def storage_suffix(self) -> str:
        """What a datastore's `endpoint` takes: "core.windows.net", "core.chinacloudapi.cn", ..."""
        return self.blob_suffix.split(".", 1)[1]


CLOUDS = {c.name: c for c in (
    AzureCloudEndpoints("AzureCloud", "login.microsoftonline.com", "https://management.azure.com",
                        "blob.core.windows.net"),
    AzureCloudEndpoints("AzureChinaCloud", "login.chinacloudapi.cn", "https://management.chinacloudapi.cn",
                        "blob.core.chinacloudapi.cn"),
    AzureCloudEndpoints("AzureUSGovernment", "login.microsoftonline.us", "https://management.usgovcloudapi.net",
                        "blob.core.usgovcloudapi.net"),
)}


def endpoints(cloud: str = "AzureCloud") -> AzureCloudEndpoints:
    try:
        return CLOUDS[cloud or "AzureCloud"]
    except KeyError:
        raise SignInError(f"unknown Azure cloud '{cloud}': one of {', '.join(CLOUDS)}") from None

_HINTS = {
    "cli": "sign in with `az login` (add --tenant TENANT if the subscription is in another tenant)",
    "device_code": "finish the device-code sign-in in a browser before the code expires",
    "browser": "finish the sign-in in the browser window that opened; without a desktop use "
               "account.auth = \"device_code\"",
    "environment": "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or "
                   "AZURE_CLIENT_CERTIFICATE_PATH) for a service principal",
    "managed_identity": "this only works on an Azure machine with a managed identity",
    "default": "sign in with `az login`, or set the AZURE_* variables of a service principal",
}


class SignInError(AmlBatchError):
    """Signing in did not work; the message says how to fix it."""


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    tenant_id: str
    state: str


@dataclass(frozen=True)
class Region:
    name: str  # e.g. westeurope
    display_name: str  # e.g. West Europe


@dataclass(frozen=True)
class VmSize:
    name: str
    family: str
    cores: int
    memory_gb: float
    quota_left: int | None  # cores still free in the family's regional quota; None if unknown

    @property
    def fits(self) -> bool:
        """Whether one node of this size fits in the quota that is left (unknown counts as yes)."""
        return self.quota_left is None or self.quota_left >= self.cores


def sign_in(method: str, tenant_id: str = "", emit: Callable[[Any], None] | None = None,
            verify: bool = True, cloud: str = "AzureCloud") -> Any:
    """A credential for `method` (one of METHODS) in `cloud` (one of CLOUDS: its authority host).
    With `verify`, a management token is fetched once so a sign-in problem shows here with what to
    do, not later as a failed step. The Azure CLI and managed identities take no authority: `az
    cloud set` chooses the CLI's cloud, a managed identity is in the cloud of its machine."""
    if method not in METHODS:
        raise SignInError(f"unknown sign-in method '{method}': one of {', '.join(METHODS)}")
    where = endpoints(cloud)
    import azure.identity as identity

    tenant = tenant_id or None
    authority = {"authority": where.authority}
    if method == "cli":
        credential: Any = identity.AzureCliCredential(tenant_id=tenant)
    elif method == "device_code":
        def prompt(url: str, code: str, expires_on: Any) -> None:
            if emit is not None:
                from engine.events import SignInPrompt

                emit(SignInPrompt(f"To sign in, open {url} and enter the code {code}", url=url, code=code))

        credential = identity.DeviceCodeCredential(tenant_id=tenant or "organizations", prompt_callback=prompt,
                                                   **authority)
    elif method == "browser":
        credential = identity.InteractiveBrowserCredential(tenant_id=tenant, **authority)
    elif method == "environment":
        credential = identity.EnvironmentCredential(**authority)
    elif method == "managed_identity":
        credential = identity.ManagedIdentityCredential()
    else:
        credential = identity.DefaultAzureCredential(exclude_interactive_browser_credential=True, **authority,
                                                     **({"tenant_id": tenant} if tenant else {}))
    if verify:
        check_credential(credential, method, tenant_id, scope=where.arm_scope)
    return credential


def check_credential(credential: Any, method: str = "default", tenant_id: str = "", scope: str = ARM_SCOPE) -> None:
    """Fetch one management token; turn a failure into a sentence with what to do."""
    from azure.core.exceptions import AzureError

    try:
        credential.get_token(scope)
    except AzureError as exc:  # ClientAuthenticationError, or ServiceRequestError with no network
        raise SignInError(explain(exc, method, tenant_id)) from None


_NO_NETWORK = re.compile(r"Failed to resolve|Name or service not known|getaddrinfo failed|nodename nor servname|"
                         r"Temporary failure in name resolution|Network is unreachable|Connection refused|"
                         r"Max retries exceeded|timed out while connecting|ConnectTimeout", re.I)
_WRONG_TENANT = re.compile(r"AADSTS(90002|50020|700016|90072|50128|50059|500011)\b|Tenant '?[^ ']*'? not found", re.I)
_EXPIRED = re.compile(r"Timed out waiting for user to authenticate|expired_token|code_expired|AADSTS70020\b"
                      r"|device code (has )?expired", re.I)


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    while exc is not None and exc not in found:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return found


def explain(exc: BaseException, method: str, tenant_id: str = "") -> str:
    """What went wrong signing in and what fixes it, matched to the cause, not to the method."""
    from azure.core.exceptions import ServiceRequestError

    text = " ".join(str(e) for e in _causes(exc))
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300].rstrip(". ")
    head = f"sign-in ({method}) failed"
    if any(isinstance(e, (ServiceRequestError, ConnectionError)) for e in _causes(exc)) or _NO_NETWORK.search(text):
        return (f"{head}: cannot reach Azure's sign-in service (no network, or its name does not resolve). "
                "To fix: check the internet connection, and HTTPS_PROXY if a proxy is needed, then try again")
    if "Azure CLI not found" in text:
        return (f"{head}: the Azure CLI (`az`) is not installed or not on PATH. To fix: install it "
                "(https://aka.ms/installazurecli) and run `az login`, or use account.auth = \"device_code\"")
    if _EXPIRED.search(text):
        return (f"{head}: the device code expired before the sign-in was finished. To fix: sign in again "
                "and enter the new code in the browser within 15 minutes")
    if _WRONG_TENANT.search(text):
        tenant = f"'{tenant_id}'" if tenant_id else "the account's home tenant"
        return (f"{head}: the tenant {tenant} does not exist or the account is not a member of it ({first}). "
                "To fix: set account.tenant_id to the tenant of the subscription, or leave it empty for "
                "the account's home tenant")
    return f"{head}: {first}. To fix: {_HINTS.get(method, _HINTS['default'])}"


def _subscriptions_client(credential: Any, cloud: str) -> Any:
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    where = endpoints(cloud)
    return SubscriptionClient(credential, base_url=where.arm, credential_scopes=[where.arm_scope])


def list_subscriptions(credential: Any, cloud: str = "AzureCloud") -> list[Subscription]:
    """Every subscription the signed-in identity can see, enabled ones first."""
    with _subscriptions_client(credential, cloud) as client:
        found = [Subscription(s.subscription_id, s.display_name or s.subscription_id, s.tenant_id or "",
                              str(getattr(s.state, "value", s.state) or ""))
                 for s in client.subscriptions.list()]
    if not found:
        raise SignInError("signed in, but this identity sees no subscriptions. To fix: ask for a role on "
                          "one (e.g. Contributor), or sign in with the account or account.tenant_id that has "
                          "it; or type the subscription id by hand")
    return sorted(found, key=lambda s: (s.state.lower() != "enabled", s.name.lower()))


def list_regions(credential: Any, subscription_id: str, cloud: str = "AzureCloud") -> list[Region]:
    """The physical regions of the subscription, by display name."""
    with _subscriptions_client(credential, cloud) as client:
        regions = []
        for loc in client.subscriptions.list_locations(subscription_id):
            metadata = getattr(loc, "metadata", None)
            kind = str(getattr(getattr(metadata, "region_type", None), "value",
                               getattr(metadata, "region_type", "")) or "")
            if kind and kind.lower() != "physical":
                continue
            regions.append(Region(loc.name, loc.display_name or loc.name))
    return sorted(regions, key=lambda r: r.display_name.lower())


def _field(obj: Any, *names: str) -> Any:
    """Read the first present field: azure-ai-ml 1.35 entities carry the wire's camelCase names
    (`vCPUs`, `memoryGB`, `currentValue`) while the snake_case ones stay None."""
    data = obj if isinstance(obj, dict) else getattr(obj, "__dict__", {})
    for name in names:
        value = data.get(name) if isinstance(data, dict) else None
        if value is None and not isinstance(obj, dict):
            value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _usage_name(usage: Any) -> str:
    name = _field(usage, "name")
    if isinstance(name, dict):
        return str(name.get("value") or name.get("localizedValue") or "")
    value = getattr(name, "value", None)
    return str(value if value is not None else name or "")


def list_vm_sizes(credential: Any, subscription_id: str, region: str, cloud: str = "AzureCloud") -> list[VmSize]:
    """AmlCompute VM sizes of a region with the cores still free in each family's quota."""
    from azure.ai.ml import MLClient

    client = MLClient(credential, subscription_id, cloud=cloud, show_progress=False)
    sizes = list(client.compute.list_sizes(location=region, compute_type="AmlCompute"))
    left: dict[str, int] = {}
    for usage in client.compute.list_usage(location=region):
        usage_type = str(_field(usage, "type") or "").lower()
        if "/workspaces/" in usage_type:
            continue  # per-workspace usage rows; the quota is regional
        limit, current = _field(usage, "limit"), _field(usage, "currentValue", "current_value")
        if limit is None or current is None:
            continue
        name = _usage_name(usage).lower()
        if name:
            left[name] = min(left.get(name, 1 << 30), int(limit) - int(current))
    total = left.get("totaldedicatedcores")  # the region's overall cap, when Azure reports it
    result = []
    for size in sizes:
        name = str(_field(size, "name") or "")
        family = str(_field(size, "family") or "")
        cores = int(_field(size, "vCPUs", "v_cp_us", "vcpus") or 0)
        memory = float(_field(size, "memoryGB", "memory_gb") or 0)
        quota = left.get(family.lower())
        if quota is not None and total is not None:
            quota = min(quota, total)
        result.append(VmSize(name, family, cores, memory, quota))
    return sorted(result, key=lambda s: (s.cores, s.memory_gb, s.name))
