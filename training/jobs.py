"""The retraining job (queue `training`): train, check, and promote only a better model.

Steps, each reported to whoever asked (a Telegram chat, the web page, the CLI log):
1. train digitnet on MNIST (+ accepted user corrections, weighted), with progress per epoch;
2. publish the candidate to the registry (artifact + metadata);
3. the canary loads the artifact *as stored in Redis* in a fresh process;
4. candidate and champion are measured on the same gate data; `promotion.decide` applies the
   gates; the decision and its numbers go into the registry's history and LAST_TRAINING_KEY.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from rq import get_current_job

from digitbot import keys, stats
from digitbot.registry import ModelRegistry
from digitbot.retrain import describe_corrections
from digitbot.settings import Settings
from reading.lean import lean_path
from reading.model import DigitModel
from training.canary import run_canary, write_candidate
from training.corrections import load_corrections, weighted
from training.gates import load_gate_data, score
from training.photo_crops import CropRecipe
from training.progress import ProgressReporter
from training.promotion import Decision, Scores, decide
from training.retrain_report import corrections_comparison, write_report

log = logging.getLogger(__name__)

PRODUCTION_ARCH = "digitnet"


def retrain(request: dict[str, Any]) -> dict[str, Any]:
    """RQ entry point: retrain digitnet and promote it if it passes the gates."""
    job = get_current_job()
    settings = Settings.from_env()
    connection: redis.Redis = (
        job.connection if job else redis.Redis.from_url(settings.require_redis_url())
    )
    reporter = ProgressReporter(settings, chat_id=int(request.get("chat_id") or 0), job=job)
    try:
        outcome = run_retraining(connection, settings.home, request, reporter)
    except Exception as exc:
        log.exception("retraining failed")
        outcome = {
            "outcome": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "finished_at": time.time(),
            "requested_by": request.get("requested_by"),
        }
        connection.set(keys.LAST_TRAINING_KEY, json.dumps(outcome))
        stats.count(connection, "retrain", "failed")
        reporter.finish(f"Retraining failed: {outcome['error']}")
        raise
    return outcome


def photo_crop_recipe(request: dict[str, Any]) -> CropRecipe | None:
    """The photo crops a retraining adds (the shipped model's recipe unless told otherwise).

    The request's `photo_digits` / `photo_negatives` / `photo_low_resolution` /
    `photo_styled` / `placed_digits` / `placed_negatives` win, then the settings
    DIGITBOT_RETRAIN_PHOTO_DIGITS / _NEGATIVES / _LOW_RESOLUTION / _STYLED and
    DIGITBOT_RETRAIN_PLACED_DIGITS / _NEGATIVES; all 0 trains on MNIST (+ corrections) alone.
    """
    settings = Settings.from_env()
    counts = []
    for name, configured in (
        ("photo_digits", settings.retrain_photo_digits),
        ("photo_negatives", settings.retrain_photo_negatives),
        ("photo_low_resolution", settings.retrain_photo_low_resolution),
        ("photo_styled", settings.retrain_photo_styled),
        ("placed_digits", settings.retrain_placed_digits),
        ("placed_negatives", settings.retrain_placed_negatives),
    ):
        value = request.get(name)
        counts.append(configured if value is None else int(value))
    if not any(counts):
        return None
    return CropRecipe(
        counts[0],
        counts[1],
        num_low_resolution_photos=counts[2],
        num_styled_photos=counts[3],
        num_placed_photos=counts[4],
        num_placed_negative_photos=counts[5],
    )


def run_retraining(
    connection: redis.Redis, home: Path, request: dict[str, Any], reporter: ProgressReporter
) -> dict[str, Any]:
    from training.train import train

    started = time.time()
    corrections = load_corrections(connection)
    epochs = int(request.get("epochs") or Settings.from_env().retrain_epochs) or None
    limit = request.get("limit")
    reporter.start(
        f"Retraining started: {PRODUCTION_ARCH} on MNIST + {corrections.train.size} corrected "
        f"digits ({corrections.held_out.size} held out for the check)."
    )
    extra = weighted(corrections.train.x, corrections.train.y) if corrections.train.size else None
    recipe = photo_crop_recipe(request)
    result = train(
        PRODUCTION_ARCH,
        home=home,
        epochs=epochs,
        limit=limit,
        extra_train=extra,
        photo_crops=recipe,
        callbacks=[reporter.keras_callback()],
        verbose=0,
    )
    metadata = {k: v for k, v in result.metrics.items() if k != "history"}
    metadata.update(
        corrections_train=corrections.train.size,
        corrections_held_out=corrections.held_out.size,
        requested_by=request.get("requested_by"),
    )
    registry = ModelRegistry(connection)
    lean = lean_path(result.model_path)  # train() writes it; promotion converts when it could not
    registry.publish(
        result.model_path.read_bytes(),
        metadata,
        lean=lean.read_bytes() if lean.exists() else None,
    )
    reporter.update(
        f"Trained {result.version}: MNIST test {100 * result.metrics['test_accuracy']:.2f}%."
        " Checking it against the champion…"
    )
    previous_champion = registry.champion_version()
    decision = check_candidate(
        connection,
        result.version,
        home,
        photos_per_set=request.get("gate_photos"),
        mnist_limit=request.get("gate_mnist_limit"),
    )
    outcome = {
        "outcome": "promoted" if decision.promote else "kept",
        "version": result.version,
        "champion": registry.champion_version(),
        "summary": decision.summary,
        "test_accuracy": result.metrics["test_accuracy"],
        "train_seconds": result.metrics.get("train_seconds"),
        "report_dir": str(result.out_dir),
        "requested_by": request.get("requested_by"),
        "started_at": started,
        "finished_at": time.time(),
        "decision": decision.to_dict(),
        "corrections": corrections_comparison(
            decision, champion=previous_champion, candidate=result.version
        ),
        "corrections_train": corrections.train.size,
        "corrections_held_out": corrections.held_out.size,
    }
    connection.set(keys.LAST_TRAINING_KEY, json.dumps(outcome))
    (result.out_dir / "decision.json").write_text(json.dumps(outcome, indent=2))
    write_report(result.out_dir, outcome)
    stats.count(connection, "retrain", outcome["outcome"])
    verdict = "promoted: it now answers" if decision.promote else "not promoted: the champion stays"
    reporter.finish(
        f"Retraining done. {result.version} {verdict}.\n"
        f"{describe_corrections(outcome['corrections'])}\n{decision.summary}"
    )
    return outcome


def check_candidate(
    connection: redis.Redis,
    version: str,
    home: Path,
    *,
    photos_per_set: int | None = None,
    mnist_limit: int | None = None,
) -> Decision:
    """Canary + gates for a published version; promote it or record the refusal."""
    registry = ModelRegistry(connection)
    info = registry.get(version)
    assert info is not None
    with tempfile.TemporaryDirectory(prefix="digitbot-candidate-") as tmp:
        artifact = Path(tmp) / "candidate.keras"
        write_candidate(registry, version, artifact)  # both forms; the canary checks both
        canary_ok, canary_detail = run_canary(artifact, home)
        candidate_model = DigitModel.load(artifact, version=version) if canary_ok else None
    champion_version = registry.champion_version()
    corrections = load_corrections(connection).held_out
    gate = load_gate_data(home, corrections, photos_per_set=photos_per_set, mnist_limit=mnist_limit)
    if candidate_model is None:
        decision = decide(
            Scores(mnist_accuracy=0.0), None, canary_ok=False, canary_detail=canary_detail
        )
    else:
        champion_scores = None
        if champion_version and champion_version != version:
            champion_model = DigitModel.from_bytes(
                registry.blob(champion_version),
                version=champion_version,
                metadata={},
                lean_blob=registry.lean_blob(champion_version),
            )
            champion_scores = score(champion_model, gate)
        decision = decide(
            score(candidate_model, gate),
            champion_scores,
            canary_ok=True,
            canary_detail=canary_detail,
        )
    if decision.promote:
        registry.promote(version, reason=decision.summary, decision=decision.to_dict())
    else:
        registry.record(
            {
                "event": "refused",
                "version": version,
                "previous": champion_version,
                "reason": decision.summary,
                "decision": decision.to_dict(),
            }
        )
    log.info("candidate %s: %s", version, decision.summary)
    return decision
