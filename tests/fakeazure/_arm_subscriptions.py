"""ARM: subscriptions (those of the caller's tenant), tenants and locations."""

from __future__ import annotations

from . import _catalog
from ._core import SUB
from ._http import ApiError, Request, Response, json_response, route


class SubscriptionsMixin:
    """``/subscriptions``, ``/subscriptions/{id}``, ``/locations``, ``/tenants``."""

    # ------------------------------------------------------------------ lookups

    def _subscription(self, sub: str) -> dict:
        s = self.subscriptions.get(sub.lower())
        if s is None:
            raise ApiError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        return s

    def _sub_id(self, subscription: str | None) -> str:
        if subscription is None:
            return next(iter(self.subscriptions.values()))["id"]
        return self._subscription(subscription)["id"]

    # ------------------------------------------------------------------ routes

    def _subscription_json(self, s: dict) -> dict:
        return {
            "id": f"/subscriptions/{s['id']}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": s["id"],
            "tenantId": s["tenant"],
            "displayName": s["name"],
            "state": s["state"],
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"},
            "tags": {},
        }

    @route("GET", "arm", "/subscriptions")
    def arm_list_subscriptions(self, req: Request) -> Response:
        tid = (self._caller(req)["tid"] or "").lower()
        subs = [self._subscription_json(s) for s in self.subscriptions.values() if s["tenant"].lower() == tid]
        return json_response({"value": subs, "count": {"type": "Total", "value": len(subs)}})

    @route("GET", "arm", SUB)
    def arm_get_subscription(self, req: Request) -> Response:
        return json_response(self._subscription_json(self._subscription(req.match["sub"])))

    @route("GET", "arm", SUB + "/locations")
    def arm_list_locations(self, req: Request) -> Response:
        s = self._subscription(req.match["sub"])
        return json_response({"value": [_catalog.location_json(s["id"], l) for l in self.locations]})

    @route("GET", "arm", "/tenants")
    def arm_list_tenants(self, req: Request) -> Response:
        return json_response({"value": [{
            "id": f"/tenants/{t}", "tenantId": t, "countryCode": "US", "tenantCategory": "Home",
            "displayName": f"Fake Tenant {i + 1}", "domains": [f"faketenant{i + 1}.onmicrosoft.com"],
            "defaultDomain": f"faketenant{i + 1}.onmicrosoft.com", "tenantType": "AAD",
        } for i, t in enumerate(self.tenants)]})
