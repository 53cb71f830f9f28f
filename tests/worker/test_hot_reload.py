"""Hot reload: a newly promoted champion is loaded beside the old one and swapped in while
requests keep flowing; none fails or waits more than a second."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import redis

from digitbot.registry import ModelRegistry
from digitbot.settings import Settings
from tests.support.photos import mnist_test_digits
from worker.model import shipped_model_path
from worker.runtime import WorkerRuntime

pytestmark = pytest.mark.slow


def test_swap_while_requests_stream(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    path = shipped_model_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    registry.publish(path.read_bytes(), {**meta, "version": "v1"})
    registry.promote("v1", reason="first")
    registry.publish(path.read_bytes(), {**meta, "version": "v2"})

    runtime = WorkerRuntime(Settings(), connection=redis_conn)
    x, y = mnist_test_digits()
    batch = x[:4].astype(np.float32) / 255.0
    assert runtime.model.version == "v1"

    durations: list[float] = []
    versions: list[str] = []
    promoted_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = time.monotonic()
        model = runtime.model
        probabilities = model.probabilities(batch)
        durations.append(time.monotonic() - started)
        versions.append(model.version)
        assert list(probabilities.argmax(1)) == list(y[:4])  # every request answered right
        if promoted_at is None and len(versions) == 20:
            registry.promote("v2", reason="test swap")
            promoted_at = len(versions)
        if versions[-1] == "v2" and len(versions) > (promoted_at or 0) + 20:
            break
        time.sleep(0.01)
    assert promoted_at is not None
    assert versions[0] == "v1" and versions[-1] == "v2", "the new champion was never loaded"
    switch = versions.index("v2")
    assert switch > promoted_at  # requests kept being served by v1 while v2 loaded
    assert "v1" not in versions[switch:]  # no flapping back
    assert max(durations) < 1.0, f"a request waited {max(durations):.2f} s during the swap"
