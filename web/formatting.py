"""Times and durations as the pages show them: "5 min ago", "21 min", with the exact time kept
for a tooltip. Registered as template filters by web.app (`ago`, `duration`, `iso`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# Older than this, a date says more than "40 days ago".
RELATIVE_UP_TO_SECONDS = 30 * DAY


def moment(value: float | str | None) -> datetime | None:
    """Unix seconds or an ISO 8601 time as an aware UTC datetime; None when it is neither."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def ago(value: float | str | None, *, now: float | None = None) -> str:
    """How long ago (or how soon) `value` is: "just now", "42 s ago", "5 min ago", "3 h ago",
    "2 days ago", "in 10 min"; a date beyond a month; a dash for nothing."""
    when = moment(value)
    if when is None:
        return "—" if value in (None, "") else str(value)
    seconds = (now if now is not None else time.time()) - when.timestamp()
    if abs(seconds) > RELATIVE_UP_TO_SECONDS:
        return when.strftime("%Y-%m-%d")
    if abs(seconds) < 5:
        return "just now"
    span = _span(abs(seconds))
    return f"{span} ago" if seconds > 0 else f"in {span}"


def duration(seconds: float | str | None) -> str:
    """A length of time: "45 s", "21 min", "1 h 14 min", "2 days 3 h"; a dash for nothing."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    return _span(max(0.0, value))


def iso(value: float | str | None) -> str:
    """The exact time as a <time datetime> attribute takes it: "2026-11-21T10:46:20Z"."""
    when = moment(value)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else ""


def _span(seconds: float) -> str:
    if seconds < MINUTE:
        return f"{round(seconds)} s"
    if seconds < HOUR:
        return f"{round(seconds / MINUTE)} min"
    if seconds < DAY:
        hours, rest = divmod(round(seconds / MINUTE), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(round(seconds / HOUR), 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {rest} h" if rest else f"{days} {unit}"
