"""Blob data plane: block blobs (put, put block / block list, copy from URL, get with ranges, properties,
metadata, delete) with If-Match / If-None-Match and Content-MD5 checks."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.parse
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from ._blob_accounts import API_VERSION, blob_error, http_date, new_etag
from ._http import ApiError, Request, Response


class BlobsMixin:
    """Requests for ``/<container>/<blob>``, reached through BlobContainersMixin.blob_dispatch."""

    # ------------------------------------------------------------------ headers and conditions

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

    def _blob_or_404(self, c: dict, name: str) -> dict:
        b = c["blobs"].get(name)
        if b is None:
            raise blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        return b

    def _check_conditions(self, req: Request, blob: dict | None) -> None:
        inm = req.headers.get("if-none-match")
        if inm == "*" and blob is not None:
            raise blob_error(409, "BlobAlreadyExists", "The specified blob already exists.")
        if inm and inm != "*" and blob is not None and inm == blob["etag"]:
            if req.method in ("GET", "HEAD"):
                raise ApiError(304, "ConditionNotMet", "Not modified.")
            raise blob_error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not "
                                                "met.")
        im = req.headers.get("if-match")
        if im and im != "*" and (blob is None or im != blob["etag"]):
            raise blob_error(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not "
                                                "met.")

    # ------------------------------------------------------------------ blob requests

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
                raise blob_error(400, "UnsupportedHeader", f"FakeAzure supports block blobs only, not {btype}.")
            md5 = req.headers.get("content-md5")
            if md5 and md5 != base64.b64encode(hashlib.md5(req.body).digest()).decode():
                raise blob_error(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 "
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
                raise blob_error(400, "InvalidQueryParameterValue", "blockid is required.")
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
                    raise blob_error(400, "InvalidBlockList", "The specified block list is invalid.")
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
            b["etag"], b["modified"] = new_etag(), http_date()
            return Response(200, None, {**base, "ETag": b["etag"], "Last-Modified": b["modified"]})
        if req.method == "PUT" and comp == "properties":
            b = self._blob_or_404(c, name)
            if "x-ms-blob-content-type" in req.headers:
                b["content_type"] = req.headers["x-ms-blob-content-type"]
            if "x-ms-blob-content-md5" in req.headers:
                b["md5"] = req.headers["x-ms-blob-content-md5"]
            b["etag"], b["modified"] = new_etag(), http_date()
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
        raise blob_error(400, "UnsupportedQueryParameter", f"FakeAzure blob service: unsupported request "
                                                      f"{req.method} {req.url}")

    def _read_copy_source(self, source: str) -> tuple[bytes, str, dict]:
        parts = urllib.parse.urlsplit(source)
        acc = self.storage_accounts.get((parts.hostname or "").split(".")[0])
        path = urllib.parse.unquote(parts.path).lstrip("/").split("/", 1)
        if acc is None or len(path) < 2 or path[0] not in acc["containers"]:
            raise blob_error(404, "CannotVerifyCopySource", "The specified blob does not exist.")
        b = acc["containers"][path[0]]["blobs"].get(path[1])
        if b is None:
            raise blob_error(404, "CannotVerifyCopySource", "The specified blob does not exist.")
        return b["data"], b["content_type"], dict(b["metadata"])
