import pytest
import redis

from digitbot.registry import ModelRegistry, RegistryError


def publish(registry: ModelRegistry, version: str, accuracy: float = 0.99) -> None:
    registry.publish(
        f"blob-{version}".encode(), {"version": version, "arch": "cnn", "test_accuracy": accuracy}
    )


def test_publish_get_and_blob_round_trip(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    publish(registry, "v1")
    info = registry.get("v1")
    assert info is not None and info.arch == "cnn" and info.test_accuracy == 0.99
    assert info.metadata["artifact_bytes"] == len(b"blob-v1")
    assert registry.blob("v1") == b"blob-v1"
    assert registry.champion_version() is None


def test_promote_and_rollback_restore_previous_champion(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    publish(registry, "v1")
    publish(registry, "v2")
    registry.promote("v1", reason="first")
    registry.promote("v2", reason="better", decision={"mnist": 0.997})
    assert registry.champion_version() == "v2"
    assert registry.history()[0]["decision"] == {"mnist": 0.997}
    assert registry.rollback() == "v1"
    assert registry.champion_version() == "v1"
    assert registry.history()[0]["reason"] == "rollback from v2"


def test_rollback_without_earlier_champion_is_refused(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    publish(registry, "v1")
    registry.promote("v1", reason="first")
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()


def test_promoting_unknown_version_is_refused(redis_conn: redis.Redis) -> None:
    with pytest.raises(RegistryError, match="no model version"):
        ModelRegistry(redis_conn).promote("nope", reason="x")


def test_prune_keeps_newest_and_never_the_champion(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn, keep=2)
    publish(registry, "old")
    registry.promote("old", reason="first")
    for name in ("a", "b", "c"):
        publish(registry, name)
    names = [m.version for m in registry.versions()]
    assert names[:2] == ["c", "b"]
    assert "old" in names  # the champion survives pruning
    assert "a" not in names
    with pytest.raises(RegistryError):
        registry.blob("a")


def test_both_forms_are_stored_and_pruned_together(redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn, keep=1)
    registry.publish(b"keras-v1", {"version": "v1", "arch": "cnn"}, lean=b"tflite-v1")
    info = registry.get("v1")
    assert info is not None and info.metadata["lean"]["format"] == "tflite"
    assert info.metadata["lean"]["bytes"] == len(b"tflite-v1")
    assert registry.blob("v1") == b"keras-v1"
    assert registry.lean_blob("v1") == b"tflite-v1"
    publish(registry, "v2")  # published without a lean form, then given one at promotion
    assert registry.lean_blob("v2") is None and "lean" not in registry.get("v2").metadata
    registry.attach_lean("v2", b"tflite-v2")
    assert registry.lean_blob("v2") == b"tflite-v2"
    assert registry.get("v2").metadata["lean"]["bytes"] == len(b"tflite-v2")
    assert registry.lean_blob("v1") is None  # pruned with its .keras form
