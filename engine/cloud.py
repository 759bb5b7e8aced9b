"""Signing in to Azure and the listings the wizard offers: subscriptions, regions, VM sizes.

Cheap to import: the Azure SDKs load inside the functions. Nothing here prints; a device-code
sign-in sends its URL and code as a `SignInPrompt` event. Tokens stay inside azure-identity's
in-memory credential objects: amlbatch never writes one anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from engine.errors import AmlBatchError

METHODS = ("cli", "device_code", "browser", "environment", "managed_identity", "default")
ARM_SCOPE = "https://management.azure.com/.default"

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
            verify: bool = True) -> Any:
    """A credential for `method` (one of METHODS). With `verify`, a management token is fetched
    once so a sign-in problem shows here with what to do, not later as a failed step."""
    if method not in METHODS:
        raise SignInError(f"unknown sign-in method '{method}': one of {', '.join(METHODS)}")
    import azure.identity as identity

    tenant = tenant_id or None
    if method == "cli":
        credential: Any = identity.AzureCliCredential(tenant_id=tenant)
    elif method == "device_code":
        def prompt(url: str, code: str, expires_on: Any) -> None:
            if emit is not None:
                from engine.events import SignInPrompt

                emit(SignInPrompt(f"To sign in, open {url} and enter the code {code}", url=url, code=code))

        credential = identity.DeviceCodeCredential(tenant_id=tenant or "organizations", prompt_callback=prompt)
    elif method == "browser":
        credential = identity.InteractiveBrowserCredential(tenant_id=tenant)
    elif method == "environment":
        credential = identity.EnvironmentCredential()
    elif method == "managed_identity":
        credential = identity.ManagedIdentityCredential()
    else:
        credential = identity.DefaultAzureCredential(exclude_interactive_browser_credential=True,
                                                     **({"tenant_id": tenant} if tenant else {}))
    if verify:
        check_credential(credential, method)
    return credential


def check_credential(credential: Any, method: str = "default") -> None:
    """Fetch one management token; turn a failure into a sentence with what to do."""
    from azure.core.exceptions import ClientAuthenticationError

    try:
        credential.get_token(ARM_SCOPE)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SignInError(f"sign-in ({method}) failed: {first[:300]}. To fix: {_HINTS.get(method, _HINTS['default'])}") \
            from None


def list_subscriptions(credential: Any) -> list[Subscription]:
    """Every subscription the signed-in identity can see, enabled ones first."""
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    with SubscriptionClient(credential) as client:
        found = [Subscription(s.subscription_id, s.display_name or s.subscription_id, s.tenant_id or "",
                              str(getattr(s.state, "value", s.state) or ""))
                 for s in client.subscriptions.list()]
    return sorted(found, key=lambda s: (s.state.lower() != "enabled", s.name.lower()))


def list_regions(credential: Any, subscription_id: str) -> list[Region]:
    """The physical regions of the subscription, by display name."""
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    with SubscriptionClient(credential) as client:
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


def list_vm_sizes(credential: Any, subscription_id: str, region: str) -> list[VmSize]:
    """AmlCompute VM sizes of a region with the cores still free in each family's quota."""
    from azure.ai.ml import MLClient

    client = MLClient(credential, subscription_id)
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
