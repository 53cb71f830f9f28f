"""A small cron-expression reader (minute hour day-of-month month day-of-week) for the
retraining schedule. Supports `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n`, `a-b/n`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FIELD_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
SEARCH_LIMIT_MINUTES = 366 * 24 * 60


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday, as in cron
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(
                f"cron expression {expression!r} needs 5 fields (minute hour day month weekday), "
                f"e.g. '0 3 * * 0' for Sundays at 03:00"
            )
        sets = [
            _parse_field(p, lo, hi, name)
            for p, (lo, hi), name in zip(parts, FIELD_RANGES, FIELD_NAMES, strict=True)
        ]
        weekdays = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(
            expression,
            sets[0],
            sets[1],
            sets[2],
            sets[3],
            weekdays,
            parts[2] == "*",
            parts[4] == "*",
        )

    def matches(self, moment: dt.datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7
        if self.any_day or self.any_weekday:
            day_ok = moment.day in self.days and weekday in self.weekdays
        else:  # cron's rule: when both are restricted, either may match
            day_ok = moment.day in self.days or weekday in self.weekdays
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and day_ok
        )

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `moment`."""
        candidate = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(SEARCH_LIMIT_MINUTES):
            if self.matches(candidate):
                return candidate
            candidate += dt.timedelta(minutes=1)
        raise CronError(f"cron expression {self.expression!r} never matches")


def _parse_field(text: str, low: int, high: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"step must be positive in the {name} field: {item!r}")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, stop = int(a), int(b)
        else:
            start = int(base)
            stop = high if step_text else start
        high_allowed = 7 if name == "day of week" else high  # cron allows 7 for Sunday
        if not (low <= start <= high_allowed and low <= stop <= high_allowed and start <= stop):
            raise CronError(f"{item!r} is outside {low}-{high} in the {name} field")
        values.update(range(start, stop + 1, step))
    return frozenset(values)
