"""What a profile costs on Azure, before anything is made, and what a finished scoring run cost.

Prices are Azure's published retail prices (pay-as-you-go, USD) from the Retail Prices API, read
through engine.pricing_cache. Priced: the cluster's VM size per node-hour in the profile's region
and tier, and the workspace's dependencies at their own units. Azure ML adds no charge of its own
for compute: a cluster's nodes are billed at the VM's price. No figure here is a total: usage
(GB stored, operations, GB of logs) is the user's to know. A price that cannot be read is
"price unavailable"; nothing waits longer than TOTAL_WAIT seconds for prices.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from engine import events as ev
from engine.pricing_cache import Answer, lookup
from engine.words import counted

CURRENCY = "USD"
TOTAL_WAIT = 8.0  # seconds an estimate may wait for all its lookups together
UNAVAILABLE = "price unavailable"
# Azure ML's pricing page: no additional charge to use Azure ML; a cluster's nodes bill as the VMs they are.
NO_SURCHARGE = "Azure ML adds no charge of its own for compute: nodes are billed at the VM price"
UNITS = {"1 Hour": "hour", "1 GB/Month": "GB-month", "10K": "10,000 operations", "1/Day": "day",
         "1 GB": "GB"}


@dataclass(frozen=True)
class Price:
    """One published rate: `amount` per `unit`, read on `date`; None when it is unavailable."""

    what: str
    meter: str
    amount: float | None
    unit: str = ""
    date: str = ""  # YYYY-MM-DD: the day the API gave this price (a cached one keeps its day)
    note: str = ""
    currency: str = CURRENCY

    def text(self) -> str:
        if self.amount is None:
            return UNAVAILABLE
        return f"{money(self.amount)} per {self.unit}" + (f" {self.note}" if self.note else "")


def money(amount: float) -> str:
    """Dollars with the digits that matter: $1,234 · $12.50 · $0.293 · $0.50 · $0.0000996."""
    if amount == 0:
        return "$0"
    if amount >= 100:
        return f"${amount:,.0f}"
    if amount >= 1:
        return f"${amount:,.2f}"
    digits = 2 - math.floor(math.log10(amount))  # three significant digits, never an exponent
    text = f"{amount:.{digits}f}".rstrip("0")
    return "$" + text + "0" * max(0, 2 - len(text.split(".")[1]))


def _day(fetched: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(fetched))


def _filter(service: str, region: str, **fields: str) -> str:
    clauses = [f"serviceName eq '{service}'", f"armRegionName eq '{region}'"]
    clauses += [f"{name} eq '{value}'" for name, value in fields.items()]
    return " and ".join(clauses + ["priceType eq 'Consumption'"])


def _rate(answer: Answer | None, what: str, meter: str, unit: str = "") -> Price:
    """The meter's first paid tier; a free tier before it is said ("after the first 5 GB")."""
    if answer is None:
        return Price(what, meter, None)
    rows = sorted((i for i in answer.items if i.get("meterName") == meter and i.get("type") == "Consumption"),
                  key=lambda i: float(i.get("tierMinimumUnits") or 0))
    paid = [i for i in rows if float(i.get("retailPrice") or 0) > 0]
    if not paid:
        return Price(what, meter, None)
    first = paid[0]
    unit = unit or UNITS.get(first.get("unitOfMeasure") or "", first.get("unitOfMeasure") or "")
    free = float(first.get("tierMinimumUnits") or 0)
    note = f"after the first {free:g} {unit.split()[0]} a month" if free else ""
    return Price(what, meter, float(first["retailPrice"]), unit, _day(answer.fetched), note,
                 first.get("currencyCode") or CURRENCY)


def _vm_kind(item: dict[str, Any]) -> str:
    sku = item.get("skuName") or ""
    return "low_priority" if "Low Priority" in sku else "spot" if "Spot" in sku else "dedicated"


def node_price(answer: Answer | None, vm_size: str, tier: str) -> Price:
    """The Linux pay-as-you-go price of one node an hour; the "Low Priority" meter for the
    low_priority tier (Azure ML's low-priority nodes), the Spot meter when a region has none."""
    what = f"{vm_size} {'low priority' if tier == 'low_priority' else 'dedicated'}"
    if answer is None:
        return Price(what, "", None)
    linux = [i for i in answer.items if i.get("type") == "Consumption" and float(i.get("retailPrice") or 0) > 0
             and not (i.get("productName") or "").endswith("Windows")]
    found = [i for i in linux if _vm_kind(i) == tier]
    note = ""
    if not found and tier == "low_priority":
        found, note = [i for i in linux if _vm_kind(i) == "spot"], "(Spot price: no low-priority meter here)"
    if not found:
        return Price(what, "", None)
    item = min(found, key=lambda i: float(i["retailPrice"]))
    return Price(what, item.get("meterName") or "", float(item["retailPrice"]), "node-hour",
                 _day(answer.fetched), note, item.get("currencyCode") or CURRENCY)


def _vm_filter(profile: Any) -> str:
    return _filter("Virtual Machines", profile.workspace.location.lower(), armSkuName=profile.compute.vm_size)


def _lookups(profile: Any) -> dict[str, str]:
    region = profile.workspace.location.lower()
    return {
        "vm": _vm_filter(profile),
        "storage": _filter("Storage", region, productName="Blob Storage", skuName="Hot LRS"),
        "keyvault": _filter("Key Vault", region, skuName="Standard"),
        "registry": _filter("Container Registry", region, skuName="Basic"),
        "insights": _filter("Log Analytics", region, skuName="Analytics Logs"),
    }


def _look_up_all(filters: dict[str, str], wait: float) -> dict[str, Answer | None]:
    """Every lookup at once, each in a daemon thread, so a hung one holds up neither the others
    nor the process's exit; what has not answered by the deadline is unavailable."""
    if wait <= 0:
        return {key: None for key in filters}
    deadline = time.monotonic() + wait
    answers: dict[str, Answer | None] = {}
    threads = []
    for key, odata_filter in filters.items():
        def run(key: str = key, odata_filter: str = odata_filter) -> None:
            answers[key] = lookup(odata_filter, deadline)
        thread = threading.Thread(target=run, daemon=True, name=f"price-{key}")
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {key: answers.get(key) for key in filters}


@dataclass
class Estimate:
    """A profile's prices on Azure; `lines()` words them, `event()` carries them in --json."""

    target: str
    region: str
    cluster: str
    tier: str
    min_nodes: int
    max_nodes: int
    idle_seconds: int
    node: Price
    services: list[Price] = field(default_factory=list)

    def per_hour(self, nodes: int) -> float | None:
        return None if self.node.amount is None else nodes * self.node.amount

    def heading(self) -> str:
        days = sorted({p.date for p in [self.node, *self.services] if p.date})
        read = f", read {days[0]}" + (f" to {days[-1]}" if len(days) > 1 else "") if days else ""
        where = f"retail prices, {self.region}, {CURRENCY}{read}"
        if self.target == "azure":
            return f"Cost on Azure ({where}):"
        return f"On Azure this profile would cost ({where}):"

    def node_lines(self) -> list[str]:
        lines = [f"  cluster {self.cluster}, {self.node.what}: {self.node.text()}"]
        if self.node.amount is None:
            return lines
        low, high = self.per_hour(self.min_nodes), self.per_hour(self.max_nodes)
        rest = "0 nodes at rest costs nothing" if self.min_nodes == 0 else "paid even when idle: min_nodes"
        lines.append(f"    min {counted(self.min_nodes, 'node')}: {money(low or 0)} an hour ({rest}); "
                     f"max {counted(self.max_nodes, 'node')}: {money(high or 0)} an hour; "
                     f"idle nodes go after {self.idle_seconds} s")
        lines.append(f"    {NO_SURCHARGE}")
        return lines

    def service_lines(self) -> list[str]:
        by_what: dict[str, list[Price]] = {}
        for price in self.services:
            by_what.setdefault(price.what, []).append(price)
        lines = []
        for what, prices in by_what.items():
            known = [p for p in prices if p.amount is not None]
            text = ", ".join(p.text() for p in known) if known else UNAVAILABLE
            lines.append(f"  {what}: {text}")
        return lines

    def lines(self) -> list[str]:
        return [self.heading(), *self.node_lines(), *self.service_lines()]

    def summary(self) -> str:
        """One short line: the node price and what the cluster costs at rest."""
        where = "Cost" if self.target == "azure" else "On Azure"
        if self.node.amount is None:
            return f"{where}: {self.node.what} nodes: {UNAVAILABLE}"
        rest = money(self.per_hour(self.min_nodes) or 0) + (" an hour" if self.min_nodes else "")
        return f"{where}: {money(self.node.amount)} per node-hour, {rest} at rest"

    def figures(self) -> dict[str, Any]:
        return {"target": self.target, "region": self.region, "currency": CURRENCY, "cluster": self.cluster,
                "tier": self.tier, "min_nodes": self.min_nodes, "max_nodes": self.max_nodes,
                "idle_seconds": self.idle_seconds, "per_hour_at_min_nodes": self.per_hour(self.min_nodes),
                "per_hour_at_max_nodes": self.per_hour(self.max_nodes), "compute_surcharge": 0}

    def event(self) -> ev.CostEstimate:
        return ev.CostEstimate("profile", tuple(self.lines()),
                               tuple(asdict(p) for p in [self.node, *self.services]), self.figures())


def estimate_later(profile: Any, wait: float = TOTAL_WAIT) -> Callable[[], Estimate]:
    """Start looking the profile's prices up now (while a plan runs); the returned call gives the
    estimate, waiting at most what is left of `wait`."""
    found: list[Estimate] = []
    thread = threading.Thread(target=lambda: found.append(estimate(profile, wait)), daemon=True,
                              name="prices")
    started = time.monotonic()
    thread.start()

    def result() -> Estimate:
        thread.join(max(0.0, started + wait + 1.0 - time.monotonic()))
        return found[0] if found else estimate(profile, 0.0)  # every price unavailable

    return result


def estimate(profile: Any, wait: float = TOTAL_WAIT) -> Estimate:
    """The profile's prices (never raises for a failed lookup: that price is unavailable)."""
    answers = _look_up_all(_lookups(profile), wait)
    c = profile.compute
    storage, keyvault = "storage account (Standard LRS, hot)", "key vault (Standard)"
    registry = "container registry (Basic, made at the first image build)"
    insights = "application insights (Log Analytics ingestion)"
    services = [
        _rate(answers["storage"], storage, "Hot LRS Data Stored"),
        _rate(answers["storage"], storage, "Hot LRS Write Operations", "10,000 writes"),
        _rate(answers["storage"], storage, "Hot Read Operations", "10,000 reads"),
        _rate(answers["keyvault"], keyvault, "Operations"),
        _rate(answers["registry"], registry, "Basic Registry Unit"),
        _rate(answers["insights"], insights, "Analytics Logs Data Ingestion", "GB ingested"),
    ]
    return Estimate(profile.target, profile.workspace.location, c.name, c.tier, c.min_nodes, c.max_nodes,
                    c.idle_seconds, node_price(answers["vm"], c.vm_size, c.tier), services)


# ------------------------------------------------------------------------------ a finished run

@dataclass
class RunCost:
    """A finished run's node time at the node price: nodes x duration x price per node-hour."""

    target: str
    job_id: str
    nodes: int
    seconds: float
    idle_seconds: int
    node: Price

    @property
    def node_hours(self) -> float:
        return self.nodes * self.seconds / 3600

    @property
    def cost(self) -> float | None:
        return None if self.node.amount is None else self.node_hours * self.node.amount

    def lines(self) -> list[str]:
        time_text = f"{counted(self.nodes, 'node')} x {self.seconds:.1f} s"
        if self.cost is None:  # a local run costs nothing itself: say whose price is missing
            where = "cost" if self.target == "azure" else "on Azure this run's cost"
            return [f"{where}: {time_text} of {self.node.what}: {UNAVAILABLE}"]
        rate = f"at {money(self.node.amount or 0)} per node-hour ({self.node.what}, read {self.node.date})"
        if self.target != "azure":
            return [f"on Azure this run would have cost about {money(self.cost)}: {time_text} "
                    f"(endpoint.instance_count) {rate}"]
        return [f"cost: about {money(self.cost)}: {time_text} {rate}, plus up to "
                f"{self.idle_seconds} s a node of idle time before the cluster scales down"]

    def event(self) -> ev.CostEstimate:
        figures = {"target": self.target, "job_id": self.job_id, "nodes": self.nodes, "seconds": self.seconds,
                   "node_hours": self.node_hours, "cost": self.cost, "currency": CURRENCY}
        return ev.CostEstimate("run", tuple(self.lines()), (asdict(self.node),), figures)


def run_cost(profile: Any, job: Any, wait: float = TOTAL_WAIT) -> RunCost:
    """What a finished run's node time costs: the profile's instance_count nodes for the run's
    duration (on the local target: what the same run would cost on Azure)."""
    answers = _look_up_all({"vm": _vm_filter(profile)}, wait)
    return RunCost(profile.target, job.job_id, profile.endpoint.instance_count, float(job.duration or 0),
                   profile.compute.idle_seconds, node_price(answers["vm"], profile.compute.vm_size,
                                                            profile.compute.tier))
