"""A fake of the Azure Retail Prices API on a real loopback HTTP server, for the pricing tests.

It answers `GET /api/retail/prices?$filter=...` in the API's wire shape: `{"BillingCurrency",
"CustomerEntityId", "CustomerEntityType", "Items": [...], "NextPageLink": url or null, "Count"}`,
`page_size` items a page (the API's is 100) with `$skip` paging. The `$filter` is honoured for
`eq` clauses joined by `and` on serviceName, armRegionName, armSkuName, skuName, productName,
meterName and priceType (matched against an item's `type`); anything else in it is a 400, as an
unknown field is for the API. `mode` "fail" answers 500, "hang" never answers in time.

Usage::

    with FakePrices(page_size=2) as prices:
        monkeypatch.setenv("AMLBATCH_PRICES_URL", prices.url)
        ...
        assert prices.requests == 3
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

PATH = "/api/retail/prices"
FIELDS = {"serviceName": "serviceName", "armRegionName": "armRegionName", "armSkuName": "armSkuName",
          "skuName": "skuName", "productName": "productName", "meterName": "meterName", "priceType": "type"}
CLAUSE = re.compile(r"^\s*(\w+) eq '([^']*)'\s*$")


def _item(service: str, product: str, sku: str, meter: str, price: float, unit: str, region: str = "westeurope",
          arm_sku: str = "", tier_minimum: float = 0.0, family: str = "Compute") -> dict[str, Any]:
    meter_id = f"{zlib.crc32(f'{product}/{sku}/{meter}'.encode()):08x}-0000-0000-0000-000000000000"
    return {"currencyCode": "USD", "tierMinimumUnits": tier_minimum, "retailPrice": price, "unitPrice": price,
            "armRegionName": region, "location": "EU West" if region == "westeurope" else region,
            "effectiveStartDate": "2024-05-01T00:00:00Z", "meterId": meter_id,
            "meterName": meter, "productId": "DZH318Z0BQ4L", "skuId": "DZH318Z0BQ4L/00TG",
            "availabilityId": None, "productName": product, "skuName": sku, "serviceName": service,
            "serviceId": "DZH313Z7MMC8", "serviceFamily": family, "unitOfMeasure": unit,
            "type": "Consumption", "isPrimaryMeterRegion": True, "armSkuName": arm_sku}


def catalog() -> list[dict[str, Any]]:
    """Published prices for West Europe as the API lists them (Linux, Windows, Low Priority, Spot
    and a reservation per VM size; tiered meters; services the estimate must not pick)."""
    vm = "Virtual Machines"
    rows = []
    for size, short, series, linux in (("Standard_DS3_v2", "DS3 v2", "DSv2", 0.293),
                                       ("Standard_D2_v3", "D2 v3", "Dv3", 0.12)):
        product = f"Virtual Machines {series} Series"
        rows += [
            _item(vm, product, short, short, linux, "1 Hour", arm_sku=size),
            _item(vm, product, f"{short} Low Priority", f"{short} Low Priority", round(linux / 5, 4), "1 Hour",
                  arm_sku=size),
            _item(vm, product, f"{short} Spot", f"{short} Spot", round(linux / 8, 4), "1 Hour", arm_sku=size),
            _item(vm, product + " Windows", short, short, round(linux * 1.6, 4), "1 Hour", arm_sku=size),
            _item(vm, product, short, short, linux, "1 Hour", region="eastus", arm_sku=size),
        ]
        reserved = _item(vm, product, short, short, linux * 5000, "1 Hour", arm_sku=size)
        reserved["type"] = "Reservation"
        rows.append(reserved)
    rows.append(_item(vm, "Virtual Machines NCasT4_v3 Series", "NC4as T4 v3 Spot", "NC4as T4 v3 Spot", 0.2,
                      "1 Hour", arm_sku="Standard_NC4as_T4_v3"))
    storage = ("Storage", "Blob Storage", "Hot LRS")
    rows += [
        _item(*storage, "Hot LRS Data Stored", 0.0196, "1 GB/Month", family="Storage"),
        _item(*storage, "Hot LRS Data Stored", 0.0189, "1 GB/Month", tier_minimum=51200, family="Storage"),
        _item(*storage, "Hot LRS Write Operations", 0.065, "10K", family="Storage"),
        _item(*storage, "Hot Read Operations", 0.0052, "10K", family="Storage"),
        _item("Storage", "Blob Storage", "Cool LRS", "Cool LRS Data Stored", 0.01, "1 GB/Month", family="Storage"),
        _item("Key Vault", "Key Vault", "Standard", "Operations", 0.03, "10K", family="Security"),
        _item("Key Vault", "Key Vault", "Premium", "Operations", 0.03, "10K", family="Security"),
        _item("Container Registry", "Container Registry", "Basic", "Basic Registry Unit", 0.1666, "1/Day",
              family="Containers"),
        _item("Container Registry", "Container Registry", "Standard", "Standard Registry Unit", 0.6666, "1/Day",
              family="Containers"),
        _item("Log Analytics", "Log Analytics", "Analytics Logs", "Analytics Logs Data Ingestion", 0.0, "1 GB",
              family="Management and Governance"),
        _item("Log Analytics", "Log Analytics", "Analytics Logs", "Analytics Logs Data Ingestion", 2.99, "1 GB",
              tier_minimum=5, family="Management and Governance"),
    ]
    return rows


def parse_filter(text: str) -> dict[str, str]:
    """`a eq 'x' and b eq 'y'` as {field: value}; ValueError for anything else."""
    wanted = {}
    for clause in text.split(" and "):
        match = CLAUSE.match(clause)
        if not match or match.group(1) not in FIELDS:
            raise ValueError(f"Invalid OData filter clause: {clause.strip()}")
        wanted[FIELDS[match.group(1)]] = match.group(2)
    return wanted


class FakePrices:
    def __init__(self, items: list[dict[str, Any]] | None = None, page_size: int = 100, mode: str = "ok"):
        self.items = catalog() if items is None else items
        self.page_size, self.mode = page_size, mode
        self.requests = 0
        self.counting = threading.Lock()
        self.filters: list[str] = []
        self.release = threading.Event()  # ends the "hang" mode's waits when the fake stops
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with fake.counting:
                    fake.requests += 1
                fake.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True,
                                       name="fake-prices")

    def __enter__(self) -> "FakePrices":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.mode == "hang":
            self.release.wait(30)
            return
        if self.mode == "fail":
            return self.send(handler, 500, {"Error": {"Code": "InternalServerError", "Message": "try again"}})
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path != PATH:
            return self.send(handler, 404, {"Error": {"Code": "NotFound", "Message": parts.path}})
        odata_filter = query.get("$filter", "")
        self.filters.append(odata_filter)
        try:
            wanted = parse_filter(odata_filter) if odata_filter else {}
        except ValueError as exc:
            return self.send(handler, 400, {"Error": {"Code": "BadRequest", "Message": str(exc)}})
        found = [i for i in self.items if all(i.get(k) == v for k, v in wanted.items())]
        skip = int(query.get("$skip", "0"))
        page = found[skip: skip + self.page_size]
        next_link = None
        if skip + self.page_size < len(found):
            next_query = urlencode({**query, "$skip": str(skip + self.page_size)})
            next_link = f"{self.url}?{next_query}"
        self.send(handler, 200, {"BillingCurrency": "USD", "CustomerEntityId": "Default",
                                 "CustomerEntityType": "Retail", "Items": page, "NextPageLink": next_link,
                                 "Count": len(page)})

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

