"""Blob data plane state: the fake's storage accounts (keys, containers, blobs), the test-facing blob API, and
helpers shared by the _blob_* modules (etags, dates, XML errors)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import time
import urllib.parse
from email.utils import formatdate
from xml.sax.saxutils import escape

from ._http import ApiError, Response

_etags = itertools.count(0x8DC0000000000)
API_VERSION = "2025-01-05"


def new_etag() -> str:
    return f'"0x{next(_etags):X}"'


def http_date(ts: float | None = None) -> str:
    return formatdate(ts if ts is not None else time.time(), usegmt=True)


def blob_error_response(err: ApiError) -> Response:
    headers = {"x-ms-error-code": err.code, "Content-Type": "application/xml", "x-ms-version": API_VERSION}
    headers.update(err.headers)
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{escape(err.code)}</Code><Message>'
            f"{escape(err.message)}\nRequestId:{os.urandom(8).hex()}\nTime:{time.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            f"</Message></Error>")
    return Response(err.status, body.encode(), headers)


def blob_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


class BlobAccountsMixin:
    """``self.storage_accounts``: account name -> {name, key, key2, created, containers}."""

    # ------------------------------------------------------------------ control API

    def _ensure_blob_account(self, name: str) -> dict:
        key = name.lower()
        if key not in self.storage_accounts:
            self.storage_accounts[key] = {
                "name": key,
                "key": base64.b64encode(os.urandom(64)).decode(),
                "key2": base64.b64encode(os.urandom(64)).decode(),
                "created": http_date(),
                "containers": {},
            }
        return self.storage_accounts[key]

    def account_key(self, account: str) -> str:
        """The primary key of a storage account the fake holds (what listSecrets / listKeys return)."""
        return self.storage_accounts[account.lower()]["key"]

    def _account(self, account: str) -> dict:
        acc = self.storage_accounts.get(account.lower())
        if acc is None:
            raise KeyError(f"no storage account {account!r}")
        return acc

    def put_blob(self, account: str, container: str, name: str, data: bytes | str,
                 metadata: dict | None = None, content_type: str = "application/octet-stream") -> None:
        """Place a blob directly (the container is created when missing)."""
        with self._lock:
            acc = self._account(account)
            if container not in acc["containers"]:
                self._create_container(acc, container, {})
            self._write_blob(acc, container, name, data.encode() if isinstance(data, str) else data,
                             content_type=content_type, metadata=metadata or {})

    def get_blob(self, account: str, container: str, name: str) -> bytes:
        with self._lock:
            return self._account(account)["containers"][container]["blobs"][name]["data"]

    def blob_metadata(self, account: str, container: str, name: str) -> dict:
        with self._lock:
            return dict(self._account(account)["containers"][container]["blobs"][name]["metadata"])

    def list_blobs(self, account: str, container: str, prefix: str = "") -> list[str]:
        with self._lock:
            c = self._account(account)["containers"].get(container)
            return sorted(n for n in (c["blobs"] if c else {}) if n.startswith(prefix))

    def containers(self, account: str) -> list[str]:
        with self._lock:
            return sorted(self._account(account)["containers"])

    def make_sas(self, account: str, container: str, permissions: str = "racwdl", hours: int = 1) -> str:
        expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + hours * 3600))
        sig = base64.b64encode(hmac.new(base64.b64decode(self.account_key(account)),
                                        f"{account}/{container}/{permissions}/{expiry}".encode(),
                                        hashlib.sha256).digest()).decode()
        return urllib.parse.urlencode({"sv": "2023-11-03", "sr": "c", "sp": permissions, "se": expiry, "sig": sig})

    # ------------------------------------------------------------------ internals

    def _create_container(self, acc: dict, name: str, metadata: dict) -> dict:
        now = time.time()
        container = {"metadata": dict(metadata), "created": now, "modified": http_date(now), "etag": new_etag(),
                     "blobs": {}, "uncommitted": {}}
        acc["containers"][name] = container
        return container

    def _write_blob(self, acc: dict, container: str, name: str, data: bytes, *, content_type: str | None = None,
                    metadata: dict | None = None, headers: dict | None = None) -> dict:
        c = acc["containers"][container]
        now = time.time()
        old = c["blobs"].get(name)
        blob = {
            "data": data,
            "content_type": content_type or "application/octet-stream",
            "content_encoding": (headers or {}).get("x-ms-blob-content-encoding"),
            "content_language": (headers or {}).get("x-ms-blob-content-language"),
            "content_disposition": (headers or {}).get("x-ms-blob-content-disposition"),
            "cache_control": (headers or {}).get("x-ms-blob-cache-control"),
            "md5": (headers or {}).get("x-ms-blob-content-md5") or base64.b64encode(hashlib.md5(data).digest()).decode(),
            "metadata": dict(metadata or {}),
            "etag": new_etag(),
            "modified": http_date(now),
            "created": old["created"] if old else http_date(now),
            "blocks": [],
        }
        c["blobs"][name] = blob
        c["uncommitted"].pop(name, None)
        return blob
