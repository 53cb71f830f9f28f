"""`digitbot models list|show|promote|rollback|history` and `digitbot retrain`: operate the
registry. Results go to stdout, messages and errors to stderr; Redis being out of reach is
explained by digitbot.cli's one error handler."""

from __future__ import annotations

import datetime as dt
import json
import sys

import redis

from digitbot.errors import ConfigurationError
from digitbot.registry import ModelRegistry, RegistryError
from digitbot.retrain import TriggerOutcome, request_retraining


def run_models(connection: redis.Redis, action: str, version: str | None) -> int:
    registry = ModelRegistry(connection)
    try:
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
    except RegistryError as exc:
        print(f"digitbot models {action}: {exc}", file=sys.stderr)
        return 1
    return 0


def run_retrain(connection: redis.Redis) -> int:
    trigger = request_retraining(connection, requested_by="cli")
    if trigger.outcome is TriggerOutcome.QUEUED:
        print(
            "retraining queued on the 'training' queue; a training worker will run it "
            "(`digitbot worker --queues training`). Follow it with `digitbot models history`."
        )
        return 0
    print(
        f"digitbot retrain: a retraining is already {trigger.status}; not starting another",
        file=sys.stderr,
    )
    return 1


def _when(timestamp: object) -> str:
    if not isinstance(timestamp, int | float):
        return "—"
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
