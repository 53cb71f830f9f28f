"""A job module the allow-list tests name but a worker must never import (its import shows in
sys.modules, and calling `steal` would hand back an environment variable)."""

from __future__ import annotations

import os


def steal(name: str) -> str | None:
    return os.environ.get(name)
