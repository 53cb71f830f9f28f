"""Where connected components become digits: touching digits are cut apart, and the pieces of
one digit (a 4 in two strokes, the separate bar of a 5, a stroke broken by a ruled line) are
joined. Sizes are relative to the tallest piece, since a digit may fill the frame or be small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reading.preprocess_mnist import stroke_width

# Stacked pieces (one above the other) whose x-ranges overlap by this share of the narrower
# one join when the vertical gap between them is at most this share of the taller one.
MERGE_X_OVERLAP = 0.5
MERGE_MAX_GAP = 0.45
# Pieces side by side join when one lies within the other's columns (this share), or when a
# shorter piece (this share of the other's height) that ends well above the other's foot
# overlaps it by this share.
MERGE_CONTAINED = 0.85
MERGE_SHORT = 0.75
MERGE_HANGING_OVERLAP = 0.2
# Pieces never join into something wider than this times its height, or taller than this
# times the tallest single piece.
MAX_MERGED_ASPECT = 1.6
MAX_MERGED_HEIGHT = 1.5
# A fragment (shorter than this share of the tallest piece) joins the digit-sized piece it
# overlaps most, if that one is at most this share of the tallest piece away.
FRAGMENT_HEIGHT = 0.5
FRAGMENT_MAX_DISTANCE = 0.25
# ...unless it lies wholly outside that piece's box and holds less ink than this share of it:
# a speck of dust or a scrap of ruled line, which would only widen the digit's box.
SPECK_SHARE = 0.04
# Touching digits: a piece wider than this times its height is cut where one thin stroke
# (at most this many stroke widths) joins two halves that are both nearly as tall as it.
SPLIT_ASPECT = 1.3
SPLIT_MAX_BRIDGE = 1.8
SPLIT_MIN_PART_HEIGHT = 0.6
# In a number, a digit this much wider than the typical one is cut from this aspect on.
ROW_SPLIT_WIDTH = 1.5
ROW_SPLIT_ASPECT = 0.9
# Pieces shorter than this are never cut.
MIN_SPLIT_HEIGHT = 10


@dataclass
class Group:
    """One candidate digit: the components it is made of and their joint box (x1, y1 exclusive).

    A group cut from a wider one keeps its components' labels: its box is what sets it apart.
    """

    labels: list[int]
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    touches_border: bool = False

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def absorb(self, other: Group) -> None:
        self.labels.extend(other.labels)
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.area += other.area
        self.touches_border = self.touches_border or other.touches_border


def group_mask(labels: np.ndarray, group: Group) -> np.ndarray:
    """The group's own ink inside its box (other components that reach into the box excluded)."""
    return labels_mask(labels[group.y0 : group.y1, group.x0 : group.x1], group.labels)


def labels_mask(window: np.ndarray, labels: list[int]) -> np.ndarray:
    """Where `window` holds one of `labels` (np.isin, without its overhead for one label)."""
    return window == labels[0] if len(labels) == 1 else np.isin(window, labels)


def merge_pieces(groups: list[Group]) -> list[Group]:
    """Join the pieces of each digit: first pieces of similar size, then small fragments."""
    tallest = max(g.height for g in groups)
    pieces = sorted(
        (g for g in groups if g.height >= FRAGMENT_HEIGHT * tallest), key=lambda g: g.x0
    )
    fragments = [g for g in groups if g.height < FRAGMENT_HEIGHT * tallest]
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(pieces):
            for j in range(i + 1, len(pieces)):
                if _same_digit(a, pieces[j], tallest):
                    a.absorb(pieces.pop(j))
                    merged = True
                    break
            if merged:
                break
    loose = []
    for fragment in sorted(fragments, key=lambda g: -g.area):
        partner = _best_partner(fragment, pieces, tallest)
        if partner is None or _is_speck_beside(fragment, partner):
            loose.append(fragment)
        else:
            partner.absorb(fragment)
    return pieces + loose


def split_touching(group: Group, labels: np.ndarray, aspect: float = SPLIT_ASPECT) -> list[Group]:
    """Cut a too-wide group where two digits touch through one thin stroke."""
    if group.width <= aspect * group.height or group.height < MIN_SPLIT_HEIGHT:
        return [group]
    mask = group_mask(labels, group)
    cut = _cut_column(mask)
    if cut is None:
        return [group]
    parts = cut_group(group, mask, cut, SPLIT_MIN_PART_HEIGHT)
    if parts is None:
        return [group]  # one side is a tail or a bar, not a digit
    return [piece for part in parts for piece in split_touching(part, labels, aspect)]


def cut_group(group: Group, mask: np.ndarray, cut: int, min_height: float) -> list[Group] | None:
    """The two groups left and right of column `cut` of the group's `mask`, each boxed to its
    own ink; None when either side has ink in fewer than `min_height` times the group's rows."""
    parts = []
    for start, stop in ((0, cut), (cut, group.width)):
        rows = np.flatnonzero(mask[:, start:stop].any(axis=1))
        if rows.size == 0 or rows.size < min_height * group.height:
            return None
        parts.append(
            Group(
                list(group.labels),
                group.x0 + start,
                group.y0 + int(rows[0]),
                group.x0 + stop,
                group.y0 + int(rows[-1]) + 1,
                int(mask[:, start:stop].sum()),
                group.touches_border,
            )
        )
    return parts


def split_wide_in_row(row: list[Group], labels: np.ndarray) -> list[Group]:
    """Try to cut groups much wider than their neighbours in a number (two touching digits)."""
    if len(row) < 2:
        return row
    widths = sorted(g.width for g in row)
    typical = widths[len(widths) // 2]
    result = []
    for g in row:
        if g.width > ROW_SPLIT_WIDTH * typical:
            result.extend(split_touching(g, labels, aspect=ROW_SPLIT_ASPECT))
        else:
            result.append(g)
    return result


def _same_digit(a: Group, b: Group, tallest: int) -> bool:
    union_w = max(a.x1, b.x1) - min(a.x0, b.x0)
    union_h = max(a.y1, b.y1) - min(a.y0, b.y0)
    if union_w > MAX_MERGED_ASPECT * union_h or union_h > MAX_MERGED_HEIGHT * tallest:
        return False  # the union would not look like one digit
    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
    gap_y = max(a.y0, b.y0) - min(a.y1, b.y1)
    narrower = min(a.width, b.width)
    if -gap_y > 0.5 * min(a.height, b.height):
        # Side by side. Two digits stand on one baseline: a slanted 1 next to a 9 must not
        # join it, while the strokes of a 4 or the loop and stem of a 9 written in two goes
        # lie within each other's columns, or hang from above.
        if overlap_x >= MERGE_CONTAINED * narrower:
            return True
        short, tall = (a, b) if a.height < b.height else (b, a)
        hangs = short.height < MERGE_SHORT * tall.height and short.y1 < tall.y1 - 0.15 * tall.height
        return hangs and overlap_x >= MERGE_HANGING_OVERLAP * narrower
    # Stacked: a 0 broken at top and bottom, a 7 with its bar apart.
    return overlap_x >= MERGE_X_OVERLAP * narrower and gap_y <= MERGE_MAX_GAP * max(
        a.height, b.height
    )


def _best_partner(fragment: Group, pieces: list[Group], tallest: int) -> Group | None:
    """The piece a fragment belongs to: the one it overlaps most in x, else the nearest."""
    best, best_key = None, None
    for piece in pieces:
        union_w = max(piece.x1, fragment.x1) - min(piece.x0, fragment.x0)
        union_h = max(piece.y1, fragment.y1) - min(piece.y0, fragment.y0)
        if union_w > MAX_MERGED_ASPECT * union_h or union_h > MAX_MERGED_HEIGHT * tallest:
            continue
        gap_x = max(piece.x0, fragment.x0) - min(piece.x1, fragment.x1)
        gap_y = max(piece.y0, fragment.y0) - min(piece.y1, fragment.y1)
        distance = max(gap_x, gap_y, 0)
        if distance > FRAGMENT_MAX_DISTANCE * tallest:
            continue
        key = (max(0, -gap_x), -distance)
        if best_key is None or key > best_key:
            best, best_key = piece, key
    return best


def _is_speck_beside(fragment: Group, piece: Group) -> bool:
    """True for a fragment outside the piece's box with far less ink than the piece."""
    outside = (
        fragment.x1 <= piece.x0
        or fragment.x0 >= piece.x1
        or fragment.y1 <= piece.y0
        or fragment.y0 >= piece.y1
    )
    return outside and fragment.area < SPECK_SHARE * piece.area


def _cut_column(mask: np.ndarray) -> int | None:
    """The column where a single thin stroke joins two inky halves, if there is one."""
    width = mask.shape[1]
    columns = mask.sum(axis=0)
    low, high = int(0.25 * width), int(0.75 * width)
    if high - low < 1:
        return None
    smoothed = smooth_columns(columns[low:high])
    # Only columns crossed by a single stroke can be a joint (the middle of a wide 0 is
    # crossed twice).
    smoothed[_runs_per_column(mask[:, low:high]) != 1] = np.inf
    cut = low + int(np.argmin(smoothed))
    bridge = float(smoothed[cut - low])
    if not np.isfinite(bridge) or bridge > SPLIT_MAX_BRIDGE * stroke_width(mask):
        return None
    # A dash is all bridge: cut only where the halves hold much more ink than the joint.
    if columns.max() < 2.5 * max(bridge, 1.0) or not 0 < cut < width:
        return None
    return cut


def smooth_columns(values: np.ndarray) -> np.ndarray:
    """Average over three columns, so that one stray column does not decide a cut."""
    return np.convolve(values.astype(np.float32), np.ones(3, np.float32) / 3, mode="same")


def _runs_per_column(mask: np.ndarray) -> np.ndarray:
    """How many separate vertical runs of ink each column holds."""
    starts = mask[1:] & ~mask[:-1]
    return starts.sum(axis=0) + mask[0]
