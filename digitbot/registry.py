"""The model registry, in Redis: every worker host reaches models through Redis alone.

Each version keeps its artifact in two forms, the bytes of a `.keras` file (what training
makes, and the fallback) and of its lean form, a LiteRT `.tflite` file (what workers call,
reading/lean.py), and its metadata (architecture, dataset hashes, metrics, created-at, parent,
both forms' hashes). The champion is one key; promotions and rollbacks are recorded in a history
list with the numbers behind each decision. No TensorFlow here.

Keys (see digitbot.keys): index (sorted set, by created-at), meta:<v> (JSON), blob:<v> (bytes),
lean:<v> (bytes), champion (a version string), history (a list of JSON events, newest first).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

import redis

from digitbot import keys
from digitbot.errors import DigitbotError
from digitbot.replies import as_bytes, as_str

DEFAULT_KEEP = 8
LEAN_FORMAT = "tflite"  # reading.lean.LEAN_FORMAT; this module stays free of the reading library
HISTORY_KEY = f"{keys.PREFIX}:models:history"
HISTORY_LENGTH = 200


class RegistryError(DigitbotError):
    pass


@dataclass(frozen=True)
class ModelInfo:
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def arch(self) -> str:
        return str(self.metadata.get("arch", "?"))

    @property
    def test_accuracy(self) -> float | None:
        value = self.metadata.get("test_accuracy")
        return float(value) if value is not None else None


class ModelRegistry:
    """Publish, list, promote and roll back model versions stored in Redis."""

    def __init__(self, connection: redis.Redis, *, keep: int = DEFAULT_KEEP) -> None:
        self.connection = connection
        self.keep = keep

    def publish(
        self, blob: bytes, metadata: dict[str, Any], *, lean: bytes | None = None
    ) -> ModelInfo:
        """Store a new version (not promoted): its `.keras` bytes and, when given, its lean
        form. The version comes from the metadata."""
        version = str(metadata.get("version") or "")
        if not version:
            raise RegistryError("model metadata has no 'version'")
        meta = {
            **metadata,
            "version": version,
            "artifact_sha256": hashlib.sha256(blob).hexdigest(),
            "artifact_bytes": len(blob),
            "published_at": time.time(),
        }
        meta.pop("lean", None)  # describes the lean bytes stored here, or none
        if lean is not None:
            meta["lean"] = describe_lean(lean)
        meta.setdefault("parent", self.champion_version())
        with self.connection.pipeline() as pipe:
            pipe.set(keys.model_blob_key(version), blob)
            if lean is not None:
                pipe.set(keys.model_lean_key(version), lean)
            else:
                pipe.delete(keys.model_lean_key(version))
            pipe.set(keys.model_meta_key(version), json.dumps(meta))
            pipe.zadd(keys.MODEL_INDEX_KEY, {version: meta["published_at"]})
            pipe.execute()
        self.prune()
        return ModelInfo(version, meta)

    def versions(self) -> list[ModelInfo]:
        """All stored versions, newest first."""
        names = self._index()
        return [info for name in names if (info := self.get(name, missing_ok=True)) is not None]

    def get(self, version: str, *, missing_ok: bool = False) -> ModelInfo | None:
        raw = self.connection.get(keys.model_meta_key(version))
        if raw is None:
            if missing_ok:
                return None
            raise RegistryError(f"no model version {version!r} in the registry")
        return ModelInfo(version, json.loads(raw))

    def blob(self, version: str) -> bytes:
        data = self.connection.get(keys.model_blob_key(version))
        if data is None:
            raise RegistryError(f"model version {version!r} has no artifact")
        return as_bytes(data)

    def lean_blob(self, version: str) -> bytes | None:
        """The version's lean form, or None when it was published without one."""
        data = self.connection.get(keys.model_lean_key(version))
        return as_bytes(data) if data is not None else None

    def attach_lean(self, version: str, lean: bytes) -> ModelInfo:
        """Store the lean form of a version published without one (converted at promotion)."""
        info = self.get(version)
        assert info is not None
        meta = {**info.metadata, "lean": describe_lean(lean)}
        with self.connection.pipeline() as pipe:
            pipe.set(keys.model_lean_key(version), lean)
            pipe.set(keys.model_meta_key(version), json.dumps(meta))
            pipe.execute()
        return ModelInfo(version, meta)

    def champion_version(self) -> str | None:
        value = self.connection.get(keys.CHAMPION_KEY)
        return as_str(value) if value is not None else None

    def champion(self) -> ModelInfo | None:
        version = self.champion_version()
        return self.get(version, missing_ok=True) if version else None

    def promote(self, version: str, *, reason: str, decision: dict[str, Any] | None = None) -> None:
        """Make `version` the champion and record why."""
        self.get(version)
        previous = self.champion_version()
        event = {
            "event": "promote",
            "version": version,
            "previous": previous,
            "reason": reason,
            "decision": decision or {},
            "at": time.time(),
        }
        with self.connection.pipeline() as pipe:
            pipe.set(keys.CHAMPION_KEY, version)
            pipe.lpush(HISTORY_KEY, json.dumps(event))
            pipe.ltrim(HISTORY_KEY, 0, HISTORY_LENGTH - 1)
            pipe.execute()

    def record(self, event: dict[str, Any]) -> None:
        """Record a decision that changed nothing (e.g. a refused candidate)."""
        with self.connection.pipeline() as pipe:
            pipe.lpush(HISTORY_KEY, json.dumps({**event, "at": time.time()}))
            pipe.ltrim(HISTORY_KEY, 0, HISTORY_LENGTH - 1)
            pipe.execute()

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.connection.lrange(HISTORY_KEY, 0, limit - 1)]

    def rollback(self) -> str:
        """Make the champion before the current one champion again; return its version."""
        current = self.champion_version()
        for event in self.history(HISTORY_LENGTH):
            if event.get("event") == "promote" and event.get("version") == current:
                previous = event.get("previous")
                if previous and self.get(previous, missing_ok=True):
                    self.promote(previous, reason=f"rollback from {current}")
                    return str(previous)
                break
        raise RegistryError("there is no earlier champion to roll back to")

    def _index(self) -> list[str]:
        """Every stored version, newest first."""
        # Without `withscores` ZREVRANGE answers the members alone.
        members = cast("list[bytes | str]", self.connection.zrevrange(keys.MODEL_INDEX_KEY, 0, -1))
        return [as_str(v) for v in members]

    def prune(self) -> list[str]:
        """Keep the newest `keep` versions, never deleting the champion or its predecessor."""
        protected = {self.champion_version()}
        for event in self.history(20):
            if event.get("event") == "promote":
                protected.add(event.get("previous"))
                break
        names = self._index()
        removed = [name for name in names[self.keep :] if name not in protected]
        if removed:
            with self.connection.pipeline() as pipe:
                for name in removed:
                    pipe.delete(
                        keys.model_blob_key(name),
                        keys.model_lean_key(name),
                        keys.model_meta_key(name),
                    )
                    pipe.zrem(keys.MODEL_INDEX_KEY, name)
                pipe.execute()
        return removed


def describe_lean(lean: bytes) -> dict[str, Any]:
    """What the metadata says of a lean form: its format, hash and size."""
    return {"format": LEAN_FORMAT, "sha256": hashlib.sha256(lean).hexdigest(), "bytes": len(lean)}
