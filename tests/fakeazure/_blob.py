"""A minimal Blob service REST surface for the fake's storage accounts (https://<account>.blob.core.windows.net).

Enough for azure-storage-blob and azure-ai-ml's internal uploads/downloads: containers (create, properties,
metadata, list, delete), block blobs (put, put block / block list, get with ranges, properties, metadata,
delete, copy from URL), listing (flat and by delimiter, with metadata) and SharedKey / SAS / bearer auth.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import time
import urllib.parse
from email.utils import formatdate
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from ._http import ApiError, Request, Response, route

_etags = itertools.count(0x8DC0000000000)
API_VERSION = "2025-01-05"


def _etag() -> str:
    return f'"0x{next(_etags):X}"'


def _http_date(ts: float | None = None) -> str:
    return formatdate(ts if ts is not None else time.time(), usegmt=True)


def blob_error_response(err: ApiError) -> Response:
    headers = {"x-ms-error-code": err.code, "Content-Type": "application/xml", "x-ms-version": API_VERSION}
    headers.update(err.headers)
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{escape(err.code)}</Code><Message>'
            f"{escape(err.message)}\nRequestId:{os.urandom(8).hex()}\nTime:{time.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            f"</Message></Error>")
    return Response(err.status, body.encode(), headers)


def _berr(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


_HEADER_ORDER_IGNORED = str.maketrans("", "", "-")


class BlobMixin:
    # ------------------------------------------------------------------ state + control API

    def _init_blob_state(self) -> None:
        self.storage_accounts: dict[str, dict] = {}
        #: check SharedKey signatures against the account key (a wrong key gets 403 AuthenticationFailed)
        self.verify_shared_key = True
        #: accounts whose data plane refuses bearer tokens (simulates a missing "Storage Blob Data" role)
        self.blob_rbac_denied: set[str] = set()

    def _ensure_blob_account(self, name: str) -> dict:
        key = name.lower()
        if key not in self.storage_accounts:
            self.storage_accounts[key] = {
                "name": key,
                "key": base64.b64encode(os.urandom(64)).decode(),
                "key2": base64.b64encode(os.urandom(64)).decode(),
                "created": _http_date(),
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
        container = {"metadata": dict(metadata), "created": now, "modified": _http_date(now), "etag": _etag(),
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
            "etag": _etag(),
            "modified": _http_date(now),
            "created": old["created"] if old else _http_date(now),
            "blocks": [],
        }
        c["blobs"][name] = blob
        c["uncommitted"].pop(name, None)
        return blob

    def _split(self, req: Request) -> tuple[dict, str | None, str | None]:
        account_name = req.host.split(".")[0]
        acc = self.storage_accounts.get(account_name)
        if acc is None:
            # Azure answers with a DNS failure for an unknown account.
            import requests
            raise requests.exceptions.ConnectionError(
                f"Failed to resolve '{req.host}' ([Errno -2] Name or service not known) (FakeAzure: no storage "
                f"account '{account_name}')")
        parts = req.path.lstrip("/").split("/", 1)
        container = parts[0] or None
        blob = parts[1] if len(parts) > 1 and parts[1] else None
        return acc, container, blob

    def _check_blob_auth(self, req: Request, acc: dict) -> None:
        auth = req.headers.get("authorization", "")
        if auth.startswith("SharedKey "):
            who, _, sig = auth[len("SharedKey "):].partition(":")
            if who.lower() != acc["name"]:
                raise _berr(403, "AuthenticationFailed", "Server failed to authenticate the request. The account "
                                                         "name in the Authorization header does not match.")
            if self.verify_shared_key and not self._shared_key_ok(req, acc, sig):
                raise _berr(403, "AuthenticationFailed",
                            "Server failed to authenticate the request. Make sure the value of Authorization header "
                            "is formed correctly including the signature.")
            return
        if auth.lower().startswith("bearer "):
            claims = self._bearer_claims(req) or {}
            aud = (claims.get("aud") or "").rstrip("/")
            if aud not in ("https://storage.azure.com", f"https://{acc['name']}.blob.core.windows.net"):
                raise _berr(401, "InvalidAuthenticationInfo", f"Audience validation failed. Audience did not "
                                                              f"match: '{aud}'.")
            if acc["name"] in self.blob_rbac_denied:
                raise _berr(403, "AuthorizationPermissionMismatch",
                            "This request is not authorized to perform this operation using this permission.")
            return
        if "sig" in req.query:
            se = req.query.get("se")
            if se and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > se:
                raise _berr(403, "AuthenticationFailed", "Signed expiry time has passed.")
            return
        raise _berr(401, "NoAuthenticationInformation",
                    "Server failed to authenticate the request. Please refer to the information in the "
                    "www-authenticate header.")

    def _shared_key_ok(self, req: Request, acc: dict, sig: str) -> bool:
        h = {k: v for k, v in req.headers.items() if v}
        if h.get("content-length") == "0":
            del h["content-length"]
        fixed = [h.get(x, "") for x in ("content-encoding", "content-language", "content-length", "content-md5",
                                        "content-type", "date", "if-modified-since", "if-match", "if-none-match",
                                        "if-unmodified-since")]
        xms = [(k, v) for k, v in req.headers.items() if k.startswith("x-ms-")]
        query = sorted(urllib.parse.parse_qsl(urllib.parse.urlsplit(req.url).query, keep_blank_values=True))
        canon_query = "".join(f"\n{k.lower()}:{urllib.parse.unquote(v)}" for k, v in query)
        resource = f"/{acc['name']}{req.raw_path}"
        for key in (acc["key"], acc["key2"]):
            for order in (sorted(xms), sorted(xms, key=lambda kv: (kv[0].translate(_HEADER_ORDER_IGNORED), kv[0]))):
                canon_headers = "".join(f"{k}:{v}\n" for k, v in order)
                to_sign = req.method + "\n" + "\n".join(fixed) + "\n\n" + canon_headers + resource + canon_query
                expected = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode("utf-8"),
                                                     hashlib.sha256).digest()).decode()
                if hmac.compare_digest(expected, sig):
                    return True
        return False

    @staticmethod
    def _meta_from_headers(req: Request) -> dict:
        return {k[len("x-ms-meta-"):]: v for k, v in req.headers.items() if k.startswith("x-ms-meta-")}

    @staticmethod
    def _meta_headers(meta: dict) -> dict:
        return {f"x-ms-meta-{k}": v for k, v in meta.items()}

    def _blob_headers(self, blob: dict) -> dict:
        h = {
            "Content-Type": blob["content_type"], "ETag": blob["etag"], "Last-Modified": blob["modified"],
            "x-ms-creation-time": blob["created"], "x-ms-blob-type": "BlockBlob", "x-ms-lease-status": "unlocked",
            "x-ms-lease-state": "available", "x-ms-server-encrypted": "true", "x-ms-access-tier": "Hot",
            "x-ms-access-tier-inferred": "true", "Accept-Ranges": "bytes", "x-ms-version": API_VERSION,
        }
        if blob.get("md5"):
            h["Content-MD5"] = blob["md5"]
        for key, header in (("content_encoding", "Content-Encoding"), ("content_language", "Content-Language"),
                            ("content_disposition", "Content-Disposition"), ("cache_control", "Cache-Control")):
            if blob.get(key):
                h[header] = blob[key]
        h.update(self._meta_headers(blob["metadata"]))
        return h

    # ------------------------------------------------------------------ the single entry point

    @route("GET,PUT,HEAD,DELETE,POST", "blob", "/{rest:.*}", priority=-100)
    def blob_dispatch(self, req: Request) -> Response:
        acc, container, blob = self._split(req)
        self._check_blob_auth(req, acc)
        comp = req.query.get("comp", "")
        restype = req.query.get("restype", "")
        if container is None:
            return self._blob_service(req, acc, comp, restype)
        if blob is None:
            return self._blob_container(req, acc, container, comp, restype)
        return self._blob_blob(req, acc, container, blob, comp)

    def _blob_service(self, req: Request, acc: dict, comp: str, restype: str) -> Response:
        if req.method in ("GET", "HEAD") and restype == "account" and comp == "properties":
            return Response(200, None, {"x-ms-sku-name": "Standard_LRS", "x-ms-account-kind": "StorageV2",
                                        "x-ms-is-hns-enabled": "false", "x-ms-version": API_VERSION})
        if req.method == "GET" and restype == "service" and comp == "properties":
            body = ('<?xml version="1.0" encoding="utf-8"?><StorageServiceProperties><Logging><Version>1.0</Version>'
                    '<Read>false</Read><Write>false</Write><Delete>false</Delete><RetentionPolicy><Enabled>false'
                    '</Enabled></RetentionPolicy></Logging><Cors /></StorageServiceProperties>')
            return Response(200, body.encode(), {"Content-Type": "application/xml", "x-ms-version": API_VERSION})
        if req.method == "GET" and comp == "list":
            prefix = req.query.get("prefix", "")
            items = []
            for name in sorted(acc["containers"]):
                if not name.startswith(prefix):
                    continue
                c = acc["containers"][name]
                meta = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in c["metadata"].items()) \
                    if "metadata" in req.query.get("include", "") else ""
                items.append(f"<Container><Name>{escape(name)}</Name><Properties><Last-Modified>{c['modified']}"
                             f"</Last-Modified><Etag>{c['etag']}</Etag><LeaseStatus>unlocked</LeaseStatus>"
                             "<LeaseState>available</LeaseState><HasImmutabilityPolicy>false</HasImmutabilityPolicy>"
                             "<HasLegalHold>false</HasLegalHold></Properties>"
                             f"{'<Metadata>' + meta + '</Metadata>' if meta else ''}</Container>")
            body = (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://'
                    f'{acc["name"]}.blob.core.windows.net/"><Prefix>{escape(prefix)}</Prefix><Containers>'
                    f'{"".join(items)}</Containers><NextMarker /></EnumerationResults>')
            return Response(200, body.encode(), {"Content-Type": "application/xml", "x-ms-version": API_VERSION})
        raise _berr(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
                                                      f"{req.method} {req.url}")

    def _container_or_404(self, acc: dict, container: str) -> dict:
        c = acc["containers"].get(container)
        if c is None:
            raise _berr(404, "ContainerNotFound", "The specified container does not exist.")
        return c

    def _blob_container(self, req: Request, acc: dict, name: str, comp: str, restype: str) -> Response:
        base = {"x-ms-version": API_VERSION}
        if restype == "container" and not comp:
            if req.method == "PUT":
                if not (3 <= len(name) <= 63) or not all(ch.islower() or ch.isdigit() or ch == "-" for ch in name) \
                        or name.startswith("-") or name.endswith("-") or "--" in name:
                    if name != "$root":
                        raise _berr(400, "InvalidResourceName", "The specifed resource name contains invalid "
                                                                "characters.")
                if name in acc["containers"]:
                    raise _berr(409, "ContainerAlreadyExists", "The specified container already exists.")
                c = self._create_container(acc, name, self._meta_from_headers(req))
                return Response(201, None, {**base, "ETag": c["etag"], "Last-Modified": c["modified"]})
            c = self._container_or_404(acc, name)
            if req.method in ("GET", "HEAD"):
                return Response(200, None, {**base, "ETag": c["etag"], "Last-Modified": c["modified"],
                                            "x-ms-lease-status": "unlocked", "x-ms-lease-state": "available",
                                            "x-ms-has-immutability-policy": "false", "x-ms-has-legal-hold": "false",
                                            **self._meta_headers(c["metadata"])})
            if req.method == "DELETE":
                del acc["containers"][name]
                return Response(202, None, base)
        if restype == "container" and comp == "metadata" and req.method == "PUT":
            c = self._container_or_404(acc, name)
            c["metadata"] = self._meta_from_headers(req)
            c["etag"] = _etag()
            return Response(200, None, {**base, "ETag": c["etag"], "Last-Modified": _http_date()})
        if comp == "list" and req.method == "GET":
            return self._list_blobs(req, acc, name)
        if restype == "container" and comp == "acl":
            self._container_or_404(acc, name)
            if req.method == "GET":
                return Response(200, b'<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers />',
                                {**base, "Content-Type": "application/xml"})
            return Response(200, None, base)
        raise _berr(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
                                                      f"{req.method} {req.url}")

    def _list_blobs(self, req: Request, acc: dict, container: str) -> Response:
        c = self._container_or_404(acc, container)
        prefix = req.query.get("prefix", "")
        delimiter = req.query.get("delimiter", "")
        marker = req.query.get("marker", "")
        max_results = int(req.query.get("maxresults", "5000"))
        include = req.query.get("include", "")
        entries: list[tuple[str, str]] = []  # (name, kind)
        seen_prefixes = set()
        for name in sorted(c["blobs"]):
            if not name.startswith(prefix):
                continue
            if delimiter:
                rest = name[len(prefix):]
                idx = rest.find(delimiter)
                if idx >= 0:
                    p = prefix + rest[: idx + len(delimiter)]
                    if p not in seen_prefixes:
                        seen_prefixes.add(p)
                        entries.append((p, "prefix"))
                    continue
            entries.append((name, "blob"))
        entries.sort(key=lambda e: e[0])
        if marker:
            entries = [e for e in entries if e[0] >= marker]
        page, rest = entries[:max_results], entries[max_results:]
        items = []
        for name, kind in page:
            if kind == "prefix":
                items.append(f"<BlobPrefix><Name>{escape(name)}</Name></BlobPrefix>")
                continue
            b = c["blobs"][name]
            meta = ""
            if "metadata" in include:
                meta = "<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in b["metadata"].items()) + \
                       "</Metadata>"
            items.append(
                f"<Blob><Name>{escape(name)}</Name><Properties><Creation-Time>{b['created']}</Creation-Time>"
                f"<Last-Modified>{b['modified']}</Last-Modified><Etag>{b['etag']}</Etag>"
                f"<Content-Length>{len(b['data'])}</Content-Length><Content-Type>{escape(b['content_type'])}"
                f"</Content-Type><Content-Encoding>{escape(b.get('content_encoding') or '')}</Content-Encoding>"
                f"<Content-Language /><Content-CRC64 /><Content-MD5>{b.get('md5') or ''}</Content-MD5>"
                "<Cache-Control /><Content-Disposition /><BlobType>BlockBlob</BlobType><AccessTier>Hot</AccessTier>"
                "<AccessTierInferred>true</AccessTierInferred><LeaseStatus>unlocked</LeaseStatus>"
                "<LeaseState>available</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties>"
                f"{meta}</Blob>")
        next_marker = escape(rest[0][0]) if rest else ""
        body = (f'<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://'
                f'{acc["name"]}.blob.core.windows.net/" ContainerName="{escape(container)}">'
                f"<Prefix>{escape(prefix)}</Prefix>"
                f"{f'<Marker>{escape(marker)}</Marker>' if marker else ''}"
                f"<MaxResults>{max_results}</MaxResults>"
                f"{f'<Delimiter>{escape(delimiter)}</Delimiter>' if delimiter else ''}"
                f"<Blobs>{''.join(items)}</Blobs>"
                f"{f'<NextMarker>{next_marker}</NextMarker>' if next_marker else '<NextMarker />'}"
                "</EnumerationResults>")
        return Response(200, body.encode("utf-8"), {"Content-Type": "application/xml", "x-ms-version": API_VERSION})

    def _blob_or_404(self, c: dict, name: str) -> dict:
        b = c["blobs"].get(name)
        if b is None:
            raise _berr(404, "BlobNotFound", "The specified blob does not exist.")
        return b

    def _check_conditions(self, req: Request, blob: dict | None) -> None:
        inm = req.headers.get("if-none-match")
        if inm == "*" and blob is not None:
            raise _berr(409, "BlobAlreadyExists", "The specified blob already exists.")
        if inm and inm != "*" and blob is not None and inm == blob["etag"]:
            if req.method in ("GET", "HEAD"):
                raise ApiError(304, "ConditionNotMet", "Not modified.")
            raise _berr(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not "
                                                "met.")
        im = req.headers.get("if-match")
        if im and im != "*" and (blob is None or im != blob["etag"]):
            raise _berr(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not "
                                                "met.")

    def _blob_blob(self, req: Request, acc: dict, container: str, name: str, comp: str) -> Response:
        c = self._container_or_404(acc, container)
        base = {"x-ms-version": API_VERSION}
        if req.method == "PUT" and not comp:
            existing = c["blobs"].get(name)
            self._check_conditions(req, existing)
            source = req.headers.get("x-ms-copy-source")
            if source:
                data, ctype, meta = self._read_copy_source(source)
                meta = self._meta_from_headers(req) or meta
                b = self._write_blob(acc, container, name, data, content_type=ctype, metadata=meta)
                return Response(202, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"],
                                            "x-ms-copy-id": os.urandom(8).hex(), "x-ms-copy-status": "success"})
            btype = req.headers.get("x-ms-blob-type", "BlockBlob")
            if btype != "BlockBlob":
                raise _berr(400, "UnsupportedHeader", f"FakeAzure supports block blobs only, not {btype}.")
            md5 = req.headers.get("content-md5")
            if md5 and md5 != base64.b64encode(hashlib.md5(req.body).digest()).decode():
                raise _berr(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 "
                                                "value calculated by the server.")
            b = self._write_blob(acc, container, name, req.body,
                                 content_type=req.headers.get("x-ms-blob-content-type"),
                                 metadata=self._meta_from_headers(req), headers=req.headers)
            return Response(201, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"],
                                        "Content-MD5": base64.b64encode(hashlib.md5(req.body).digest()).decode(),
                                        "x-ms-request-server-encrypted": "true"})
        if req.method == "PUT" and comp == "block":
            block_id = req.query.get("blockid")
            if not block_id:
                raise _berr(400, "InvalidQueryParameterValue", "blockid is required.")
            c["uncommitted"].setdefault(name, {})[block_id] = req.body
            return Response(201, None, {**base, "x-ms-request-server-encrypted": "true"})
        if req.method == "PUT" and comp == "blocklist":
            existing = c["blobs"].get(name)
            self._check_conditions(req, existing)
            root = ET.fromstring(req.body.decode("utf-8"))
            staged = c["uncommitted"].get(name, {})
            committed = {bid: data for bid, data in (existing or {}).get("blocks", [])}
            data_parts, blocks = [], []
            for el in root:
                bid = el.text or ""
                tag = el.tag.lower()
                if tag in ("latest", "uncommitted") and bid in staged:
                    chunk = staged[bid]
                elif tag in ("latest", "committed") and bid in committed:
                    chunk = committed[bid]
                else:
                    raise _berr(400, "InvalidBlockList", "The specified block list is invalid.")
                data_parts.append(chunk)
                blocks.append((bid, chunk))
            b = self._write_blob(acc, container, name, b"".join(data_parts),
                                 content_type=req.headers.get("x-ms-blob-content-type"),
                                 metadata=self._meta_from_headers(req), headers=req.headers)
            b["blocks"] = blocks
            return Response(201, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"],
                                        "x-ms-request-server-encrypted": "true"})
        if req.method == "GET" and comp == "blocklist":
            b = c["blobs"].get(name)
            committed = "".join(f"<Block><Name>{escape(bid)}</Name><Size>{len(d)}</Size></Block>"
                                for bid, d in (b or {}).get("blocks", []))
            staged = "".join(f"<Block><Name>{escape(bid)}</Name><Size>{len(d)}</Size></Block>"
                             for bid, d in c["uncommitted"].get(name, {}).items())
            body = (f'<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks>{committed}</CommittedBlocks>'
                    f"<UncommittedBlocks>{staged}</UncommittedBlocks></BlockList>")
            return Response(200, body.encode(), {**base, "Content-Type": "application/xml"})
        if req.method == "PUT" and comp == "metadata":
            b = self._blob_or_404(c, name)
            self._check_conditions(req, b)
            b["metadata"] = self._meta_from_headers(req)
            b["etag"], b["modified"] = _etag(), _http_date()
            return Response(200, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"]})
        if req.method == "PUT" and comp == "properties":
            b = self._blob_or_404(c, name)
            if "x-ms-blob-content-type" in req.headers:
                b["content_type"] = req.headers["x-ms-blob-content-type"]
            if "x-ms-blob-content-md5" in req.headers:
                b["md5"] = req.headers["x-ms-blob-content-md5"]
            b["etag"], b["modified"] = _etag(), _http_date()
            return Response(200, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"]})
        if req.method in ("GET", "HEAD") and not comp:
            b = self._blob_or_404(c, name)
            self._check_conditions(req, b)
            headers = {**base, **self._blob_headers(b)}
            data = b["data"]
            rng = req.headers.get("x-ms-range") or req.headers.get("range")
            if rng and req.method == "GET":
                start_s, _, end_s = rng.replace("bytes=", "").partition("-")
                start = int(start_s or 0)
                end = int(end_s) if end_s else len(data) - 1
                if start >= len(data):
                    raise ApiError(416, "InvalidRange", "The range specified is invalid for the current size of "
                                                        "the resource.",
                                   headers={"Content-Range": f"bytes */{len(data)}"})
                end = min(end, len(data) - 1)
                chunk = data[start:end + 1]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                if req.headers.get("x-ms-range-get-content-md5") == "true":
                    headers["Content-MD5"] = base64.b64encode(hashlib.md5(chunk).digest()).decode()
                elif start != 0 or end != len(data) - 1:
                    headers.pop("Content-MD5", None)
                    headers["x-ms-blob-content-md5"] = b.get("md5") or ""
                return Response(206, chunk, headers)
            if req.method == "HEAD":
                headers["Content-Length"] = str(len(data))
                return Response(200, None, headers)
            return Response(200, data, headers)
        if req.method == "DELETE" and not comp:
            b = self._blob_or_404(c, name)
            self._check_conditions(req, b)
            del c["blobs"][name]
            return Response(202, None, {**base, "x-ms-delete-type-permanent": "true"})
        raise _berr(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
                                                      f"{req.method} {req.url}")

    def _read_copy_source(self, source: str) -> tuple[bytes, str, dict]:
        parts = urllib.parse.urlsplit(source)
        acc = self.storage_accounts.get((parts.hostname or "").split(".")[0])
        path = urllib.parse.unquote(parts.path).lstrip("/").split("/", 1)
        if acc is None or len(path) < 2 or path[0] not in acc["containers"]:
            raise _berr(404, "CannotVerifyCopySource", "The specified blob does not exist.")
        b = acc["containers"][path[0]]["blobs"].get(path[1])
        if b is None:
            raise _berr(404, "CannotVerifyCopySource", "The specified blob does not exist.")
        return b["data"], b["content_type"], dict(b["metadata"])
