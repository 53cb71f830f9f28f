"""Albums in the bot: when the photos sent together are all in, one job answers them.

Each photo of an album (same media_group_id) is checked and stored as it comes, like a photo
sent alone, but not enqueued (digitbot.albums). Its handler then waits until the album is
complete: no photo of it has come for Settings.album_wait_seconds and every photo that came is
stored, or at once (once stored) when the chat sends anything else, which an album's photos
never interleave with. The first handler to see it complete enqueues the one album job; until
then every photo's update stays in the bot's journal, so a restart meanwhile loses nothing.
A photo sent alone never comes here and never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Message, ReplyParameters, Update
from telegram.ext import ContextTypes

from bot.context import INTAKE, SETTINGS
from digitbot.albums import AlbumMember, AlbumStore, refusals_answer
from digitbot.intake import PhotoIntake
from digitbot.settings import Settings

log = logging.getLogger(__name__)

ALBUMS = "albums"  # this module's AlbumCollector in `bot_data`, made on first use


@dataclass
class OpenAlbum:
    """An album whose photos are still coming, as this bot process sees it."""

    chat_id: int
    media_group_id: str
    last_joined: float
    storing: int = 0  # photos that came and are not stored yet
    chat_moved_on: bool = False  # the chat sent something else since
    submitted: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        self.changed.set()


class AlbumCollector:
    """The open albums of this bot process, by (chat, media group)."""

    def __init__(
        self, store: AlbumStore, *, wait_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.wait_seconds = wait_seconds
        self.clock = clock
        self._open: dict[tuple[int, str], OpenAlbum] = {}

    def join(self, chat_id: int, media_group_id: str) -> OpenAlbum:
        """A photo of the album came: it is being stored (call `stored` when it is)."""
        album = self._open.get((chat_id, media_group_id))
        if album is None:
            album = OpenAlbum(chat_id, media_group_id, self.clock())
            self._open[(chat_id, media_group_id)] = album
        album.last_joined = self.clock()
        album.storing += 1
        album.touch()
        return album

    def stored(self, album: OpenAlbum) -> None:
        """A photo that joined the album is stored, or was refused (and stored as refused)."""
        album.storing -= 1
        album.touch()

    def chat_moved_on(self, chat_id: int, *, media_group_id: str | None = None) -> None:
        """The chat sent something that is not part of its open albums: they are complete."""
        for (chat, group), album in self._open.items():
            if chat == chat_id and group != media_group_id:
                album.chat_moved_on = True
                album.touch()

    def is_complete(self, album: OpenAlbum) -> bool:
        if album.storing > 0:
            return False
        return album.chat_moved_on or self.clock() >= album.last_joined + self.wait_seconds

    async def wait_until_complete(self, album: OpenAlbum) -> None:
        """Return once the album is complete (see the module docstring)."""
        while not self.is_complete(album):
            album.changed.clear()
            quiet_until = album.last_joined + self.wait_seconds
            timeout = None if album.storing else max(0.0, quiet_until - self.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(album.changed.wait(), timeout)

    def take_for_submission(self, album: OpenAlbum) -> bool:
        """True for the one handler that enqueues the album (the first to see it complete)."""
        if album.submitted:
            return False
        album.submitted = True
        self._open.pop((album.chat_id, album.media_group_id), None)
        return True


def collector(context: ContextTypes.DEFAULT_TYPE) -> AlbumCollector:
    """The bot's AlbumCollector, made on first use from its intake and settings."""
    albums: AlbumCollector | None = context.bot_data.get(ALBUMS)
    if albums is None:
        intake: PhotoIntake = context.bot_data[INTAKE]
        settings: Settings = context.bot_data[SETTINGS]
        store = AlbumStore(intake.connection, bot_id=intake.bot_id)
        albums = AlbumCollector(store, wait_seconds=settings.album_wait_seconds)
        context.bot_data[ALBUMS] = albums
    return albums


def note_message(context: ContextTypes.DEFAULT_TYPE, message: Message | None) -> None:
    """Called for each message a chat sends: its albums other than this message's are done."""
    if message is not None and ALBUMS in context.bot_data:
        collector(context).chat_moved_on(
            message.chat_id, media_group_id=message.media_group_id or None
        )


async def take_album_photo(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    store_photo: Callable[[], Awaitable[AlbumMember | None]],
) -> None:
    """Take one photo of an album in; when the album is complete, have it answered.

    `store_photo` downloads, checks and stores the photo: its AlbumMember, or None when its
    update was deferred (the Bot API failed the download; it is handled again later)."""
    message = update.effective_message
    assert message is not None and message.media_group_id
    albums = collector(context)
    album = albums.join(message.chat_id, message.media_group_id)  # before any await: in order
    try:
        member = await store_photo()
        if member is not None:
            await asyncio.to_thread(albums.store.add, album.media_group_id, member)
    finally:
        albums.stored(album)
    if member is None:
        return
    await albums.wait_until_complete(album)
    if albums.take_for_submission(album):
        await _submit(context, album, albums.store)


async def _submit(context: ContextTypes.DEFAULT_TYPE, album: OpenAlbum, store: AlbumStore) -> None:
    """Enqueue the album's job; answer at once when none of its photos could be taken."""
    outcome, members = await asyncio.to_thread(store.submit, album.chat_id, album.media_group_id)
    log.info("album %s: %d photos, %s", album.media_group_id, len(members), outcome)
    if members and all(member.request is None for member in members):
        await context.bot.send_message(
            album.chat_id,
            refusals_answer(members),
            reply_parameters=ReplyParameters(
                members[0].message_id, allow_sending_without_reply=True
            ),
        )
