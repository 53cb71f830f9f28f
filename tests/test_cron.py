import datetime as dt

import pytest

from digitbot.cron import CronError, CronSchedule


def test_weekly_schedule_next_run() -> None:
    schedule = CronSchedule.parse("0 3 * * 0")  # Sundays 03:00
    saturday = dt.datetime(2026, 11, 21, 12, 30)
    assert schedule.next_after(saturday) == dt.datetime(2026, 11, 22, 3, 0)
    assert schedule.next_after(dt.datetime(2026, 11, 22, 3, 0)) == dt.datetime(2026, 11, 29, 3, 0)


def test_steps_lists_and_ranges() -> None:
    schedule = CronSchedule.parse("*/15 8-10,22 * * 1-5")
    start = dt.datetime(2026, 11, 23, 10, 50)  # a Monday
    assert schedule.next_after(start) == dt.datetime(2026, 11, 23, 22, 0)
    assert schedule.matches(dt.datetime(2026, 11, 24, 9, 45))
    assert not schedule.matches(dt.datetime(2026, 11, 22, 9, 45))  # Sunday


def test_day_of_month_or_weekday_when_both_restricted() -> None:
    schedule = CronSchedule.parse("0 0 1 * 0")
    assert schedule.matches(dt.datetime(2026, 12, 1, 0, 0))  # a Tuesday, the 1st
    assert schedule.matches(dt.datetime(2026, 11, 29, 0, 0))  # a Sunday


@pytest.mark.parametrize("bad", ["* * *", "61 * * * *", "*/0 * * * *", "5-2 * * * *"])
def test_bad_expressions_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(CronError):
        CronSchedule.parse(bad)
