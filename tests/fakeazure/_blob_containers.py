"""Blob data plane (``https://<account>.blob.core.windows.net``): the single route every blob request takes,
account-level requests and containers (create, properties, metadata, ACL, list, delete, list blobs).

Enough for azure-storage-blob and azure-ai-ml's internal uploads/downloads; blob requests are in _blob_blobs."""

from __future__ import annotations

from xml.sax.saxutils import escape

from ._blob_accounts import API_VERSION, blob_error, http_date, new_etag
from ._http import Request, Response, route


class BlobContainersMixin:
    """The blob entry point; an unknown account raises ConnectionError like a DNS failure."""

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

    # ------------------------------------------------------------------ account and containers

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
        raise blob_error(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
                                                      f"{req.method} {req.url}")

    def _container_or_404(self, acc: dict, container: str) -> dict:
        c = acc["containers"].get(container)
        if c is None:
            raise blob_error(404, "ContainerNotFound", "The specified container does not exist.")
        return c

    def _blob_container(self, req: Request, acc: dict, name: str, comp: str, restype: str) -> Response:
        base = {"x-ms-version": API_VERSION}
        if restype == "container" and not comp:
            if req.method == "PUT":
                if not (3 <= len(name) <= 63) or not all(ch.islower() or ch.isdigit() or ch == "-" for ch in name) \
                        or name.startswith("-") or name.endswith("-") or "--" in name:
                    if name != "$root":
                        raise blob_error(400, "InvalidResourceName", "The specifed resource name contains invalid "
                                                                "characters.")
                if name in acc["containers"]:
                    raise blob_error(409, "ContainerAlreadyExists", "The specified container already exists.")
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
            c["etag"] = new_etag()
            return Response(200, None, {**base, "ETag": c["etag"], "Last-Modified": http_date()})
        if comp == "list" and req.method == "GET":
            return self._list_blobs(req, acc, name)
        if restype == "container" and comp == "acl":
            self._container_or_404(acc, name)
            if req.method == "GET":
                return Response(200, b'<?xml version="1.0" encoding="utf-8"?><SignedIdentifiers />',
                                {**base, "Content-Type": "application/xml"})
            return Response(200, None, base)
        raise blob_error(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
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
