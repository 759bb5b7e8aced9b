"""The profile's schedule, fired by `--serve`: occurrences with Azure's recurrence semantics, and
the loop that submits a run at each one.

Azure ML's RecurrenceTrigger (frequency, interval, start_time, time_zone): the first run is at the
start time, then every `interval` frequency units. Minute and hour recurrences are elapsed time;
day, week and month recurrences keep the start's wall-clock time in the schedule's time zone, so a
daily 09:00 run stays at 09:00 across a daylight-saving change. A wall-clock time that does not
exist that day (the hour skipped in spring) runs as the clocks read after the jump (02:30 becomes
03:30); one that happens twice (autumn) runs once, at the first. A monthly run started on a day
the month lacks (the 31st) runs on the month's last day.

The loop takes its clock: `now()` and `wait(seconds)` (returns True when told to stop), so tests
drive it without waiting.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

ELAPSED = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


def parse_start(text: str, zone: ZoneInfo) -> datetime:
    """A start time as ISO 8601; without an offset it is read in the schedule's time zone (as Azure
    reads a start_time with a time_zone)."""
    start = datetime.fromisoformat(text)
    return start if start.tzinfo else start.replace(tzinfo=zone)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Recurrence:
    frequency: str  # minute | hour | day | week | month
    interval: int
    start: datetime  # aware
    zone: ZoneInfo

    @classmethod
    def from_profile(cls, schedule: object, served_at: datetime) -> "Recurrence":
        """The profile's [schedule]; without a start time it starts when the service starts."""
        zone = ZoneInfo(getattr(schedule, "time_zone", "") or "UTC")
        text = getattr(schedule, "start_time", "")
        start = parse_start(text, zone) if text else served_at.replace(microsecond=0).astimezone(zone)
        return cls(schedule.frequency, schedule.interval, start, zone)  # type: ignore[attr-defined]

    def occurrence(self, n: int) -> datetime:
        """The n-th run (0 is the start), in UTC."""
        if self.frequency in ELAPSED:
            return self.start.astimezone(timezone.utc) + n * self.interval * ELAPSED[self.frequency]
        local = self.start.astimezone(self.zone).replace(tzinfo=None)  # wall-clock arithmetic
        if self.frequency == "day":
            local += timedelta(days=n * self.interval)
        elif self.frequency == "week":
            local += timedelta(weeks=n * self.interval)
        else:
            local = _add_months(local, n * self.interval)
        # fold=0: a skipped time reads with the offset before the jump, a repeated one is the first
        return local.replace(tzinfo=self.zone).astimezone(timezone.utc)

    def next_at_or_after(self, moment: datetime) -> datetime:
        """The first run at or after `moment`."""
        n = 0
        if moment > self.start:  # jump close from below (longest unit, one less), then step
            unit = ELAPSED.get(self.frequency) or {"day": timedelta(days=1), "week": timedelta(weeks=1)}.get(
                self.frequency, timedelta(days=31))
            n = max(0, int((moment - self.start) / (unit * self.interval)) - 1)
        while self.occurrence(n) < moment:
            n += 1
        return self.occurrence(n)

    def describe(self) -> str:
        unit = self.frequency if self.interval == 1 else f"{self.interval} {self.frequency}s"
        return f"every {unit} from {self.start.isoformat()} ({self.zone.key})"


class Firing:
    """Submits a run at each occurrence; an occurrence that comes while the previous run is still
    going is skipped, and said so."""

    def __init__(self, recurrence: Recurrence, fire: Callable[[], str], still_running: Callable[[str], str | None],
                 say: Callable[[str], None], now: Callable[[], datetime], wait: Callable[[float], bool]):
        self.recurrence, self.fire, self.still_running, self.say = recurrence, fire, still_running, say
        self.now, self.wait = now, wait
        self.previous = ""  # the last run the schedule started

    def run(self, since: datetime | None = None) -> None:
        """Until `wait` says stop. The first run is the first occurrence at or after `since` (the
        service's start: a schedule that starts when served runs at once), or now."""
        due = self.recurrence.next_at_or_after(since or self.now())
        self.say(f"schedule: {self.recurrence.describe()}; next run at {self._local(due)}")
        while True:
            left = (due - self.now()).total_seconds()
            if left > 0:
                if self.wait(left):
                    return
                continue
            self._fire_at(due)
            # a clock that jumped (a sleeping laptop) runs once, not once per missed occurrence
            due = self.recurrence.next_at_or_after(max(due + timedelta(microseconds=1), self.now()))
            self.say(f"schedule: next run at {self._local(due)}")

    def _fire_at(self, due: datetime) -> None:
        status = self.still_running(self.previous) if self.previous else None
        if status:
            self.say(f"schedule: skipped the {self._local(due)} run: the previous run {self.previous} is "
                     f"still {status}")
            return
        try:
            self.previous = self.fire()
        except Exception as exc:  # noqa: BLE001 - a failed submission is said; the schedule goes on
            self.say(f"schedule: the {self._local(due)} run could not start: {exc}")

    def _local(self, moment: datetime) -> str:
        return moment.astimezone(self.recurrence.zone).strftime("%Y-%m-%d %H:%M:%S %Z")
