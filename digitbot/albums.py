"""Albums: photos sent together (one Telegram media_group_id) get one answer listing each reading.

Telegram delivers an album as one update per photo and marks none of them as the last. The bot
checks and stores each photo as it comes (`AlbumStore.add`: the photo's bytes, as for a photo
sent alone, and a member entry under `keys.album_key`); once the album is complete (bot.albums
decides when) it enqueues one album job with every member in order (`AlbumStore.submit`), which
a worker reads and answers with one message (worker.albums). A photo that could not be taken
(not an image, too large, sent too fast) is a member too, with the reason, so the answer still
lists the photos in the order they were sent.

Everything is in Redis from the moment a photo is taken in, so a bot restarted in the middle of
an album loses nothing: the photos' updates are handled again, add the same members, and one
job answers them (its id names the album's first photo).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Callback

from digitbot import defaults, job_names, keys, stats, texts
from digitbot.intake import Outcome
from digitbot.payload import RecognitionRequest


@dataclass(frozen=True)
class AlbumMember:
    """One photo of an album: the request that reads it, or why it was not taken."""

    message_id: int
    request: RecognitionRequest | None = None
    refusal: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": self.message_id, "refusal": self.refusal}
        if self.request is not None:
            data["request"] = self.request.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlbumMember:
        request = data.get("request")
        return cls(
            message_id=int(data["message_id"]),
            request=RecognitionRequest.from_dict(request) if request else None,
            refusal=str(data.get("refusal") or ""),
        )


def album_line(number: int, answer: str) -> str:
    """One photo's line in an album's answer: `Photo 2: 42 — 99.1% sure`."""
    return texts.ALBUM_LINE.format(number=number, answer=answer)


def refusals_answer(members: list[AlbumMember]) -> str:
    """The answer to an album none of whose photos could be taken: a line per photo."""
    return "\n".join(album_line(n, m.refusal) for n, m in enumerate(members, start=1))


class AlbumStore:
    """The albums being taken in, in Redis, and the one job that answers each."""

    def __init__(self, connection: redis.Redis, *, bot_id: int) -> None:
        self.connection = connection
        self.bot_id = bot_id
        self.queue = Queue(
            defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
        )

    def add(self, media_group_id: str, member: AlbumMember) -> None:
        """Record a photo of the album (again, when its update is handled again)."""
        key = keys.album_key(self.bot_id, media_group_id)
        with self.connection.pipeline() as pipe:
            pipe.hset(key, str(member.message_id), json.dumps(member.to_dict()))
            pipe.expire(key, defaults.PHOTO_TTL_SECONDS)
            pipe.execute()

    def members(self, media_group_id: str) -> list[AlbumMember]:
        """The album's photos taken in so far, in the order they were sent."""
        raw = self.connection.hgetall(keys.album_key(self.bot_id, media_group_id))
        members = [AlbumMember.from_dict(json.loads(value)) for value in raw.values()]
        return sorted(members, key=lambda member: member.message_id)

    def submit(self, chat_id: int, media_group_id: str) -> tuple[Outcome, list[AlbumMember]]:
        """Enqueue the job that answers the album's photos taken in so far, and take them out
        of the album (a photo arriving later starts an answer of its own). DUPLICATE when that
        job was enqueued before (the album's updates handled again after a restart)."""
        members = self.members(media_group_id)
        if not members:
            return Outcome.DUPLICATE, []
        outcome = Outcome.ACCEPTED
        if any(member.request is not None for member in members):
            outcome = self._enqueue(chat_id, members)
        self.connection.hdel(
            keys.album_key(self.bot_id, media_group_id), *(str(m.message_id) for m in members)
        )
        return outcome, members

    def _enqueue(self, chat_id: int, members: list[AlbumMember]) -> Outcome:
        job_id = keys.album_job_id(chat_id, members[0].message_id, bot_id=self.bot_id)
        try:
            self.queue.enqueue(
                job_names.RECOGNIZE_ALBUM,
                {"members": [member.to_dict() for member in members]},
                job_id=job_id,
                unique=True,
                job_timeout=defaults.RECOGNITION_JOB_TIMEOUT_SECONDS,
                result_ttl=defaults.RESULT_TTL_SECONDS,
                failure_ttl=defaults.FAILURE_TTL_SECONDS,
                retry=Retry(
                    max=len(defaults.RECOGNITION_RETRY_INTERVALS),
                    interval=list(defaults.RECOGNITION_RETRY_INTERVALS),
                ),
                on_failure=Callback(job_names.ON_ALBUM_FAILURE),
                description=f"recognise an album of {len(members)} photos",
            )
        except DuplicateJobError:
            return Outcome.DUPLICATE
        for member in members:
            if member.request is not None:
                stats.count(self.connection, "received", member.request.source)
        return Outcome.ACCEPTED
