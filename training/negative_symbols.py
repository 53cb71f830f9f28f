"""Marks that are not digits, for training the "not a digit" class: symbols and doodles.

Each is a list of polylines ((N, 2) arrays of x, y) about one unit tall, which
`training.photo_synth` draws with the same pens, paper and light as its digits. Kinds:
crosses, plus and equals signs, arrows, stars, check marks, circled marks, boxes, triangles,
zigzags, spirals, hatching and wavy underlines; each with a hand's wobble.

Training only; the held-out renderer (`training.heldout_photos`) draws its own symbols with
other code, so the evaluation does not see these shapes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Polylines = list[np.ndarray]


def symbol_polylines(rng: np.random.Generator) -> Polylines:
    """One random symbol, about 1 unit tall, with wobble."""
    make = _KINDS[int(rng.integers(len(_KINDS)))]
    return [_wobble(line, rng) for line in make(rng)]


def hatching_polylines(rng: np.random.Generator) -> Polylines:
    """Parallel strokes at one angle, filling a box about 1 unit tall."""
    count = int(rng.integers(4, 12))
    angle = rng.uniform(0, np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    length = rng.uniform(0.6, 1.2)
    lines = []
    for k in range(count):
        offset = (k / max(1, count - 1) - 0.5) * rng.uniform(0.6, 1.2)
        centre = normal * offset
        lines.append(np.stack([centre - direction * length / 2, centre + direction * length / 2]))
    return [_wobble(_dense(line), rng) for line in lines]


def _circle(rng: np.random.Generator, radius: float = 0.5) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi * rng.uniform(0.95, 1.1), 48)
    return np.stack([np.cos(t) * radius * rng.uniform(0.8, 1.2), np.sin(t) * radius], axis=1)


def _cross(rng: np.random.Generator) -> Polylines:
    return [np.array([[-0.5, -0.5], [0.5, 0.5]]), np.array([[-0.5, 0.5], [0.5, -0.5]])]


def _plus(rng: np.random.Generator) -> Polylines:
    return [np.array([[0, -0.5], [0, 0.5]]), np.array([[-0.5, 0], [0.5, 0]])]


def _equals(rng: np.random.Generator) -> Polylines:
    gap = rng.uniform(0.15, 0.35)
    return [np.array([[-0.5, -gap], [0.5, -gap]]), np.array([[-0.5, gap], [0.5, gap]])]


def _arrow(rng: np.random.Generator) -> Polylines:
    head = rng.uniform(0.2, 0.4)
    return [
        np.array([[-0.8, 0], [0.8, 0]]),
        np.array([[0.8 - head, -head], [0.8, 0], [0.8 - head, head]]),
    ]


def _star(rng: np.random.Generator) -> Polylines:
    points = int(rng.choice([5, 6]))
    inner = rng.uniform(0.3, 0.5)
    k = np.arange(2 * points + 1)
    radius = np.where(k % 2 == 0, 0.5, 0.5 * inner)
    angle = k * np.pi / points - np.pi / 2
    return [np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)]


def _check(rng: np.random.Generator) -> Polylines:
    return [np.array([[-0.5, 0.0], [-0.15, 0.45], [0.6, -0.5]])]


def _circled(rng: np.random.Generator) -> Polylines:
    inner = _cross(rng) if rng.random() < 0.5 else _plus(rng)
    return [_circle(rng), *[line * 0.6 for line in inner]]


def _box(rng: np.random.Generator) -> Polylines:
    w = rng.uniform(0.5, 1.5) / 2
    return [np.array([[-w, -0.5], [w, -0.5], [w, 0.5], [-w, 0.5], [-w, -0.5]])]


def _triangle(rng: np.random.Generator) -> Polylines:
    return [np.array([[0, -0.5], [0.55, 0.5], [-0.55, 0.5], [0, -0.5]])]


def _zigzag(rng: np.random.Generator) -> Polylines:
    teeth = int(rng.integers(3, 7))
    x = np.linspace(-0.8, 0.8, 2 * teeth + 1)
    y = np.where(np.arange(x.size) % 2 == 0, 0.3, -0.3)
    return [np.stack([x, y], axis=1)]


def _spiral(rng: np.random.Generator) -> Polylines:
    t = np.linspace(0, 2 * np.pi * rng.uniform(2, 3.5), 120)
    r = 0.5 * t / t[-1]
    return [np.stack([r * np.cos(t), r * np.sin(t)], axis=1)]


def _wave(rng: np.random.Generator) -> Polylines:
    x = np.linspace(-1.0, 1.0, 60)
    return [np.stack([x, 0.15 * np.sin(x * rng.uniform(6, 12))], axis=1)]


def _face(rng: np.random.Generator) -> Polylines:
    t = np.linspace(0.2 * np.pi, 0.8 * np.pi, 20)
    smile = np.stack([0.3 * np.cos(t), 0.1 + 0.2 * np.sin(t)], axis=1)
    eye = _circle(rng, 0.05)
    return [_circle(rng), smile, eye + [-0.18, -0.15], eye + [0.18, -0.15]]


_KINDS: tuple[Callable[[np.random.Generator], Polylines], ...] = (
    _cross, _plus, _equals, _arrow, _star, _check, _circled, _box, _triangle, _zigzag,
    _spiral, _wave, _face,
)  # fmt: skip


def _dense(line: np.ndarray, step: float = 0.02) -> np.ndarray:
    """More points along each segment, so that wobble bends straight strokes."""
    points = [line[0]]
    for start, end in zip(line[:-1], line[1:], strict=True):
        count = max(2, int(np.linalg.norm(end - start) / step))
        points.extend(start + (end - start) * t for t in np.linspace(0, 1, count)[1:])
    return np.asarray(points)


def _wobble(line: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dense = _dense(np.asarray(line, dtype=np.float64))
    drift = rng.normal(0, 0.004, dense.shape).cumsum(axis=0)
    return dense + drift - drift.mean(axis=0)
