"""The retraining schedule: a cron expression, read by croniter (which RQ depends on).

Five fields, minute hour day-of-month month day-of-week in server time, with names such as
`MON` or `JAN` allowed; or one of croniter's keywords (`@hourly`, `@daily`, `@weekly`, ...).
croniter would also read a sixth field (seconds) and a seventh (year); a retraining schedule has
no use for them, so they are refused rather than silently meaning something else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from croniter import CroniterBadDateError, CroniterError, croniter

EXPECTED = (
    "5 fields, minute hour day-of-month month day-of-week (e.g. '0 3 * * SUN', Sundays at "
    "03:00), or @hourly, @daily, @weekly, @monthly or @yearly"
)
# Any start will do: an expression that matches nowhere ('0 0 30 2 *') fails from every one.
REFERENCE_TIME = dt.datetime(2000, 1, 1)


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class CronSchedule:
    expression: str

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        """The schedule of `expression`, or CronError saying in one line what is wrong."""
        schedule = cls(" ".join(expression.split()))
        num_fields = len(schedule.expression.split())
        try:
            if num_fields != 5 and not schedule.expression.startswith("@"):
                raise CroniterError(f"{num_fields} fields")
            schedule.next_after(REFERENCE_TIME)  # found wrong now, not when the scheduler waits
        except CroniterBadDateError:
            raise CronError(f"{expression!r} matches no date (day 31 of April, say)") from None
        except CroniterError as exc:
            raise CronError(f"{expression!r} is refused ({exc}); expected {EXPECTED}") from None
        return schedule

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `moment`."""
        following: dt.datetime = croniter(self.expression, moment).get_next(dt.datetime)
        return following
