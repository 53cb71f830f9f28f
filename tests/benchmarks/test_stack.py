"""The load test's stand-in helper: thumbnails made ahead of time are the ones it would make."""

from __future__ import annotations

import io

from PIL import Image

from benchmarks.stack import FAKE_TOKEN, precomputed_photo_sizes
from digitbot.settings import Settings
from tests.support.telegram_standin import TelegramStandIn
from tests.support.telegram_standin import images as standin_images


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 190, 180)).save(out, "JPEG")
    return out.getvalue()


def test_precomputed_sizes_match_and_are_restored() -> None:
    photo, other = jpeg(800, 600), jpeg(640, 480)
    original = standin_images.photo_variants
    expected = original(photo)
    with precomputed_photo_sizes([photo]):
        assert standin_images.photo_variants is not original
        assert standin_images.photo_variants(photo) == expected
        assert standin_images.photo_variants(other) == original(other)  # not made: made now
        with TelegramStandIn(FAKE_TOKEN) as standin:
            message_id = standin.user_sends_photo(7, photo)
            message = standin.message(7, message_id)
            assert message is not None and len(message["photo"]) == len(expected[0])
    assert standin_images.photo_variants is original


def test_fake_token_is_accepted_by_settings() -> None:
    assert Settings(telegram_token=FAKE_TOKEN).require_token() == FAKE_TOKEN
