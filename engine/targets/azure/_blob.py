"""Blob storage for the profile's containers and data, with the signed-in identity (Entra ID).

The signed-in identity needs *Storage Blob Data Contributor* on the workspace's storage account
(plain Contributor or Owner has no data rights); the access step grants it when the identity may
assign roles. There is no fall-back to the account key: a 403 (AuthorizationPermissionMismatch and
friends) is a `DataAccessRefused` naming the role. Right after the access step granted the role, a
403 is retried for a few minutes: a new role assignment takes a while to reach storage.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from engine.errors import StepError
from engine.targets.azure._base import say

# Metadata names must be C# identifiers: no '-' as in the resource tags.
META_CREATOR, META_PROFILE, META_MD5 = "createdby", "amlbatchprofile", "md5"
META_ID = "amlbatchprofileid"


def owner_metadata(profile: Any) -> dict[str, str]:
    """engine.ownership.tags as blob metadata."""
    from engine import ownership

    tags = ownership.tags(profile)
    found = {META_CREATOR: tags[ownership.TAG_CREATOR], META_PROFILE: tags[ownership.TAG_PROFILE]}
    if ownership.TAG_ID in tags:
        found[META_ID] = tags[ownership.TAG_ID]
    return found


def metadata_tags(metadata: Any) -> dict[str, str]:
    """Blob or container metadata as engine.ownership tags, so ownership is decided in one place."""
    from engine import ownership

    metadata = dict(metadata or {})
    names = {META_CREATOR: ownership.TAG_CREATOR, META_PROFILE: ownership.TAG_PROFILE, META_ID: ownership.TAG_ID}
    return {tag: metadata[meta] for meta, tag in names.items() if meta in metadata}


def is_forbidden(exc: BaseException) -> bool:
    from azure.core.exceptions import HttpResponseError

    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) == 403


def storage_code(exc: BaseException) -> str:
    code = getattr(exc, "error_code", None)
    if code:
        return str(getattr(code, "value", code))
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return str(headers.get("x-ms-error-code", "") or "")


class DataAccessRefused(StepError):
    """Storage refused the signed-in identity: it has no blob data role on the account."""

    def __init__(self, account: str, code: str):
        self.account, self.code = account, code
        super().__init__(f"storage account {account} refused the signed-in identity ({code}): it needs the "
                         "'Storage Blob Data Contributor' role on the account (the access step grants it when "
                         "you may assign roles; otherwise its plan shows the az line to ask an administrator for)")


CONNECTIONS = 32  # kept open to the account: the upload's calls at once (UPLOAD_THREADS, 2 each)
GRACE_RETRIES = 30  # 403s retried while a role granted in this run propagates
GRACE_WAIT = 10.0  # seconds between them (scaled by _lro.CLOCK.scale)


class Blobs:
    """Blob clients for one storage account, signed in with Entra ID."""

    def __init__(self, account: str, credential: Any, log: Callable[[str, str], None], endpoint: str | None = None,
                 verify: Any = None, options: dict[str, Any] | None = None):
        self.account = account
        self.credential = credential
        self.log = log
        self.url = (endpoint or f"https://{account}.blob.core.windows.net").rstrip("/")
        self.verify = verify
        self.options = options or {}  # more client keyword arguments (per_call_policies, ...)
        self._lock = threading.Lock()
        self._client: Any = None
        self.grace_until = 0.0  # time.monotonic() until which a 403 may be a role still propagating

    def _kwargs(self) -> dict[str, Any]:
        import requests
        from azure.core.pipeline.transport import RequestsTransport
        from urllib3.util import Retry

        # requests keeps 10 connections per host by default: the upload makes more calls at once,
        # and a connection beyond the pool would be dropped after one call (a new TLS handshake each)
        session = requests.Session()
        # retries are azure-core's (its retry policy, which knows storage's rules), never urllib3's
        no_retries = Retry(total=False, redirect=False)
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=CONNECTIONS, max_retries=no_retries)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        connection = {"connection_verify": self.verify} if self.verify is not None else {}
        transport = RequestsTransport(session=session, **connection)  # a given transport takes its own settings
        return {"retry_total": 3, "transport": transport, **connection, **self.options}

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        with self._lock:
            if self._client is None:
                self._client = BlobServiceClient(self.url, credential=self.credential, **self._kwargs())
            return self._client

    def run(self, operation: Callable[[Any], Any]) -> Any:
        """operation(service_client); a 403 becomes DataAccessRefused (after a grace while a role
        granted in this run propagates)."""
        from engine.targets.azure._lro import CLOCK

        client = self.service()
        attempt = 0
        while True:
            try:
                return operation(client)
            except Exception as exc:  # noqa: BLE001 - only 403s are handled, the rest is re-raised
                if not is_forbidden(exc):
                    raise
                attempt += 1
                if attempt > GRACE_RETRIES or time.monotonic() >= self.grace_until:
                    raise DataAccessRefused(self.account, storage_code(exc) or "403") from None
                if attempt == 1:
                    self.log(f"storage account {self.account} refused the signed-in identity: waiting for the "
                             "role assignment made in this run to take effect", "info")
                time.sleep(GRACE_WAIT * CLOCK.scale)

    def container(self, name: str, client: Any) -> Any:
        return client.get_container_client(name)


def blob_endpoint(read: Callable[[str], Any], storage_id: str, account: str, cloud: str) -> str:
    """A storage account's own blob endpoint (properties.primaryEndpoints.blob, read with
    `read(storage_id)`), so every Azure cloud works; the cloud's documented suffix when the account
    cannot be read (an identity without read rights on it)."""
    from engine.cloud import endpoints

    if storage_id and storage_id.rstrip("/").rsplit("/", 1)[-1].lower() == account.lower():
        try:
            found = read(storage_id)
            blob = ((getattr(found, "properties", None) or {}).get("primaryEndpoints") or {}).get("blob")
            if blob:
                return str(blob)
        except Exception as exc:  # noqa: BLE001 - fall back to the cloud's suffix, and say so
            say(f"could not read storage account {account}'s endpoints ({type(exc).__name__}); using the "
                f"{cloud} default", "debug")
    return f"https://{account}.{endpoints(cloud).blob_suffix}"
