"""Blob storage for the profile's containers and data: Entra ID first, the account key if needed.

The signed-in identity needs *Storage Blob Data Contributor* on the workspace's storage account
to use blobs with Entra ID (plain Contributor has no data rights). When storage answers 403
(AuthorizationPermissionMismatch and friends) we switch, once per account and run, to the
account key, which the workspace hands out through its default datastore's secrets. The key is
only held in memory for the run, registered with `engine.secrets.remember()` so no event or
record can show it, and a log line says that the fallback happened and how to avoid it.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from engine import secrets
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


class Blobs:
    """Blob clients for one storage account that fall back from Entra ID to the account key."""

    def __init__(self, account: str, credential: Any, get_key: Callable[[], str],
                 log: Callable[[str, str], None], endpoint: str | None = None, verify: Any = None,
                 options: dict[str, Any] | None = None):
        self.account = account
        self.credential = credential
        self.get_key = get_key
        self.log = log
        self.url = (endpoint or f"https://{account}.blob.core.windows.net").rstrip("/")
        self.verify = verify
        self.options = options or {}  # more client keyword arguments (per_call_policies, ...)
        self._lock = threading.Lock()
        self._key_client: Any = None
        self._token_client: Any = None
        self.using_key = False

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"retry_total": 3}
        if self.verify is not None:
            kwargs["connection_verify"] = self.verify
        return {**kwargs, **self.options}

    def service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        with self._lock:
            if self.using_key:
                return self._key_client
            if self._token_client is None:
                self._token_client = BlobServiceClient(self.url, credential=self.credential, **self._kwargs())
            return self._token_client

    def _switch_to_key(self, exc: BaseException) -> None:
        from azure.storage.blob import BlobServiceClient

        with self._lock:
            if self.using_key:
                return
            key = self.get_key()
            secrets.remember(key)
            self._key_client = BlobServiceClient(self.url, credential=key, **self._kwargs())
            self.using_key = True
        code = storage_code(exc) or "403"
        self.log(f"storage account {self.account} refused the signed-in identity ({code}): using the "
                 "account key from the workspace for this run (held in memory only). To use Entra ID, grant "
                 "yourself 'Storage Blob Data Contributor' on the storage account", "warning")

    def run(self, operation: Callable[[Any], Any]) -> Any:
        """operation(service_client); on a 403 with Entra ID, retried once with the account key."""
        client = self.service()
        try:
            return operation(client)
        except Exception as exc:  # noqa: BLE001 - only 403s are handled, the rest is re-raised
            if not is_forbidden(exc) or client is self._key_client:
                raise
            self._switch_to_key(exc)
            return operation(self.service())

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
