"""Shared levels and bins: turning two raw samples into two count vectors over one support.

Levels are the distinct present values of either sample (sorted), optionally cut to the
reference's ``top_k`` most frequent plus one ``"other"``. Numeric samples follow Evidently's
binning rule, so the distances match it: more than 20 distinct reference values → equal-width
``"sturges"`` bins over both samples; otherwise one bin per value.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.monitoring.stats._arrays import Counts, Floats

__all__ = ["OTHER", "Support", "count_levels", "missing_mask", "shared_bins", "shared_levels"]

OTHER = "other"
_GUESS_ROWS = 10_000
_FEW_LEVELS = 32  # up to this many guessed levels, text is counted by packed compares


@dataclass(frozen=True)
class Support:
    """Two count vectors over the same levels or bins, and what those are."""

    labels: tuple[str, ...]
    reference: Counts
    current: Counts
    compared: str
    unseen: int = 0  # current rows whose level never occurs in the reference
    n_levels: int = 0  # distinct levels in both samples, before any pooling in "other"


def missing_mask(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    """True where a value is missing: NaN for floats, None or NaN for objects."""
    if values.dtype.kind in "fc":
        return np.asarray(np.isnan(values), dtype=np.bool_)
    if values.dtype.kind == "O":
        return np.asarray((values == None) | (values != values), dtype=np.bool_)  # noqa: E711
    return np.zeros(values.shape, dtype=np.bool_)


def count_levels(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], Counts]:
    """Sorted distinct values of a sample without missing values, and how often each occurs.

    Text is coded against the distinct values of a strided sample with a binary search (much
    faster than sorting every string); only rows the guess does not cover are sorted. Short
    Latin-1 text with few levels is counted faster still, by comparing packed integers.
    """
    if values.dtype.kind not in "USO" or values.size <= _GUESS_ROWS:
        return _unique(values)
    guess = np.unique(values[:: values.size // _GUESS_ROWS])
    if guess.size <= _FEW_LEVELS and (words := _text_words(values)) is not None:
        counts = _count_equal(words, _text_words(guess))
        if counts is not None:
            return guess, counts
    pos = np.minimum(np.searchsorted(guess, values), guess.size - 1)
    hit = guess[pos] == values
    counts = np.bincount(pos[hit], minlength=guess.size).astype(np.int64)
    if hit.all():
        return guess, counts
    rest, rest_counts = _unique(values[~hit])
    levels = np.concatenate((guess.astype(object), rest.astype(object)))
    order = np.argsort(levels.astype(str), kind="stable")
    return levels[order], np.concatenate((counts, rest_counts))[order]


def _text_words(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64] | None:
    """Fixed-width text of Latin-1 characters packed 8 to a 64-bit word, one row per value.

    Two such values are equal exactly when their rows are (numpy pads text with NULs, as the
    packing does), so a level is counted with a few integer compares instead of text compares.
    ``None`` for other text, which takes the general path.
    """
    width = values.dtype.itemsize // 4
    if values.dtype.kind != "U" or not 0 < width <= 32:
        return None
    codes = np.ascontiguousarray(values).view(np.uint32).reshape(values.size, width)
    if codes.size and codes.max() > 255:
        return None
    packed = np.zeros((values.size, -(-width // 8) * 8), dtype=np.uint8)
    packed[:, :width] = codes
    return packed.view(np.uint64)


def _count_equal(words: npt.NDArray[np.uint64], levels: Any) -> Counts | None:
    """How many rows of ``words`` equal each row of ``levels``; ``None`` if some match none."""
    counts = np.zeros(levels.shape[0], dtype=np.int64)
    for i, level in enumerate(levels):
        match = words[:, 0] == level[0]
        for column in range(1, words.shape[1]):
            match &= words[:, column] == level[column]
        counts[i] = np.count_nonzero(match)
    return counts if int(counts.sum()) == words.shape[0] else None


def _unique(values: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], Counts]:
    try:
        levels, counts = np.unique(values, return_counts=True)
    except TypeError:  # mixed types in an object array: compare them as text
        levels, counts = np.unique(values.astype(str), return_counts=True)
    return levels, counts.astype(np.int64)


def shared_levels(reference: Any, current: Any, *, top_k: int | None = None) -> Support:
    """Counts of every level present in either sample (missing values dropped).

    With ``top_k``, levels beyond the reference's ``top_k`` most frequent are pooled in
    ``"other"`` (levels seen only in the current window rank last), so a high-cardinality
    feature stays a small table and a flood of new categories still shows as a jump of "other".
    """
    ref_levels, ref_counts = count_levels(_present(reference))
    cur_levels, cur_counts = count_levels(_present(current))
    labels = [str(v) for v in ref_levels]
    index = {label: i for i, label in enumerate(labels)}
    for label in (str(v) for v in cur_levels):
        index.setdefault(label, len(index))
    size = len(index)
    ref = _merge_duplicates(ref_counts, labels, index, size)
    cur = _merge_duplicates(cur_counts, [str(v) for v in cur_levels], index, size)
    names = list(index)
    unseen = int(cur[ref == 0].sum())
    order = sorted(range(len(names)), key=lambda i: names[i])
    if top_k is not None and len(names) > top_k:
        ranked = sorted(range(len(names)), key=lambda i: (-ref[i], -cur[i], names[i]))
        keep, pooled = sorted(ranked[:top_k], key=lambda i: names[i]), ranked[top_k:]
        labels_out = (*(names[i] for i in keep), OTHER)
        ref_out = np.append(ref[keep], ref[pooled].sum())
        cur_out = np.append(cur[keep], cur[pooled].sum())
        compared = f"top {top_k} of {len(names)} levels + {OTHER}"
        return Support(labels_out, ref_out, cur_out, compared, unseen, len(names))
    labels_out = tuple(names[i] for i in order)
    return Support(labels_out, ref[order], cur[order], f"{len(names)} levels", unseen, len(names))


def _merge_duplicates(
    counts: Counts, labels: list[str], index: dict[str, int], size: int
) -> Counts:
    # Values that print alike (1 and "1") share a label, as in the reference profile.
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, [index[label] for label in labels], counts)
    return out


def shared_bins(reference: Floats, current: Floats) -> Support:
    """Evidently's binning of two finite numeric samples (see the module docstring)."""
    if np.unique(reference).size <= 20:
        support = shared_levels(reference, current)
        return Support(support.labels, support.reference, support.current, support.compared)
    edges = np.histogram_bin_edges(np.concatenate((reference, current)), bins="sturges")
    ref = np.histogram(reference, edges)[0].astype(np.int64)
    cur = np.histogram(current, edges)[0].astype(np.int64)
    labels = tuple(f"[{lo:.6g}, {hi:.6g})" for lo, hi in pairwise(edges))
    return Support(labels, ref, cur, f"{ref.size} equal-width bins over both samples")


def _present(values: Any) -> npt.NDArray[Any]:
    array = np.asarray(values)
    missing = missing_mask(array)
    return array[~missing] if missing.any() else array
