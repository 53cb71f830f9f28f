"""Redis key names, in one place so every process agrees on them."""

from __future__ import annotations

from digitbot import job_names

PREFIX = "digitbot"


def photo_key(request_id: str) -> str:
    """Where the bytes of an uploaded photo wait for a worker."""
    return f"{PREFIX}:photo:{request_id}"


def answer_key(chat_id: int, message_id: int) -> str:
    """Marks that the photo message (chat_id, message_id) was answered."""
    return f"{PREFIX}:answered:{chat_id}:{message_id}"


def recognition_job_id(chat_id: int, message_id: int) -> str:
    """One job per Telegram photo message, so a re-delivered update is never enqueued twice."""
    return f"tg-{chat_id}-{message_id}"


def web_result_key(request_id: str) -> str:
    """Where the worker leaves the result of a web-page request."""
    return f"{PREFIX}:web-result:{request_id}"


def web_owner_key(request_id: str) -> str:
    """The salted hash of the web visitor who sent a request: only they may correct it."""
    return f"{PREFIX}:web-owner:{request_id}"


# The salt of every stored user hash, Telegram and web alike (digitbot.feedback.salted_user_hash).
USER_SALT_KEY = f"{PREFIX}:user-salt"


CHAMPION_KEY = f"{PREFIX}:models:champion"
MODEL_INDEX_KEY = f"{PREFIX}:models:index"


def model_meta_key(version: str) -> str:
    return f"{PREFIX}:models:meta:{version}"


def model_blob_key(version: str) -> str:
    return f"{PREFIX}:models:blob:{version}"


STATS_KEY = f"{PREFIX}:stats"

# Retraining: the last run's outcome (JSON) and the fixed job id that deduplicates triggers.
LAST_TRAINING_KEY = f"{PREFIX}:training:last"
RETRAIN_JOB_ID = "retrain-digitnet"
RETRAIN_JOB = job_names.RETRAIN


def rate_limit_key(scope: str, client: str) -> str:
    return f"{PREFIX}:rate:{scope}:{client}"


NEW_CORRECTIONS_KEY = f"{PREFIX}:corrections:new-since-training"
SCHEDULER_HEARTBEAT_KEY = f"{PREFIX}:scheduler:heartbeat"


def worker_info_key(worker_name: str) -> str:
    """Where a worker publishes its device (CPU/GPU), model version and batch size."""
    return f"{PREFIX}:worker-info:{worker_name}"


# Batching (digitbot.claims): request ids waiting to be grouped into one model call, each
# request's payload, the job that claimed it, and each job's claim.
WAITING_REQUESTS_KEY = f"{PREFIX}:batch:waiting"
REQUEST_PAYLOAD_PREFIX = f"{PREFIX}:batch:request:"
CLAIM_OWNER_PREFIX = f"{PREFIX}:batch:owner:"


def request_payload_key(request_id: str) -> str:
    return f"{REQUEST_PAYLOAD_PREFIX}{request_id}"


def claim_owner_key(request_id: str) -> str:
    """The id of the job that claimed this request."""
    return f"{CLAIM_OWNER_PREFIX}{request_id}"


def claim_key(job_id: str) -> str:
    """The request ids a job claimed, in the order it answers them."""
    return f"{PREFIX}:batch:claim:{job_id}"
