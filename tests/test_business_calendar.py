"""SLA due times on a business calendar: working hours, weekends, holidays, DST."""
from datetime import date, datetime, time, timezone

import pytest

from app.services.orchestration.business_calendar import BusinessCalendar


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_within_the_same_working_day():
    cal = BusinessCalendar()
    assert cal.add_business_minutes(utc(2026, 11, 23, 9, 0), 60) == utc(2026, 11, 23, 10, 0)


def test_rolls_over_the_evening_and_the_weekend():
    cal = BusinessCalendar()
    # Friday 16:30 + 60 working minutes = Monday 08:30
    assert cal.add_business_minutes(utc(2026, 11, 27, 16, 30), 60) == utc(2026, 11, 30, 8, 30)
    # Saturday start counts from Monday's opening
    assert cal.add_business_minutes(utc(2026, 11, 28, 12, 0), 480) == utc(2026, 11, 30, 16, 0)


def test_skips_public_and_extra_holidays():
    kenya = BusinessCalendar(timezone="Africa/Nairobi", country="KE")
    # Thursday 24 Dec 2026, 16:00 Nairobi (13:00 UTC): Christmas and Boxing Day (Sat) off, so Monday 28th
    due = kenya.add_business_minutes(utc(2026, 12, 24, 13, 0), 120)
    assert due == utc(2026, 12, 28, 6, 0)  # 09:00 Nairobi
    extra = BusinessCalendar(extra_holidays=frozenset({date(2026, 11, 24)}))
    assert extra.add_business_minutes(utc(2026, 11, 23, 16, 0), 120) == utc(2026, 11, 25, 9, 0)


def test_dst_change_keeps_local_working_hours():
    paris = BusinessCalendar(timezone="Europe/Paris")
    # Friday 27 March 2026 16:00 Paris (CET, 15:00 UTC); clocks go forward on Sunday 29th.
    due = paris.add_business_minutes(utc(2026, 3, 27, 15, 0), 120)
    assert due == utc(2026, 3, 30, 7, 0)  # Monday 09:00 CEST = 07:00 UTC
    assert paris.business_minutes_between(utc(2026, 3, 27, 15, 0), due) == 120


def test_minutes_between_counts_only_working_time():
    cal = BusinessCalendar(work_start=time(9), work_end=time(17))
    assert cal.business_minutes_between(utc(2026, 11, 27, 16, 0), utc(2026, 11, 30, 10, 0)) == 120
    assert cal.business_minutes_between(utc(2026, 11, 30, 10, 0), utc(2026, 11, 30, 9, 0)) == 0


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar(work_start=time(17), work_end=time(8))
    with pytest.raises(Exception):
        BusinessCalendar(timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        BusinessCalendar().add_business_minutes(datetime(2026, 1, 1), 5)
