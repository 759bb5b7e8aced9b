"""The schedule `--serve` fires: Azure's recurrence semantics (frequency, interval, start time,
time zone, across daylight-saving changes) and the loop that fires, skips and stops, on an
injected clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from engine.errors import ProfileError
from engine.profile import load
from engine.serve_schedule import Firing, Recurrence, parse_start

BERLIN = ZoneInfo("Europe/Berlin")  # summer time from 2026-03-29 02:00, back on 2026-10-25 03:00
NEW_YORK = ZoneInfo("America/New_York")  # back to standard time on 2026-11-01 02:00
UTC = timezone.utc


def recurrence(frequency: str, interval: int, start: str, zone: ZoneInfo = BERLIN) -> Recurrence:
    return Recurrence(frequency, interval, parse_start(start, zone), zone)


def local_runs(r: Recurrence, count: int) -> list[str]:
    return [r.occurrence(n).astimezone(r.zone).strftime("%m-%d %H:%M %Z") for n in range(count)]


def test_daily_runs_keep_their_wall_clock_time_across_both_dst_changes() -> None:
    spring = recurrence("day", 1, "2026-03-28T09:00:00")
    assert local_runs(spring, 3) == ["03-28 09:00 CET", "03-29 09:00 CEST", "03-30 09:00 CEST"]
    assert spring.occurrence(1) - spring.occurrence(0) == timedelta(hours=23)  # the short day
    autumn = recurrence("day", 2, "2026-10-23T09:00:00")
    assert local_runs(autumn, 3) == ["10-23 09:00 CEST", "10-25 09:00 CET", "10-27 09:00 CET"]


def test_hourly_and_minute_runs_are_elapsed_time_across_a_dst_change() -> None:
    hourly = recurrence("hour", 2, "2026-03-29T00:30:00")
    assert local_runs(hourly, 3) == ["03-29 00:30 CET", "03-29 03:30 CEST", "03-29 05:30 CEST"]
    minutes = recurrence("minute", 15, "2026-03-29T01:50:00")
    assert local_runs(minutes, 3) == ["03-29 01:50 CET", "03-29 03:05 CEST", "03-29 03:20 CEST"]
    assert {minutes.occurrence(n + 1) - minutes.occurrence(n) for n in range(10)} == {timedelta(minutes=15)}


def test_weekly_runs_keep_the_weekday_and_time_in_a_us_time_zone() -> None:
    weekly = recurrence("week", 1, "2026-10-25T08:00:00", NEW_YORK)
    assert local_runs(weekly, 3) == ["10-25 08:00 EDT", "11-01 08:00 EST", "11-08 08:00 EST"]
    assert [weekly.occurrence(n).astimezone(UTC).hour for n in range(3)] == [12, 13, 13]


def test_monthly_runs_on_a_day_the_month_lacks_run_on_its_last_day() -> None:
    monthly = recurrence("month", 1, "2026-01-31T09:00:00")
    assert local_runs(monthly, 4) == ["01-31 09:00 CET", "02-28 09:00 CET", "03-31 09:00 CEST", "04-30 09:00 CEST"]
    quarterly = recurrence("month", 3, "2026-01-15T18:00:00")
    assert local_runs(quarterly, 3) == ["01-15 18:00 CET", "04-15 18:00 CEST", "07-15 18:00 CEST"]


def test_a_wall_clock_time_the_clocks_skip_runs_as_they_read_after_the_jump() -> None:
    nightly = recurrence("day", 1, "2026-03-28T02:30:00")
    assert local_runs(nightly, 3) == ["03-28 02:30 CET", "03-29 03:30 CEST", "03-30 02:30 CEST"]


def test_a_start_with_an_offset_is_that_instant() -> None:
    daily = recurrence("day", 1, "2026-03-28T08:00:00+00:00")
    assert local_runs(daily, 2) == ["03-28 09:00 CET", "03-29 09:00 CEST"]


@pytest.mark.parametrize("frequency,interval", [("minute", 7), ("hour", 5), ("day", 3), ("week", 2), ("month", 1)])
def test_the_next_run_is_the_first_occurrence_at_or_after_a_moment(frequency: str, interval: int) -> None:
    r = recurrence(frequency, interval, "2026-01-31T02:30:00")
    runs = [r.occurrence(n) for n in range(40)]
    for moment in (runs[0] - timedelta(days=3), runs[0], runs[17] - timedelta(seconds=1), runs[17],
                   runs[17] + timedelta(seconds=1)):
        assert r.next_at_or_after(moment) == next(t for t in runs if t >= moment)


def test_without_a_start_time_the_schedule_starts_when_served(make_profile) -> None:
    profile = load(str(make_profile('\n[schedule]\nfrequency = "hour"\ninterval = 2\n'
                                    'time_zone = "Europe/Berlin"\n')))
    served = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    r = Recurrence.from_profile(profile.schedule, served)
    assert r.occurrence(0) == served and r.occurrence(1) == served + timedelta(hours=2)
    assert r.zone.key == "Europe/Berlin"


@pytest.mark.parametrize("field,value,rule", [
    ("time_zone", "Mars/Olympus", "an IANA time zone name"),
    ("time_zone", "../../etc/passwd", "an IANA time zone name"),
    ("start_time", "next tuesday", "an ISO 8601 date and time"),
])
def test_bad_schedule_fields_are_refused_naming_the_field(make_profile, field: str, value: str, rule: str) -> None:
    path = make_profile(f'\n[schedule]\nfrequency = "day"\n{field} = "{value}"\n')
    with pytest.raises(ProfileError) as caught:
        load(str(path))
    assert f"schedule.{field}" in str(caught.value) and rule in str(caught.value)


# ------------------------------------------------------------------ the firing loop, on a fake clock

@dataclass
class Clock:
    """now() and wait(): waiting moves the time on at once; `stop_after` ends the loop."""

    t: datetime
    stop_after: datetime

    def now(self) -> datetime:
        return self.t

    def wait(self, seconds: float) -> bool:
        if self.t >= self.stop_after:
            return True
        self.t = min(self.t + timedelta(seconds=seconds), self.stop_after)
        return False


def test_the_loop_fires_at_each_occurrence_and_skips_while_the_previous_run_goes() -> None:
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    clock = Clock(start - timedelta(minutes=30), stop_after=start + timedelta(hours=4, minutes=30))
    fired: list[datetime] = []
    asked: list[str] = []
    said: list[str] = []

    def still_running(run: str) -> str | None:  # the second run goes on past the next occurrence only
        asked.append(run)
        return "Running" if asked.count("run-2") == 1 and run == "run-2" else None

    def fire() -> str:
        fired.append(clock.now())
        return f"run-{len(fired)}"

    loop = Firing(Recurrence("hour", 1, start, BERLIN), fire, still_running, said.append, clock.now, clock.wait)
    loop.run()  # returns: the clock said stop
    assert fired == [start, start + timedelta(hours=1), start + timedelta(hours=3), start + timedelta(hours=4)]
    skipped = [line for line in said if "skipped" in line]
    assert skipped == ["schedule: skipped the 2026-03-29 04:00:00 CEST run: the previous run run-2 is still Running"]
    assert said[0].startswith("schedule: every hour from 2026-03-29T00:00:00+00:00 (Europe/Berlin); next run at "
                              "2026-03-29 01:00:00 CET")


def test_a_clock_that_jumps_ahead_fires_once_not_once_per_missed_run() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = Clock(start, stop_after=start + timedelta(days=1))
    fired: list[datetime] = []

    def fire() -> str:
        fired.append(clock.now())
        if len(fired) == 1:
            clock.t += timedelta(hours=5)  # the laptop slept through five runs
        return f"run-{len(fired)}"

    Firing(Recurrence("hour", 1, start, ZoneInfo("UTC")), fire, lambda run: None, lambda line: None,
           clock.now, clock.wait).run()
    assert fired[:3] == [start, start + timedelta(hours=5), start + timedelta(hours=6)]


def test_a_run_that_cannot_start_is_said_and_the_schedule_goes_on() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = Clock(start, stop_after=start + timedelta(minutes=2))
    said: list[str] = []
    attempts: list[datetime] = []

    def fire() -> str:
        attempts.append(clock.now())
        raise RuntimeError("no uploaded data under amlbatch-input/data")

    Firing(Recurrence("minute", 1, start, ZoneInfo("UTC")), fire, lambda run: None, said.append,
           clock.now, clock.wait).run()
    assert len(attempts) == 3
    assert "schedule: the 2026-01-01 00:00:00 UTC run could not start: no uploaded data under amlbatch-input/data" \
        in said


def test_a_schedule_that_starts_when_served_runs_at_once() -> None:
    from types import SimpleNamespace

    served = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    r = Recurrence.from_profile(SimpleNamespace(frequency="hour", interval=1, start_time="", time_zone="UTC"), served)
    clock = Clock(served + timedelta(milliseconds=30), stop_after=served + timedelta(minutes=90))
    fired: list[datetime] = []

    def fire() -> str:
        fired.append(clock.now())
        return "run"

    Firing(r, fire, lambda run: None, lambda line: None, clock.now, clock.wait).run(since=r.start)
    assert fired == [served + timedelta(milliseconds=30), datetime(2026, 1, 1, 13, tzinfo=UTC)]
