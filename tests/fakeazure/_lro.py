"""Long-running operations: the headers a create/update/delete answers with (Azure-AsyncOperation /
Location), and the status and result polls that follow them."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from ._core import SUB, Failure, now_iso
from ._http import ApiError, Request, Response, json_response, route


@dataclass
class Operation:
    """A long-running operation: polled through Azure-AsyncOperation (status body) or Location."""

    id: str
    polls_left: int
    failure: dict | None
    on_success: Callable[[], Any] | None
    on_failure: Callable[[dict], Any] | None
    location_body: Callable[[], Any] | None = None
    status: str = "InProgress"
    error: dict | None = None
    started: str = ""
    ended: str | None = None

    def finish(self) -> None:
        if self.status != "InProgress":
            return
        self.ended = now_iso()
        if self.failure:
            self.status = "Failed"
            self.error = {"code": self.failure["code"], "message": self.failure["message"]}
            if self.on_failure:
                self.on_failure(self.error)
        else:
            self.status = "Succeeded"
            if self.on_success:
                self.on_success()


class LroMixin:
    """Starts LROs for handlers (``_start_lro``, ``_accepted_put``) and answers their polls."""

    # ------------------------------------------------------------------ starting operations

    def _start_lro(self, req: Request, *, on_success: Callable[[], Any] | None = None,
                   on_failure: Callable[[dict], Any] | None = None, location: str | None = None,
                   location_body: Callable[[], Any] | None = None, async_header: bool = True,
                   location_header: bool = False, namespace: str = "Microsoft.MachineLearningServices"
                   ) -> dict[str, str]:
        """Register an LRO for this request; returns the headers to send with the 201/202.

        With lro_polls == 0 the operation (and its side effects) completes at once and the first status
        poll answers the terminal state; otherwise that many polls answer InProgress first.
        """
        failure = None
        if req.lro_failure is not None:
            rule: Failure = req.lro_failure
            rule.hits += 1
            failure = {"code": rule.code, "message": rule.message}
            req.lro_failure = None
        op = Operation(id=str(uuid.uuid4()), polls_left=self.lro_polls, failure=failure, on_success=on_success,
                       on_failure=on_failure, location_body=location_body, started=now_iso())
        self.operations[op.id] = op
        if op.polls_left <= 0:
            op.finish()
        base = f"https://{req.host.lower()}" if req.kind == "arm" else req.base  # the cloud's own ARM host
        sub = (req.match.get("sub") or next(iter(self.subscriptions.values()))["id"])
        loc = location or "global"
        headers: dict[str, str] = {}
        if async_header:
            kind = "mfeOperationsStatus" if namespace == "Microsoft.MachineLearningServices" else "operationStatuses"
            headers["Azure-AsyncOperation"] = (f"{base}/subscriptions/{sub}/providers/{namespace}/locations/{loc}"
                                               f"/{kind}/{op.id}?api-version=2024-10-01")
        if location_header or not async_header:
            if namespace == "Microsoft.Resources":
                headers["Location"] = f"{base}/subscriptions/{sub}/operationresults/{op.id}?api-version=2022-09-01"
            else:
                kind = "mfeOperationResults" if namespace == "Microsoft.MachineLearningServices" \
                    else "operationResults"
                headers["Location"] = (f"{base}/subscriptions/{sub}/providers/{namespace}/locations/{loc}/{kind}/"
                                       f"{op.id}?api-version=2024-10-01")
        if self.lro_polls > 0:
            headers["Retry-After"] = str(self.lro_retry_after)
        return headers

    def _poll(self, op_id: str) -> Operation:
        op = self.operations.get(op_id)
        if op is None:
            raise ApiError(404, "NotFound", f"Operation '{op_id}' was not found.")
        if op.status == "InProgress":
            if op.polls_left > 0:
                op.polls_left -= 1
            else:
                op.finish()
        return op

    def complete_operations(self) -> None:
        """Finish every pending LRO now (for tests using lro_polls > 0 that stop polling)."""
        with self._lock:
            for op in self.operations.values():
                op.finish()

    def _accepted_put(self, req: Request, ws: Any, resource: dict, current: Any,
                      on_failure: Callable[[dict], Any] | None = None) -> Response:
        """Answer a create/update as Azure does: 200/201 with Creating/Updating, then an async
        operation that ends with the resource Succeeded (or Failed)."""
        def ok():
            resource["properties"]["provisioningState"] = "Succeeded"

        def failed(_error):
            resource["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=ok, on_failure=on_failure or failed, location=ws.location)
        snapshot = copy.deepcopy(resource)
        snapshot["properties"]["provisioningState"] = "Creating" if current is None else "Updating"
        return json_response(snapshot, 200 if current else 201, headers)

    # ------------------------------------------------------------------ operation polling

    @route("GET", "arm,ml", SUB + "/providers/{ns}/locations/{loc}/{kind:(?:mfeOperationsStatus|operationStatuses|"
                                  "operationsStatus|asyncOperations)}/{op}")
    def arm_operation_status(self, req: Request) -> Response:
        op = self._poll(req.match["op"])
        body: dict[str, Any] = {"id": req.path, "name": op.id, "status": op.status, "startTime": op.started}
        if op.ended:
            body["endTime"] = op.ended
        if op.error:
            body["error"] = op.error
        headers = {"Retry-After": str(self.lro_retry_after)} if op.status == "InProgress" else {}
        return json_response(body, 200, headers)

    @route("GET", "arm,ml", SUB + "/providers/{ns}/locations/{loc}/{kind:(?:mfeOperationResults|operationResults)}"
                                  "/{op}")
    @route("GET", "arm", SUB + "/operationresults/{op}")
    def arm_operation_result(self, req: Request) -> Response:
        op = self._poll(req.match["op"])
        if op.status == "InProgress":
            return Response(202, None, {"Location": req.url, "Retry-After": str(self.lro_retry_after)})
        if op.status == "Failed":
            # a terminal failure: a 4xx, so SDK pipelines do not retry the poll
            raise ApiError(409, op.error["code"], op.error["message"])
        body = op.location_body() if op.location_body else None
        if body is None:
            return Response(204)
        return json_response(body, 200)
