"""What every part of the fake shares: default identities, ARM path templates, timestamps, and the records of
the calls log and of failure injection. Resource modules import from here; this module imports none of them."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from ._http import Request

DEFAULT_TENANT = "72f988bf-0000-4000-8000-000000000001"
DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
DEFAULT_CLIENT_ID = "11111111-0000-4000-8000-000000000001"
DEFAULT_SECRET = "fake-client-secret-value"


# ARM path templates ({name} matches one path segment, see _http.compile_path)
SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
MLP = "/providers/Microsoft.MachineLearningServices"
WS = RG + MLP + "/workspaces/{ws}"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Call(tuple):
    """(method, path, status) of one request the fake answered; also .host, .url, .query."""

    def __new__(cls, method: str, path: str, status: int, host: str = "", url: str = "",
                query: dict | None = None):
        self = tuple.__new__(cls, (method, path, status))
        self.host = host
        self.url = url
        self.query = query or {}
        return self

    method = property(lambda self: self[0])
    path = property(lambda self: self[1])
    status = property(lambda self: self[2])


@dataclass
class Failure:
    """One failure-injection rule (see FakeAzure.inject_failure)."""

    method: str | None
    path_contains: str | None
    host_contains: str | None
    kind: str  # "http" | "connection" | "lro"
    status: int
    code: str
    message: str
    times: int | None  # None = forever
    retry_after: int | None
    hits: int = 0

    def matches(self, req: Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        if self.path_contains and self.path_contains.lower() not in req.path.lower():
            return False
        if self.host_contains and self.host_contains.lower() not in req.host:
            return False
        return True

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times
