"""Azure Retail Prices API answers, fetched with paging and kept on disk with the date they were read.

The API (https://prices.azure.com/api/retail/prices) is public and needs no sign-in: a GET with an
OData `$filter` returns `{"Items": [...], "NextPageLink": url or null, "Count": n}`, up to 100 items a
page. Each answer is cached under `<data dir>/prices.json` by its filter; an answer younger than
MAX_AGE is used without a call. A lookup never raises: it returns None when nothing could be read.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from engine import paths
from engine.fileio import read_json, write_json

DEFAULT_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
URL_VARIABLE = "AMLBATCH_PRICES_URL"  # another endpoint (the tests' fake), or "off" for no lookups
REQUEST_TIMEOUT = 5.0  # seconds per page
MAX_PAGES = 20  # a filter on region and SKU returns a page or two; more means a filter went wrong
MAX_AGE = 7 * 24 * 3600.0  # retail prices change rarely; a week-old answer is still the price
KEPT_FIELDS = ("armSkuName", "currencyCode", "effectiveStartDate", "meterName", "productName",
               "retailPrice", "skuName", "tierMinimumUnits", "type", "unitOfMeasure", "unitPrice")

_lock = threading.Lock()  # several lookups run at once; each rewrites the one cache file


@dataclass(frozen=True)
class Answer:
    items: list[dict[str, Any]]
    fetched: float  # when the API gave these items (time.time())


def base_url() -> str | None:
    """Where the prices come from; None when lookups are turned off."""
    value = os.environ.get(URL_VARIABLE, "").strip()
    if value.lower() == "off":
        return None
    return value or DEFAULT_URL


def _cache_path():
    return paths.data_dir() / "prices.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = read_json(_cache_path())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, answer: Answer) -> None:
    with _lock:
        cache = _read_cache()
        cache[key] = {"fetched": answer.fetched, "items": answer.items}
        try:
            write_json(_cache_path(), cache, durable=False)
        except OSError:
            pass  # a cache that cannot be written costs a lookup next time, nothing more


def _fetch(url: str, odata_filter: str, deadline: float) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"api-version": API_VERSION, "$filter": odata_filter})
    page_url: str | None = f"{url}?{query}"
    items: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if page_url is None:
            return items
        timeout = min(REQUEST_TIMEOUT, deadline - time.monotonic())
        if timeout <= 0:
            raise TimeoutError("no time left for the next page")
        request = urllib.request.Request(page_url, headers={"Accept": "application/json",
                                                            "User-Agent": "amlbatch"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
        items += [{k: item.get(k) for k in KEPT_FIELDS} for item in body.get("Items") or [] if _sound(item)]
        page_url = body.get("NextPageLink") or None
    raise ValueError(f"more than {MAX_PAGES} pages for {odata_filter}")


def _sound(item: Any) -> bool:
    """An item whose numbers are numbers (what the estimate computes with)."""
    if not isinstance(item, dict):
        return False
    numbers = [item.get("retailPrice"), item.get("tierMinimumUnits", 0)]
    return all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in numbers)


def lookup(odata_filter: str, deadline: float, now: float | None = None) -> Answer | None:
    """The items the filter selects: from the cache while younger than MAX_AGE, else from the API
    (by `deadline`, a time.monotonic() value). When the API cannot be read, an older cached answer
    (shown with its date) or None."""
    now = time.time() if now is None else now
    url = base_url()
    key = f"{url or DEFAULT_URL} {odata_filter}"
    cached = _read_cache().get(key)
    cached = cached if isinstance(cached, dict) and "fetched" in cached else None
    if cached and now - float(cached.get("fetched", 0)) < MAX_AGE:
        return Answer(list(cached.get("items") or []), float(cached["fetched"]))
    if url is None:
        return None
    try:
        answer = Answer(_fetch(url, odata_filter, deadline), now)
    except Exception:  # noqa: BLE001 - offline, refused, a 500, a timeout, not JSON: no price
        return Answer(list(cached.get("items") or []), float(cached["fetched"])) if cached else None
    _remember(key, answer)
    return answer
