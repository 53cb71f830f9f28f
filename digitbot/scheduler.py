"""`digitbot scheduler`: enqueue retraining on a cron schedule, and after N new corrections.

`rq cron` ignores the JSON serializer, so scheduling is done here: a small loop that computes
the next run from the cron expression and calls `request_retraining`, which never starts a
second run while one is queued or running. Several schedulers may run; the fixed job id keeps
them from training twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import time

import redis

from digitbot import defaults, keys
from digitbot.cron import CronSchedule
from digitbot.retrain import TriggerOutcome, request_retraining

log = logging.getLogger(__name__)


class RetrainScheduler:
    def __init__(
        self,
        connection: redis.Redis,
        schedule: CronSchedule,
        *,
        after_corrections: int = defaults.RETRAIN_AFTER_CORRECTIONS,
    ) -> None:
        self.connection = connection
        self.schedule = schedule
        self.after_corrections = after_corrections
        self.stopping = False

    def tick(self, now: dt.datetime, next_run: dt.datetime) -> dt.datetime:
        """Do what is due at `now`; return the next scheduled time."""
        if now >= next_run:
            self._trigger("schedule")
            next_run = self.schedule.next_after(now)
            log.info("next scheduled retraining at %s", next_run.isoformat())
        new = int(self.connection.get(keys.NEW_CORRECTIONS_KEY) or 0)
        due = bool(self.after_corrections) and new >= self.after_corrections
        if due and self._trigger(f"{new} new corrections"):
            self.connection.decrby(keys.NEW_CORRECTIONS_KEY, new)
        self.connection.set(
            keys.SCHEDULER_HEARTBEAT_KEY, now.isoformat(), ex=defaults.HEARTBEAT_TTL_SECONDS
        )
        return next_run

    def _trigger(self, reason: str) -> bool:
        trigger = request_retraining(self.connection, requested_by=reason)
        if trigger.outcome is TriggerOutcome.QUEUED:
            log.info("retraining queued (%s)", reason)
            return True
        log.info("retraining not queued (%s): one is %s", reason, trigger.status)
        return False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        next_run = self.schedule.next_after(dt.datetime.now())
        log.info("retraining schedule %r; next at %s", self.schedule.expression, next_run)
        while not self.stopping:
            try:
                next_run = self.tick(dt.datetime.now(), next_run)
            except redis.exceptions.ConnectionError as exc:
                log.warning("Redis unreachable (%s); retrying", exc)
            time.sleep(defaults.SCHEDULER_POLL_SECONDS)
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
