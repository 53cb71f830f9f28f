"""Candidate checks against the registry in real Redis: canary in a fresh process, gates,
promotion, rollback; a corrupt artifact never replaces the champion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from digitbot.registry import ModelRegistry
from reading.lean import lean_path
from reading.model import shipped_model_path
from tests.support.lean_forms import copy_shipped_model, stale_lean_form
from tests.support.photos import TEST_HOME
from training.canary import run_canary
from training.jobs import check_candidate

pytestmark = pytest.mark.slow


def publish_shipped(registry: ModelRegistry, version: str) -> None:
    path = shipped_model_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    registry.publish(path.read_bytes(), {**meta, "version": version})


def test_canary_passes_the_shipped_model_and_refuses_garbage(tmp_path: Path) -> None:
    ok, detail = run_canary(shipped_model_path(), TEST_HOME)
    assert ok, detail
    assert "reads" in detail and "LiteRT form agrees" in detail
    garbage = tmp_path / "broken.keras"
    garbage.write_bytes(b"PK\x03\x04 this is not a keras archive")
    ok, detail = run_canary(garbage, TEST_HOME)
    assert not ok and "cannot load" in detail


def test_canary_refuses_a_model_without_its_lean_form(tmp_path: Path) -> None:
    ok, detail = run_canary(copy_shipped_model(tmp_path, with_lean=False), TEST_HOME)
    assert not ok and "no LiteRT form" in detail


def test_a_candidate_whose_lean_form_disagrees_is_refused(
    redis_conn: redis.Redis, tmp_path: Path
) -> None:
    registry = ModelRegistry(redis_conn)
    path = shipped_model_path()
    meta = json.loads(path.with_suffix(".json").read_text())
    stale = stale_lean_form(copy_shipped_model(tmp_path))
    registry.publish(path.read_bytes(), {**meta, "version": "stale"}, lean=stale)
    decision = check_candidate(redis_conn, "stale", TEST_HOME, photos_per_set=0, mnist_limit=500)
    assert not decision.promote
    assert decision.summary.startswith("refused: canary")
    assert "LiteRT form differs from the Keras model" in decision.summary
    assert registry.champion_version() is None


def test_corrupt_artifact_is_refused_and_the_champion_keeps_serving(
    redis_conn: redis.Redis,
) -> None:
    registry = ModelRegistry(redis_conn)
    publish_shipped(registry, "champ")
    registry.promote("champ", reason="first")
    registry.publish(b"\x00garbage" * 100, {"version": "broken", "arch": "digitnet"})
    decision = check_candidate(redis_conn, "broken", TEST_HOME, photos_per_set=0, mnist_limit=500)
    assert not decision.promote
    assert decision.summary.startswith("refused: canary")
    assert registry.champion_version() == "champ"
    assert registry.history()[0]["event"] == "refused"


def test_equal_candidate_passes_the_gates_then_rollback_restores(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    publish_shipped(registry, "champ")
    registry.promote("champ", reason="first")
    publish_shipped(registry, "cand")  # without its lean form: converted at promotion
    decision = check_candidate(redis_conn, "cand", TEST_HOME, photos_per_set=10, mnist_limit=2000)
    assert decision.promote, decision.summary
    assert registry.lean_blob("cand") == lean_path(shipped_model_path()).read_bytes()
    gates = {g.name for g in decision.gates}
    assert {"canary", "mnist", "photos/mnist-single", "photos/numbers"} <= gates
    assert registry.champion_version() == "cand"
    assert registry.history()[0]["decision"]["candidate"]["mnist_accuracy"] > 0.95
    assert registry.rollback() == "champ"
    assert registry.champion_version() == "champ"
