"""Fixtures for the reading library's tests: the shipped model."""

from __future__ import annotations

import pytest

from reading.model import DigitModel, load_shipped_model


@pytest.fixture(scope="module")
def shipped_model() -> DigitModel:
    return load_shipped_model()
