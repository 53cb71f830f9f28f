import datetime as dt

import pytest

from digitbot.cron import CronError, CronSchedule

SATURDAY_NOON = dt.datetime(2026, 11, 21, 12, 30)


def test_weekly_schedule_next_run() -> None:
    schedule = CronSchedule.parse("0 3 * * 0")  # Sundays 03:00
    assert schedule.next_after(SATURDAY_NOON) == dt.datetime(2026, 11, 22, 3, 0)
    # Strictly after: a run that is due now is not due again until next week.
    assert schedule.next_after(dt.datetime(2026, 11, 22, 3, 0)) == dt.datetime(2026, 11, 29, 3, 0)
    assert schedule.next_after(dt.datetime(2026, 11, 22, 2, 59, 59)) == dt.datetime(
        2026, 11, 22, 3, 0
    )


def test_keywords_and_day_names() -> None:
    weekly = CronSchedule.parse("@weekly")  # Sundays at midnight
    assert weekly.next_after(SATURDAY_NOON) == dt.datetime(2026, 11, 22, 0, 0)
    assert weekly.next_after(dt.datetime(2026, 11, 22, 0, 0)) == dt.datetime(2026, 11, 29, 0, 0)
    mondays = CronSchedule.parse("0 3 * * MON")
    assert mondays.next_after(SATURDAY_NOON) == dt.datetime(2026, 11, 23, 3, 0)
    assert CronSchedule.parse("0 3 * * mon-fri").next_after(dt.datetime(2026, 11, 27, 4, 0)) == (
        dt.datetime(2026, 11, 30, 3, 0)  # Friday after the run: next is Monday
    )


def test_steps_lists_and_ranges() -> None:
    schedule = CronSchedule.parse("*/15 8-10,22 * * 1-5")
    monday = dt.datetime(2026, 11, 23, 10, 50)
    assert schedule.next_after(monday) == dt.datetime(2026, 11, 23, 22, 0)
    assert schedule.next_after(dt.datetime(2026, 11, 24, 9, 30)) == dt.datetime(2026, 11, 24, 9, 45)
    friday_night = dt.datetime(2026, 11, 27, 22, 50)
    assert schedule.next_after(friday_night) == dt.datetime(2026, 11, 30, 8, 0)  # skips the weekend


def test_day_of_month_or_weekday_when_both_restricted() -> None:
    schedule = CronSchedule.parse("0 0 1 * 0")  # the 1st, and every Sunday (cron's rule)
    assert schedule.next_after(dt.datetime(2026, 11, 28, 12, 0)) == dt.datetime(2026, 11, 29)
    assert schedule.next_after(dt.datetime(2026, 11, 29, 12, 0)) == dt.datetime(2026, 12, 1)


def test_spacing_is_normalised() -> None:
    assert CronSchedule.parse("  0  3 *\t* 0 ").expression == "0 3 * * 0"


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("* * *", "3 fields"),
        ("0 3 * * 0 *", "6 fields"),  # croniter would read a sixth field as seconds
        ("61 * * * *", "out of range"),
        ("*/0 * * * *", "step"),
        ("0 3 * * FUNDAY", "not acceptable"),
        ("@sometimes", "expected 5 fields"),
        ("0 0 30 2 *", "matches no date"),
    ],
)
def test_bad_expressions_say_in_one_line_what_is_wrong(bad: str, says: str) -> None:
    with pytest.raises(CronError) as raised:
        CronSchedule.parse(bad)
    message = str(raised.value)
    assert repr(bad) in message and says in message
    assert "\n" not in message
