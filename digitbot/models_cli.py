"""`digitbot models list|show|promote|rollback|history` and `digitbot retrain`: operate the
registry. Results go to stdout, messages to stderr; errors (an unknown version, nothing to roll
back to, a retraining already queued, Redis out of reach) are raised for digitbot.cli's one
error handler, which prints them as one line."""

from __future__ import annotations

import datetime as dt
import json
import sys

import redis

from digitbot.errors import ConfigurationError, DigitbotError
from digitbot.registry import ModelRegistry, RegistryError
from digitbot.retrain import TriggerOutcome, request_retraining


def run_models(connection: redis.Redis, action: str, version: str | None) -> int:
    """Run one `models` action; a RegistryError (no such version, nothing to roll back to)
    goes to the command line's error handler: one line, exit 1."""
    registry = ModelRegistry(connection)
    if action == "list":
        champion = registry.champion_version()
        print(f"{'':2}{'version':34} {'arch':10} {'MNIST test':>10}  published")
        for info in registry.versions():
            mark = "*" if info.version == champion else " "
            accuracy = f"{100 * info.test_accuracy:.2f}%" if info.test_accuracy else "—"
            published = _when(info.metadata.get("published_at"))
            print(f"{mark:2}{info.version:34} {info.arch:10} {accuracy:>10}  {published}")
        if champion is None:
            print(
                "(no champion yet: workers publish the shipped model on first start)",
                file=sys.stderr,
            )
    elif action == "show":
        name = version or registry.champion_version()
        if not name:
            raise RegistryError("no champion yet; name a version (`digitbot models list`)")
        shown = registry.get(name)
        assert shown is not None  # get() raises for a missing version
        print(json.dumps(shown.metadata, indent=2, sort_keys=True))
    elif action == "promote":
        if not version:
            raise ConfigurationError("name the version to promote (`digitbot models list`)")
        registry.promote(version, reason="promoted by hand (digitbot models promote)")
        print(f"{version} is now the champion; workers switch within seconds")
    elif action == "rollback":
        restored = registry.rollback()
        print(f"rolled back: {restored} is the champion again")
    elif action == "history":
        for event in registry.history():
            print(
                f"{_when(event.get('at'))}  {event.get('event'):8} {event.get('version')}"
                f"  ({event.get('reason', '')})"
            )
    return 0


class RetrainRefusedError(DigitbotError):
    """A retraining is already queued or running (retraining is deduplicated)."""


def run_retrain(connection: redis.Redis) -> int:
    trigger = request_retraining(connection, requested_by="cli")
    if trigger.outcome is TriggerOutcome.QUEUED:
        print(
            "retraining queued on the 'training' queue; a training worker will run it "
            "(`digitbot worker --queues training`). Follow it with `digitbot models history`."
        )
        return 0
    raise RetrainRefusedError(f"a retraining is already {trigger.status}; not starting another")


def _when(timestamp: object) -> str:
    if not isinstance(timestamp, int | float):
        return "—"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
