"""The schedule: a record of how often the endpoint is invoked on the uploaded data; `--serve`
fires it (engine.serve_schedule)."""

from __future__ import annotations

from engine.context import StepContext
from engine.deployment import input_uri
from engine.fileio import write_json
from engine.steps import NO_SCHEDULE, Check, Done, none
from engine.targets.local.state import LocalStep, read


def _when(start_time: str, time_zone: str) -> str:
    """The start and time zone in a plan line, when they are not the defaults. `amlbatch --serve`
    fires the schedule (engine.serve_schedule)."""
    return (f" from {start_time}" if start_time else "") + (f" ({time_zone})" if time_zone != "UTC" else "")


class Schedule(LocalStep):
    key = "schedule"

    def check(self, ctx: StepContext) -> Check:
        sched = self.profile.schedule
        current = read(self.target.json_path("schedules", sched.name))
        if not sched.frequency:
            if current is not None and self.target.ours(current):
                return Check("update", f"remove schedule '{sched.name}' (the profile has none)")
            return Check("skip", "no schedule asked for")
        want = f"every {sched.interval} {sched.frequency}(s)" + _when(sched.start_time, sched.time_zone)
        if current is None:
            return Check("create", f"schedule '{sched.name}' {want}")
        had = (current["frequency"], current["interval"], current.get("start_time", ""),
               current.get("time_zone", "UTC"))  # records made before start_time and time_zone: the defaults
        if had != (sched.frequency, sched.interval, sched.start_time, sched.time_zone):
            check = Check("update", f"schedule '{sched.name}': every {current['interval']} "
                                    f"{current['frequency']}(s){_when(*had[2:])} -> {want}", current)
        else:
            check = none(f"schedule '{sched.name}' {want}", current)
        return self.guard(ctx, f"schedule '{sched.name}'", current, check,
                          self.target.json_path("schedules", sched.name))

    def apply(self, ctx: StepContext, check: Check) -> Done:
        sched = self.profile.schedule
        path = self.target.json_path("schedules", sched.name)
        if not sched.frequency:
            path.unlink()
            return Done("updated", check.detail)
        fields = dict(frequency=sched.frequency, interval=sched.interval, start_time=sched.start_time,
                      time_zone=sched.time_zone, endpoint=self.profile.endpoint_name,
                      input=input_uri(self.profile), enabled=True)
        if check.plan == "update":
            write_json(path, {**check.value, **fields})
            return Done("updated", check.detail)
        write_json(path, self.target.new(name=sched.name, **fields))
        return Done("created", check.detail)

    def check_delete(self, ctx: StepContext) -> Check:
        name = self.profile.schedule.name
        if not self.profile.schedule.frequency and not self.target.json_path("schedules", name).exists():
            return Check("skip", NO_SCHEDULE)
        return self.check_delete_record(self.target.json_path("schedules", name), f"schedule '{name}'")

    delete = LocalStep.delete_record
