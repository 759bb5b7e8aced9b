"""Request/response plumbing shared by every part of the fake: parsing, routing, errors."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

# the public cloud, then Azure China and Azure US Government (`az cloud show`): one fake state serves all
ARM_HOSTS = ("management.azure.com", "management.chinacloudapi.cn", "management.usgovcloudapi.net")
AAD_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net",
             "login.chinacloudapi.cn", "login.microsoftonline.us")
STORAGE_SUFFIX = {"management.chinacloudapi.cn": "core.chinacloudapi.cn",
                  "management.usgovcloudapi.net": "core.usgovcloudapi.net"}


def storage_suffix(host: str) -> str:
    """The storage endpoint suffix of the cloud whose Resource Manager `host` is."""
    return STORAGE_SUFFIX.get((host or "").lower(), "core.windows.net")


BLOB_SUFFIXES = (".blob.core.windows.net", ".dfs.core.windows.net", ".blob.core.chinacloudapi.cn",
                 ".blob.core.usgovcloudapi.net")

# Hosts the fake answers for. Anything else (e.g. Azurite on 127.0.0.1) goes to the real network.
FAKE_HOST_SUFFIXES = (
    ".azure.com",  # management, ml.azure.com, inference.ml.azure.com, applicationinsights...
    ".azure.net",  # key vault, monitor
    ".windows.net",  # blob/file/queue/table storage, login.windows.net
    ".microsoftonline.com",
    ".microsoft.com",
    ".azureml.ms",
    ".azureml.net",
    ".aether.ms",
    ".visualstudio.com",  # app insights telemetry (dc.services.visualstudio.com)
    ".azurecr.io",
    ".cortanaanalytics.com",
    ".cortanaintelligence.com",
    ".azureedge.net",  # azureml schema downloads
    ".chinacloudapi.cn",  # Azure China: management, login, storage
    ".usgovcloudapi.net",  # Azure US Government: management, storage
    ".microsoftonline.us",  # Azure US Government sign-in
    ".ml.azure.cn",
    ".ml.azure.us",
)
IMDS_HOSTS = ("169.254.169.254", "169.254.169.253")


def is_fake_host(host: str) -> bool:
    host = (host or "").lower().rstrip(".")
    if host in IMDS_HOSTS:
        return True
    return any(host.endswith(s) or host == s.lstrip(".") for s in FAKE_HOST_SUFFIXES)


def host_kind(host: str) -> str:
    """Classify a host: arm, aad, blob, file, ml (AML data plane + scoring), imds, telemetry, other."""
    host = host.lower()
    if host in ARM_HOSTS:
        return "arm"
    if host in AAD_HOSTS:
        return "aad"
    if host in IMDS_HOSTS:
        return "imds"
    if host.endswith(BLOB_SUFFIXES):
        return "blob"
    if host.endswith(".file.core.windows.net"):
        return "file"
    if host.endswith((".api.azureml.ms", ".ml.azure.com", ".azureml.net", ".aether.ms", ".experiments.azureml.net",
                      ".ml.azure.cn", ".ml.azure.us")):
        return "ml"
    if "applicationinsights" in host or host.endswith(".visualstudio.com") or "monitor.azure.com" in host:
        return "telemetry"
    return "other"


class ApiError(Exception):
    """Raised by handlers: becomes an Azure-style error response."""

    def __init__(self, status: int, code: str, message: str, *, details: list | None = None,
                 headers: dict | None = None, body: Any = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.body = body  # overrides the default {"error": {...}} body when given

    def error_body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}


def not_found(message: str, code: str = "ResourceNotFound") -> ApiError:
    return ApiError(404, code, message)


def bad_request(message: str, code: str = "UserError") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class Request:
    method: str
    url: str
    scheme: str
    host: str
    path: str  # URL-decoded path, original case
    raw_path: str  # path as sent (percent-encoded)
    query: dict[str, str]  # keys lower-cased, values as sent
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    kind: str
    match: dict[str, str] = field(default_factory=dict)
    lro_failure: dict | None = None  # set by an "lro" failure injection

    @classmethod
    def from_proxy(cls, proxy) -> "Request":
        parts = urlsplit(proxy.url)
        query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        headers = {k.lower(): v for k, v in proxy.headers.items()}
        body = proxy.body
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode("utf-8")
        elif hasattr(body, "read"):
            raw = body.read()
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
        else:  # an iterable of chunks (streamed upload)
            raw = b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
        host = (parts.hostname or "").lower()
        return cls(method=proxy.method.upper(), url=proxy.url, scheme=parts.scheme, host=host,
                   path=unquote(parts.path) or "/", raw_path=parts.path or "/", query=query, headers=headers, body=raw,
                   kind=host_kind(host))

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body.decode("utf-8-sig"))
        except ValueError as exc:
            raise bad_request(f"The request body is not valid JSON: {exc}", code="InvalidRequestContent")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes -> as is; str -> text; None -> empty
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    h = {"Content-Type": "application/json; charset=utf-8"}
    h.update(headers or {})
    return Response(status, body, h)


# ---------------------------------------------------------------- routing

_PARAM = re.compile(r"\{(\w+)(?::([^}]+))?\}")


def compile_path(template: str) -> re.Pattern:
    """'/subscriptions/{sub}/x/{rest:.*}' -> case-insensitive regex with named groups."""
    out, pos = [], 0
    for m in _PARAM.finditer(template):
        out.append(re.escape(template[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("^" + "".join(out) + "/?$", re.IGNORECASE)


@dataclass
class Route:
    methods: tuple[str, ...]
    kinds: tuple[str, ...]
    pattern: re.Pattern
    template: str
    handler_name: str
    priority: int


def route(methods: str, kinds: str, template: str, priority: int = 0) -> Callable:
    """Decorator for handler methods: methods 'GET,PUT', host kinds 'arm,ml', a path template."""

    def deco(fn):
        spec = getattr(fn, "_fake_routes", [])
        spec.append((tuple(m.strip().upper() for m in methods.split(",")),
                     tuple(k.strip() for k in kinds.split(",")), template, priority))
        fn._fake_routes = spec
        return fn

    return deco


def collect_routes(obj) -> list[Route]:
    routes: list[Route] = []
    seen = set()
    for klass in type(obj).__mro__:
        for name, fn in vars(klass).items():
            if name in seen:
                continue
            for methods, kinds, template, priority in getattr(fn, "_fake_routes", []):
                routes.append(Route(methods, kinds, compile_path(template), template, name, priority))
            if hasattr(fn, "_fake_routes"):
                seen.add(name)
    routes.sort(key=lambda r: -r.priority)
    return routes


def new_id() -> str:
    return str(uuid.uuid4())
