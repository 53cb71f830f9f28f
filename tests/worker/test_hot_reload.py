"""Hot reload: a newly promoted champion is loaded beside the old one and swapped in while
requests keep flowing; none fails, none waits for the load, and none is served by the old model
once the new one took over."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import redis

from digitbot.registry import ModelRegistry
from digitbot.settings import Settings
from reading.lean import lean_path
from reading.model import DigitModel, shipped_model_path
from tests.support.photos import mnist_test_digits
from tests.support.processes import wait_until
from worker import runtime as runtime_module
from worker.runtime import WorkerRuntime

pytestmark = pytest.mark.slow

# Waits give up after this long: a hang guard, never a speed limit.
HANG_GUARD = 60.0
REQUESTS_PER_PHASE = 20


def test_swap_while_requests_stream(
    redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ModelRegistry(redis_conn)
    path = shipped_model_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    lean = lean_path(path).read_bytes()
    registry.publish(path.read_bytes(), {**meta, "version": "v1"}, lean=lean)
    registry.promote("v1", reason="first")
    registry.publish(path.read_bytes(), {**meta, "version": "v2"}, lean=lean)

    # v2's load starts, then waits until the test lets it finish: requests served meanwhile
    # cannot have waited for it.
    load_started = threading.Event()
    may_finish_load = threading.Event()
    real_load = WorkerRuntime._load_version

    def gated_load(self: WorkerRuntime, registry: ModelRegistry, version: str) -> DigitModel:
        if version == "v2":
            load_started.set()
            assert may_finish_load.wait(HANG_GUARD), "the test never let the load finish"
        return real_load(self, registry, version)

    monkeypatch.setattr(WorkerRuntime, "_load_version", gated_load)
    monkeypatch.setattr(runtime_module, "RELOAD_CHECK_SECONDS", 0.0)  # look on every request

    runtime = WorkerRuntime(Settings(), connection=redis_conn)
    x, y = mnist_test_digits()
    batch = x[:4].astype(np.float32) / 255.0
    versions: list[str] = []

    def request() -> str:
        model = runtime.model
        assert model.runtime == "litert"  # both versions answer through their lean form
        probabilities = model.probabilities(batch)
        assert list(probabilities.argmax(1)) == list(y[:4])  # every request answered right
        versions.append(model.version)
        return model.version

    for _ in range(REQUESTS_PER_PHASE):
        assert request() == "v1"
    registry.promote("v2", reason="test swap")
    request()  # notices the new champion and starts loading it in the background
    assert load_started.wait(HANG_GUARD), "the new champion was never loaded"
    for _ in range(REQUESTS_PER_PHASE):  # served, by v1, while v2 is still loading
        assert request() == "v1"
    may_finish_load.set()
    assert wait_until(lambda: request() == "v2", timeout=HANG_GUARD, interval=0.0), (
        "the loaded champion was never swapped in"
    )
    for _ in range(REQUESTS_PER_PHASE):
        assert request() == "v2"  # no flapping back
    switch = versions.index("v2")
    assert set(versions[:switch]) == {"v1"} and set(versions[switch:]) == {"v2"}
