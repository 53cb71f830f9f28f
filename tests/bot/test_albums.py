"""When the bot takes an album as complete (bot.albums.AlbumCollector), on a clock the test
moves: nothing here waits for time to pass."""

from __future__ import annotations

import asyncio

import pytest

from bot.albums import AlbumCollector, OpenAlbum

WAIT = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def albums(clock: Clock) -> AlbumCollector:
    return AlbumCollector(store=None, wait_seconds=WAIT, clock=clock)  # type: ignore[arg-type]


async def settle() -> None:
    """Let every task that can run do so (the waits here end on a touch, not on time)."""
    for _ in range(20):
        await asyncio.sleep(0)


def waiting(albums: AlbumCollector, album: OpenAlbum) -> asyncio.Task[None]:
    return asyncio.ensure_future(albums.wait_until_complete(album))


def test_an_album_is_complete_once_quiet_for_the_wait(albums: AlbumCollector, clock: Clock) -> None:
    async def scenario() -> None:
        album = albums.join(1, "g")
        albums.stored(album)
        task = waiting(albums, album)
        await settle()
        clock.now += WAIT - 0.1
        album.touch()
        await settle()
        assert not task.done()
        # Another photo of it came: the quiet starts again from there.
        second = albums.join(1, "g")
        assert second is album
        albums.stored(album)
        clock.now += 0.2
        album.touch()
        await settle()
        assert not task.done()
        clock.now += WAIT
        album.touch()
        await settle()
        assert task.done()

    asyncio.run(scenario())


def test_an_album_waits_for_its_photos_being_stored_even_when_quiet(
    albums: AlbumCollector, clock: Clock
) -> None:
    async def scenario() -> None:
        album = albums.join(1, "g")
        albums.join(1, "g")
        albums.stored(album)
        task = waiting(albums, album)
        clock.now += 10 * WAIT  # a slow download: the second photo is not stored yet
        album.touch()
        await settle()
        assert not task.done()
        albums.stored(album)
        await settle()
        assert task.done()

    asyncio.run(scenario())


def test_the_chat_sending_anything_else_completes_its_albums_only(
    albums: AlbumCollector,
) -> None:
    async def scenario() -> None:
        mine, other_chat = albums.join(1, "g"), albums.join(2, "h")
        albums.stored(mine)
        albums.stored(other_chat)
        tasks = waiting(albums, mine), waiting(albums, other_chat)
        await settle()
        albums.chat_moved_on(1, media_group_id="g")  # another photo of the same album
        await settle()
        assert not any(task.done() for task in tasks)
        albums.chat_moved_on(1)  # a text, a photo sent alone, another album
        await settle()
        assert tasks[0].done() and not tasks[1].done()
        tasks[1].cancel()

    asyncio.run(scenario())


def test_one_handler_submits_and_a_later_photo_starts_a_new_album(
    albums: AlbumCollector,
) -> None:
    album = albums.join(1, "g")
    albums.stored(album)
    assert albums.take_for_submission(album)
    assert not albums.take_for_submission(album)
    later = albums.join(1, "g")
    assert later is not album and later.storing == 1
