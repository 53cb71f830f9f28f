"""Per-process state of a worker: settings, the model (hot-reloaded), its device, the Bot API
client.

RQ job functions are plain functions that receive JSON data, so the state they need lives in one
object per process, created on first use (or up front by `DigitWorker`, so the first job does not
pay for loading TensorFlow).

Models come from the registry in Redis. When the champion pointer changes, the new model is
loaded in a background thread while the old one keeps answering, then swapped in: no job waits
for a load. With an empty registry, the model shipped in the package is published as the first
champion, so every host agrees on the same model.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from digitbot import keys
from digitbot.errors import DigitbotError
from digitbot.registry import ModelRegistry
from digitbot.settings import Settings
from digitbot.telegram_reply import TelegramReplier
from reading.model import DigitModel, load_shipped_model, shipped_model_path
from worker.device import DeviceInfo, detect_device

log = logging.getLogger(__name__)

RELOAD_CHECK_SECONDS = 1.0
FAILED_VERSION_RETRY_SECONDS = 60.0


class WorkerRuntime:
    """Holds the model (loaded once, swapped on promotion) and the reply client."""

    def __init__(
        self,
        settings: Settings,
        *,
        connection: redis.Redis | None = None,
        model: DigitModel | None = None,
    ) -> None:
        self.settings = settings
        self.connection = connection
        self._model = model
        self._replier: TelegramReplier | None = None
        self._device: DeviceInfo | None = None
        self._lock = threading.Lock()
        self._last_check = 0.0
        self._loading: str | None = None
        self._failed: dict[str, float] = {}

    @property
    def registry(self) -> ModelRegistry | None:
        return ModelRegistry(self.connection) if self.connection is not None else None

    @property
    def model(self) -> DigitModel:
        """The model to use now; starts loading a newly promoted champion in the background."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_initial()
        else:
            self._check_for_new_champion()
        return self._model

    def _load_initial(self) -> DigitModel:
        registry = self.registry
        model: DigitModel | None = None
        if registry is not None:
            version = registry.champion_version() or bootstrap_registry(registry)
            if version:
                try:
                    model = self._load_version(registry, version)
                except DigitbotError as exc:
                    log.error(
                        "champion %s cannot be loaded (%s); using the shipped model", version, exc
                    )
        if model is None:
            model = load_shipped_model()
            model.warm_up()
        log.info("model %s loaded (%d classes)", model.version, model.num_classes)
        self._last_check = time.monotonic()
        return model

    def _load_version(self, registry: ModelRegistry, version: str) -> DigitModel:
        info = registry.get(version)
        assert info is not None
        model = DigitModel.from_bytes(
            registry.blob(version), version=version, metadata=info.metadata
        )
        model.warm_up()
        return model

    def _check_for_new_champion(self) -> None:
        now = time.monotonic()
        if self.connection is None or now - self._last_check < RELOAD_CHECK_SECONDS:
            return
        self._last_check = now
        try:
            version = ModelRegistry(self.connection).champion_version()
        except redis.exceptions.RedisError:
            return
        current = self._model.version if self._model else None
        if not version or version == current or self._loading == version:
            return
        if now - self._failed.get(version, -1e9) < FAILED_VERSION_RETRY_SECONDS:
            return
        self._loading = version
        threading.Thread(target=self._reload, args=(version,), daemon=True).start()

    def _reload(self, version: str) -> None:
        try:
            assert self.connection is not None
            model = self._load_version(ModelRegistry(self.connection), version)
        except Exception as exc:  # a bad artifact must never stop the worker
            log.error(
                "could not load new champion %s: %s; keeping %s",
                version,
                exc,
                self._model.version if self._model else None,
            )
            self._failed[version] = time.monotonic()
        else:
            old = self._model.version if self._model else None
            self._model = model  # one reference swap: jobs see the old or the new model
            log.info("hot-reloaded model %s (was %s)", version, old)
        finally:
            self._loading = None

    @property
    def device(self) -> DeviceInfo:
        """The device this process computes on, and the batch size that suits it."""
        if self._device is None:
            self._device = detect_device()
        return self._device

    @property
    def replier(self) -> TelegramReplier:
        if self._replier is None:
            token = self.settings.require_token()
            self._replier = TelegramReplier(token, self.settings.telegram_api_url)
        return self._replier


def bootstrap_registry(registry: ModelRegistry) -> str | None:
    """Publish the shipped model as the first champion when the registry is empty."""
    path = shipped_model_path()
    if not path.exists():
        return None
    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    metadata.setdefault("version", path.stem)
    metadata["origin"] = "shipped with the package"
    if registry.get(metadata["version"], missing_ok=True) is None:
        registry.publish(path.read_bytes(), metadata)
    # NX: when several workers start at once, the first one's choice stands.
    if registry.connection.set(keys.CHAMPION_KEY, metadata["version"], nx=True):
        registry.record(
            {
                "event": "promote",
                "version": metadata["version"],
                "previous": None,
                "reason": "first model (shipped with the package)",
                "decision": {},
            }
        )
    return registry.champion_version()


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> WorkerRuntime:
    """The process's runtime, created from the environment on first use."""
    global _runtime
    if _runtime is None:
        with _runtime_lock:
            if _runtime is None:
                settings = Settings.from_env()
                connection = (
                    redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2)
                    if settings.redis_url
                    else None
                )
                _runtime = WorkerRuntime(settings, connection=connection)
    return _runtime


def set_runtime(runtime: WorkerRuntime | None) -> None:
    """Install a runtime (tests, `digitbot predict`)."""
    global _runtime
    _runtime = runtime
