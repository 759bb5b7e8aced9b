"""Azure ML schedules: GET/list (listViewType)/PUT (LRO; Recurrence or Cron)/DELETE. Schedules never fire."""

from __future__ import annotations

import copy

from ._core import WS
from ._http import Request, Response, bad_request, json_response, not_found, route


class SchedulesMixin:
    """``WorkspaceState.schedules``."""

    @route("GET", "arm", WS + "/schedules")
    def ml_list_schedules(self, req: Request) -> Response:
        ws = self._ws(req)
        items = list(ws.schedules.values())
        view = (req.query.get("listviewtype") or "EnabledOnly").lower()
        if view == "enabledonly":
            items = [s for s in items if s["properties"].get("isEnabled", True)]
        elif view == "disabledonly":
            items = [s for s in items if not s["properties"].get("isEnabled", True)]
        return json_response({"value": items, "nextLink": None})

    @route("GET", "arm", WS + "/schedules/{name}")
    def ml_get_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        s = ws.schedules.get(req.match["name"].lower())
        if s is None:
            raise not_found(f"Schedule '{req.match['name']}' was not found.", code="UserError")
        return json_response(s)

    @route("PUT", "arm", WS + "/schedules/{name}")
    def ml_put_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"]
        body = req.json()
        props = copy.deepcopy(body.get("properties") or {})
        trigger = props.get("trigger") or {}
        ttype = trigger.get("triggerType")
        if ttype not in ("Recurrence", "Cron"):
            raise bad_request(f"Unsupported triggerType '{ttype}'.", code="UserError")
        if ttype == "Recurrence":
            freq = trigger.get("frequency")
            if (freq or "").lower() not in ("minute", "hour", "day", "week", "month"):
                raise bad_request(f"Invalid recurrence frequency '{freq}'.", code="UserError")
            if int(trigger.get("interval") or 0) < 1:
                raise bad_request("Recurrence interval must be a positive integer.", code="UserError")
        action = props.get("action") or {}
        if not action.get("actionType"):
            raise bad_request("Schedule action is required.", code="UserError")
        current = ws.schedules.get(name.lower())
        props.setdefault("isEnabled", True)
        props["provisioningState"] = "Creating" if current is None else "Updating"
        sched = {"id": ws.child_id("schedules", name), "name": name,
                 "type": "Microsoft.MachineLearningServices/workspaces/schedules", "properties": props,
                 "systemData": self._system_data(req, (current or {}).get("systemData"))}
        ws.schedules[name.lower()] = sched

        def ok():
            sched["properties"]["provisioningState"] = "Succeeded"

        def failed(_e):
            sched["properties"]["provisioningState"] = "Failed"

        headers = self._start_lro(req, on_success=ok, on_failure=failed, location=ws.location)
        snapshot = copy.deepcopy(sched)
        return json_response(snapshot, 200 if current else 201, headers)

    @route("DELETE", "arm", WS + "/schedules/{name}")
    def ml_delete_schedule(self, req: Request) -> Response:
        ws = self._ws(req)
        name = req.match["name"].lower()
        if name not in ws.schedules:
            return Response(204)

        def done():
            ws.schedules.pop(name, None)

        headers = self._start_lro(req, on_success=done, location=ws.location, location_header=True)
        return Response(202, None, headers)
