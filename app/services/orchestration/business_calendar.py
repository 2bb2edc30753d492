"""Business calendars for SLA due times: a time zone, working hours, working days and holidays
(the `holidays` package). Times in and out are UTC; the arithmetic happens on local wall clocks,
so a DST change moves the UTC result, never the working hours."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays as holidays_lib

MAX_DAYS = 3660  # ten years of searching is a misconfiguration, not a deadline
END_OF_DAY = "24:00"  # a working day's end at midnight (work_end); read as time.max


def clock_time(value: str) -> time:
    """HH:MM as a time; "24:00" (a day's end) as time.max."""
    return time.max if value == END_OF_DAY else time.fromisoformat(value)


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str = "UTC"
    work_start: time = time(8, 0)
    work_end: time = time(17, 0)
    workdays: frozenset = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    country: str | None = None
    subdivision: str | None = None
    extra_holidays: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        if self.work_end <= self.work_start:
            raise ValueError("work_end must be after work_start")
        if not self.workdays:
            raise ValueError("at least one working day is needed")
        ZoneInfo(self.timezone)  # raises for an unknown zone

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _holidays(self):
        if not self.country:
            return {}
        return holidays_lib.country_holidays(self.country, subdiv=self.subdivision)

    @cached_property
    def around_the_clock(self) -> bool:
        """Every minute counts: seven days of 00:00–24:00 and no holidays (the default calendar)."""
        return (self.work_start == time(0, 0) and self.work_end == time.max and len(self.workdays) == 7
                and not self.country and not self.extra_holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.extra_holidays and day not in self._holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.work_start, tzinfo=self.zone),
                datetime.combine(day, self.work_end, tzinfo=self.zone))

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The UTC instant `minutes` working minutes after `start` (UTC, aware)."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if self.around_the_clock:
            return (start + timedelta(minutes=minutes)).astimezone(timezone.utc)
        local = start.astimezone(self.zone)
        left = timedelta(minutes=minutes)
        day = local.date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self._window(day)
                begin = max(local, opens)
                if begin < closes:
                    available = closes - begin
                    if left <= available:
                        return (begin + left).astimezone(timezone.utc)
                    left -= available
            day += timedelta(days=1)
            local = datetime.combine(day, time(0, 0), tzinfo=self.zone)
        raise ValueError("no working time found within ten years; check the calendar")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes between two UTC instants (0 if end ≤ start)."""
        if end <= start:
            return 0.0
        if self.around_the_clock:
            return (end - start).total_seconds() / 60
        a, b = start.astimezone(self.zone), end.astimezone(self.zone)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                opens, closes = self._window(day)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += hi.astimezone(timezone.utc) - lo.astimezone(timezone.utc)
            day += timedelta(days=1)
        return total.total_seconds() / 60
