"""ARM: resource providers (get, list, register)."""

from __future__ import annotations

from . import _catalog
from ._core import SUB
from ._http import Request, Response, json_response, route


class ProvidersMixin:
    """``/subscriptions/{id}/providers[/{namespace}[/register]]``."""

    def _provider_json(self, sub: str, ns: str) -> dict:
        state = self.registered_providers.get((sub.lower(), ns.lower()), "Registered")
        displays = [_catalog.REGIONS.get(l, (l,))[0] for l in self.locations]
        types = {"microsoft.machinelearningservices": ["workspaces", "workspaces/computes", "workspaces/batchEndpoints",
                                                        "locations/vmSizes", "locations/usages"],
                 "microsoft.storage": ["storageAccounts"], "microsoft.keyvault": ["vaults"]}.get(ns.lower(), [])
        return {"id": f"/subscriptions/{sub}/providers/{ns}", "namespace": ns, "registrationState": state,
                "registrationPolicy": "RegistrationRequired",
                "resourceTypes": [{"resourceType": t, "locations": displays, "apiVersions": ["2024-10-01"]}
                                  for t in types]}

    @route("GET", "arm", SUB + "/providers/{ns}")
    def arm_get_provider(self, req: Request) -> Response:
        self._subscription(req.match["sub"])
        return json_response(self._provider_json(req.match["sub"], req.match["ns"]))

    @route("GET", "arm", SUB + "/providers")
    def arm_list_providers(self, req: Request) -> Response:
        sub = req.match["sub"]
        self._subscription(sub)
        names = ["Microsoft.MachineLearningServices", "Microsoft.Storage", "Microsoft.KeyVault", "Microsoft.Insights",
                 "Microsoft.OperationalInsights", "Microsoft.ContainerRegistry", "Microsoft.Resources"]
        return json_response({"value": [self._provider_json(sub, n) for n in names]})

    @route("POST", "arm", SUB + "/providers/{ns}/register")
    def arm_register_provider(self, req: Request) -> Response:
        sub, ns = req.match["sub"], req.match["ns"]
        self._subscription(sub)
        self.registered_providers[(sub.lower(), ns.lower())] = "Registered"
        return json_response(self._provider_json(sub, ns))
