"""Grouping waiting recognition requests: the waiting list, and which job claimed each request.

RQ hands a worker one job at a time and has no batch dequeue. So the bot also pushes every
request id onto a Redis list, and a running recognition job claims its own request, then more
waiting ones while it reads (`take_next`), each claim atomic (a Lua script) and recorded under
the job's id. The claimed requests' own jobs still run and finish at once: their request is
answered, or held by a job that RQ will finish, retry or requeue. When the claiming worker dies,
the supervisor (or RQ's clean-up of abandoned jobs) runs its job again, and the recorded claim
tells that run which requests it still owes an answer. The RQ job per photo stays the unit of
reliability; the list only lets one job do the work of several.

The scripts name keys they build from ids (payload and owner keys); that is fine on one Redis,
which is all digitbot supports (RQ needs multi-key operations too).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis
from rq.job import Job

from digitbot import defaults, keys
from digitbot.payload import RecognitionRequest

log = logging.getLogger(__name__)

# Job states from which RQ will run the job (again): its claim is in good hands.
STATES_THAT_WILL_RUN = frozenset({"queued", "started", "scheduled", "deferred"})
CLAIM_TTL_SECONDS = defaults.PHOTO_TTL_SECONDS  # nothing is left to read once the photo expired

# A Lua function both scripts share: drop stale ids at the head of the waiting list (claimed
# already, or their payload expired), then claim up to `wanted` fresh ones for `job`, recording
# each as owned by the job and appending it to the job's claim. Returns the claimed ids.
_TAKE_FROM_HEAD = """
local function take_from_head(waiting, claim, job, ttl, wanted, owner_prefix, payload_prefix, limit)
  local taken, scanned = {}, 0
  while scanned < limit do
    local id = redis.call('LINDEX', waiting, 0)
    if not id then break end
    local stale = redis.call('EXISTS', owner_prefix .. id) == 1
      or redis.call('EXISTS', payload_prefix .. id) == 0
    if not stale and #taken >= wanted then break end
    redis.call('LPOP', waiting)
    scanned = scanned + 1
    if not stale then
      redis.call('SET', owner_prefix .. id, job, 'EX', ttl)
      redis.call('RPUSH', claim, id)
      table.insert(taken, id)
    end
  end
  if #taken > 0 then redis.call('EXPIRE', claim, ttl) end
  return taken
end
"""

# The start of a job. KEYS: waiting list, the job's claim, own owner key, own payload key.
# ARGV: job id, own request id, ttl, own payload JSON, job it may take over from ("" none),
# owner prefix, payload prefix, stale scan limit.
# Returns {"resumed", ids still owned} | {"held", owner job id} | {"claimed", {own id}}.
_START_SCRIPT = (
    _TAKE_FROM_HEAD
    + """
local job, own, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local recorded = redis.call('LRANGE', KEYS[2], 0, -1)
if #recorded > 0 then
  local mine = {}
  for _, id in ipairs(recorded) do
    if redis.call('GET', ARGV[6] .. id) == job then table.insert(mine, id) end
  end
  return {'resumed', mine}
end
local owner = redis.call('GET', KEYS[3])
if owner and owner ~= job and owner ~= ARGV[5] then return {'held', owner} end
redis.call('SET', KEYS[4], ARGV[4], 'NX', 'EX', ttl)
redis.call('SET', KEYS[3], job, 'EX', ttl)
redis.call('LREM', KEYS[1], 1, own)
redis.call('RPUSH', KEYS[2], own)
redis.call('EXPIRE', KEYS[2], ttl)
take_from_head(KEYS[1], KEYS[2], job, ttl, 0, ARGV[6], ARGV[7], tonumber(ARGV[8]))
return {'claimed', {own}}
"""
)

# One more waiting request for a running job. KEYS: waiting list, the job's claim.
# ARGV: job id, ttl, owner prefix, payload prefix, stale scan limit. Returns {id} or {}.
_TAKE_NEXT_SCRIPT = (
    _TAKE_FROM_HEAD
    + """
return take_from_head(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), 1, ARGV[3], ARGV[4],
  tonumber(ARGV[5]))
"""
)


@dataclass(frozen=True)
class Claim:
    """The requests a job answers, in order: its own first, then the ones it took."""

    job_id: str
    requests: list[RecognitionRequest]
    resumed: bool = False  # a later run of a job whose claim was recorded before


@dataclass(frozen=True)
class HeldElsewhere:
    """The job's own request was claimed by another job."""

    owner_job_id: str


def store_payload(pipe: redis.Redis, request: RecognitionRequest) -> None:
    """Keep the request's payload where a job that claims it finds it (before enqueueing)."""
    pipe.set(
        keys.request_payload_key(request.request_id),
        json.dumps(request.to_dict()),
        ex=CLAIM_TTL_SECONDS,
    )


def push_waiting(connection: redis.Redis, request_id: str) -> None:
    """Offer an enqueued request to running jobs; never fails the caller.

    Called after enqueueing: a job that claimed the request meanwhile makes the id stale, and
    stale ids are dropped. Without the id the request is still answered, by its own job.
    """
    try:
        connection.rpush(keys.WAITING_REQUESTS_KEY, request_id)
    except redis.exceptions.RedisError as exc:
        log.warning("request %s: not offered for batching: %s", request_id, exc)


class ClaimBook:
    """Claims on waiting recognition requests, kept in Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._start = connection.register_script(_START_SCRIPT)
        self._take_next = connection.register_script(_TAKE_NEXT_SCRIPT)

    def has_claim(self, job_id: str) -> bool:
        return bool(self.connection.exists(keys.claim_key(job_id)))

    def start(
        self, job_id: str, request: RecognitionRequest, *, take_over_from: str = ""
    ) -> Claim | HeldElsewhere:
        """Claim the job's own request, or resume the claim an earlier run of it recorded.

        `take_over_from` names a job whose claim on the request may be taken over (one that
        will never run again, see `will_run`).
        """
        kind, value = self._start(
            keys=[
                keys.WAITING_REQUESTS_KEY,
                keys.claim_key(job_id),
                keys.claim_owner_key(request.request_id),
                keys.request_payload_key(request.request_id),
            ],
            args=[
                job_id, request.request_id, CLAIM_TTL_SECONDS, json.dumps(request.to_dict()),
                take_over_from, keys.CLAIM_OWNER_PREFIX, keys.REQUEST_PAYLOAD_PREFIX,
                defaults.BATCH_STALE_SCAN_LIMIT,
            ],
        )  # fmt: skip
        if kind == b"held":
            return HeldElsewhere(_text(value))
        if kind == b"resumed":
            return Claim(job_id, self._payloads([_text(v) for v in value]), resumed=True)
        return Claim(job_id, [request])

    def take_next(self, job_id: str) -> RecognitionRequest | None:
        """Claim the oldest waiting request for this job, or None when none is waiting."""
        taken = self._take_next(
            keys=[keys.WAITING_REQUESTS_KEY, keys.claim_key(job_id)],
            args=[
                job_id, CLAIM_TTL_SECONDS, keys.CLAIM_OWNER_PREFIX, keys.REQUEST_PAYLOAD_PREFIX,
                defaults.BATCH_STALE_SCAN_LIMIT,
            ],
        )  # fmt: skip
        requests = self._payloads([_text(v) for v in taken])
        return requests[0] if requests else None

    def owner_of(self, request_id: str) -> str | None:
        """The id of the job that claimed the request, if any."""
        owner = self.connection.get(keys.claim_owner_key(request_id))
        return _text(owner) if owner is not None else None

    def owned_requests(self, job_id: str) -> list[RecognitionRequest]:
        """The requests in the job's claim that it still owns."""
        ids = [_text(v) for v in self.connection.lrange(keys.claim_key(job_id), 0, -1)]
        if not ids:
            return []
        owners = self.connection.mget([keys.claim_owner_key(i) for i in ids])
        mine = [i for i, owner in zip(ids, owners, strict=True) if owner == job_id.encode()]
        return self._payloads(mine)

    def release(self, job_id: str) -> None:
        """Forget a claim whose requests are all answered."""
        ids = [_text(v) for v in self.connection.lrange(keys.claim_key(job_id), 0, -1)]
        owners = self.connection.mget([keys.claim_owner_key(i) for i in ids]) if ids else []
        mine = [i for i, owner in zip(ids, owners, strict=True) if owner == job_id.encode()]
        with self.connection.pipeline() as pipe:
            pipe.delete(keys.claim_key(job_id))
            for request_id in mine:
                pipe.delete(keys.claim_owner_key(request_id), keys.request_payload_key(request_id))
            pipe.execute()

    def will_run(self, job_id: str) -> bool:
        """True when RQ will still run this job (queued, running, waiting for a retry)."""
        status = self.connection.hget(Job.key_for(job_id), "status")
        return status is not None and _text(status) in STATES_THAT_WILL_RUN

    def _payloads(self, request_ids: list[str]) -> list[RecognitionRequest]:
        """The requests behind these ids, in order; ids whose payload expired are left out."""
        if not request_ids:
            return []
        raw = self.connection.mget([keys.request_payload_key(i) for i in request_ids])
        return [RecognitionRequest.from_dict(json.loads(r)) for r in raw if r is not None]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
