"""Mergeable summaries: chunks merge into the summary of the whole, drift from them agrees."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from shipyard.errors import InvalidInputError
from shipyard.monitoring import DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.sketch import QuantileSketch
from shipyard.monitoring.summaries import CategoricalSummary, NumericSummary, Summary, summarise
from shipyard.monitoring.summary_drift import drift_from_summaries

KINDS = {"x": "numeric", "d": "numeric", "c": "categorical", "b": "boolean"}


def _data(rng: np.random.Generator, rows: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    x = rng.normal(shift, 1.0, rows)
    x[rng.random(rows) < 0.05] = np.nan
    x[rng.random(rows) < 0.001] = np.inf
    d = rng.poisson(3.0 + 3 * shift, rows).astype(np.float64)  # a few distinct values
    p = np.array([0.4, 0.3, 0.2, 0.1])
    if shift:
        p = np.array([0.1, 0.2, 0.3, 0.4])
    c = np.array(["red", "green", "blue", "a much longer level name"], dtype=object)[
        rng.choice(4, rows, p=p)
    ]
    c[rng.random(rows) < 0.02] = None
    b = rng.random(rows) < 0.3 + shift / 2
    return {"x": x, "d": d, "c": c, "b": b}


def _chunks(data: dict[str, np.ndarray], cuts: list[int]) -> list[dict[str, np.ndarray]]:
    bounds = [0, *cuts, len(data["x"])]
    return [{k: v[lo:hi] for k, v in data.items()} for lo, hi in pairwise(bounds)]


def _true_rank(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    finite = np.sort(values[np.isfinite(values)])
    return np.searchsorted(finite, points, side="right").astype(np.float64)


def _assert_same_counts(a: Summary, b: Summary) -> None:
    assert a.rows == b.rows and list(a.features) == list(b.features)
    for name, fa in a.features.items():
        fb = b.features[name]
        assert (fa.rows, fa.missing) == (fb.rows, fb.missing)
        if isinstance(fa, NumericSummary):
            assert isinstance(fb, NumericSummary)
            assert fa.infinite == fb.infinite and fa.n == fb.n
            assert fa.counts.tolist() == fb.counts.tolist()
            assert (fa.min, fa.max) == (fb.min, fb.max)
            assert fa.mean == pytest.approx(fb.mean, rel=1e-12, abs=1e-12)
            assert fa.std == pytest.approx(fb.std, rel=1e-9)
            if fa.values is None:
                assert fb.values is None
            else:
                assert fb.values is not None and fb.value_counts is not None
                assert fa.values.tolist() == fb.values.tolist()
                assert fa.value_counts is not None
                assert fa.value_counts.tolist() == fb.value_counts.tolist()
        else:
            assert isinstance(fa, CategoricalSummary) and isinstance(fb, CategoricalSummary)
            assert dict(fa.levels) == dict(fb.levels) and fa.pooled == fb.pooled == 0


def test_summaries_merged_chunks_equal_the_whole() -> None:
    rng = np.random.default_rng(0)
    data = _data(rng, 30_000)
    whole = summarise(data, KINDS, sketch_size=256)
    parts = [summarise(chunk, like=whole) for chunk in _chunks(data, [7000, 7001, 19_999])]
    left = ((parts[0].merge(parts[1])).merge(parts[2])).merge(parts[3])
    right = parts[0].merge(parts[1].merge(parts[2].merge(parts[3])))
    shuffled = parts[3].merge(parts[1]).merge(parts[0].merge(parts[2]))
    for merged in (left, right, shuffled):
        _assert_same_counts(merged, whole)
        x = merged["x"]
        assert isinstance(x, NumericSummary)
        np.testing.assert_array_equal(x.edges, whole["x"].edges)  # type: ignore[union-attr]
        # the sketch answers within its own stated bound, which stays small
        points = np.quantile(data["x"][np.isfinite(data["x"])], np.linspace(0, 1, 101))
        error = np.abs(x.sketch.rank(points) - _true_rank(data["x"], points))
        assert error.max() <= x.sketch.rank_error
        assert x.sketch.rank_error <= 0.05 * x.n
        assert x.sketch.n == x.n


def test_summaries_sketch_bound_holds_on_sorted_input_and_ties() -> None:
    rng = np.random.default_rng(1)
    chunks = [np.sort(rng.normal(size=5000)), np.round(rng.normal(size=20_000), 1),
              np.arange(3000.0)[::-1], np.full(4000, 0.5)]  # fmt: skip
    sketch = QuantileSketch.of(chunks[0], 128)
    for chunk in chunks[1:]:
        sketch = sketch.merge(QuantileSketch.of(chunk, 128))
    everything = np.concatenate(chunks)
    points = np.unique(np.concatenate((everything[::37], [-10.0, 0.5, 10.0, 5000.0])))
    error = np.abs(sketch.rank(points) - _true_rank(everything, points))
    assert error.max() <= sketch.rank_error
    assert sketch.n == everything.size and sketch.size <= 128 * len(sketch.levels)
    assert 0 < sketch.rank_error <= 0.05 * sketch.n
    with pytest.raises(InvalidInputError, match="finite"):
        QuantileSketch.of([1.0, np.nan])
    with pytest.raises(InvalidInputError, match="sketch size"):
        QuantileSketch.of([1.0], 1)
    with pytest.raises(InvalidInputError, match="different sizes"):
        sketch.merge(QuantileSketch.of([1.0], 64))
    median = sketch.quantile(0.5)
    true_rank = _true_rank(everything, np.array([median]))[0]
    assert abs(true_rank - 0.5 * everything.size) <= sketch.rank_error + 1


def test_summaries_memory_does_not_grow_with_rows() -> None:
    rng = np.random.default_rng(2)
    levels = np.array([f"user-{i}" for i in range(5000)])
    first = {"x": rng.normal(size=20_000), "c": levels[rng.integers(0, 5000, 20_000)]}
    summary = summarise(first, {"x": "numeric", "c": "categorical"}, max_levels=100)
    for _ in range(10):
        chunk = {"x": rng.normal(size=20_000), "c": levels[rng.integers(0, 5000, 20_000)]}
        summary = summary.merge(summarise(chunk, like=summary))
    x, c = summary["x"], summary["c"]
    assert isinstance(x, NumericSummary) and isinstance(c, CategoricalSummary)
    assert x.sketch.size <= x.sketch.k * len(x.sketch.levels)
    assert len(x.sketch.levels) <= int(np.log2(x.n / x.sketch.k)) + 2
    assert len(c.levels) == 100 and c.pooled == 220_000 - sum(c.levels.values())
    report = drift_from_summaries(summary, summary)
    assert "pooled" in report["c"].compared and not report["c"].drifted


@pytest.mark.parametrize("reference_rows", [800, 5000])
def test_summaries_drift_agrees_with_the_exact_report(reference_rows: int) -> None:
    rng = np.random.default_rng(3 + reference_rows)
    reference = _data(rng, reference_rows)
    same = _data(rng, 4000)
    moved = _data(rng, 4000, shift=0.6)
    ref_summary = summarise(reference, KINDS)
    for current, expect in ((same, False), (moved, True)):
        summary = summarise(current, like=ref_summary)
        approx = drift_from_summaries(ref_summary, summary)
        exact = drift_report(reference, current, KINDS)
        for name in KINDS:
            a, e = approx[name], exact[name]
            assert a.test == e.test, name
            assert a.drifted == e.drifted == expect, (name, a, e)
            assert a.missing.drifted == e.missing.drifted
            assert a.missing.reference_share == e.missing.reference_share
        # level counts are exact: the categorical figures are the exact report's
        for name in ("c", "b"):
            assert approx[name].statistic == pytest.approx(exact[name].statistic, rel=1e-12)
        if reference_rows > 1000:
            assert approx["c"].noise_floor == exact["c"].noise_floor
        if reference_rows < 4096:  # sketches that never compacted hold every value: exact KS
            assert approx["x"].compared.startswith("exact")
            assert approx["x"].statistic == pytest.approx(exact["x"].statistic, abs=1e-12)
        else:
            assert approx["x"].compared.startswith("approximate (quantile sketches")
        assert approx.n_current == exact.n_current and approx.n_reference == exact.n_reference


def test_summaries_binned_tests_say_they_are_approximate() -> None:
    rng = np.random.default_rng(4)
    reference = {"x": rng.normal(size=20_000)}
    opts = DriftOptions(features={"x": FeatureOptions(test="psi")})
    ref_summary = summarise(reference, {"x": "numeric"}, bins=30)
    quiet = summarise({"x": rng.normal(size=3000)}, like=ref_summary)
    loud = summarise({"x": rng.normal(4.0, 1.0, 3000)}, like=ref_summary)  # past the top edge
    feature = drift_from_summaries(ref_summary, quiet, options=opts)["x"]
    assert feature.compared.startswith("approximate (binned, 30 bins)")
    assert feature.test == "psi" and not feature.drifted
    assert drift_from_summaries(ref_summary, loud, options=opts)["x"].drifted
    top = loud["x"]
    assert isinstance(top, NumericSummary) and top.counts[-1] > 2000  # the open end caught them


def test_summaries_inputs_are_checked() -> None:
    rng = np.random.default_rng(5)
    one = summarise({"x": rng.normal(size=100)})
    other = summarise({"x": rng.normal(size=100)})  # edges of its own
    with pytest.raises(InvalidInputError, match="like="):
        one.merge(other)
    with pytest.raises(InvalidInputError, match="like="):
        drift_from_summaries(one, other)
    with pytest.raises(InvalidInputError, match="no column"):
        summarise({"y": np.arange(3.0)}, like=one)
    with pytest.raises(InvalidInputError, match="different features"):
        one.merge(summarise({"x": np.arange(3.0), "z": np.arange(3.0)}))
    with pytest.raises(InvalidInputError, match="not both"):
        summarise({"x": np.arange(3.0)}, {"x": "numeric"}, like=one)
    with pytest.raises(InvalidInputError, match="bins"):
        summarise({"x": np.arange(3.0)}, bins=0)
    with pytest.raises(InvalidInputError, match="does not apply"):
        drift_from_summaries(
            summarise({"c": np.array(["a", "b"] * 10)}),
            summarise({"c": np.array(["a", "b"] * 10)}),
            options=DriftOptions(features={"c": FeatureOptions(test="ks")}),
        )


def test_summaries_from_a_reference_profile() -> None:
    from shipyard.datasets import house_prices, inject_drift
    from shipyard.monitoring.profile_summary import summary_from_profile
    from shipyard.registry.profile import build_profile

    reference = house_prices(5000, seed=0).X
    profile, _ = build_profile(reference)
    ref_summary = summary_from_profile(profile)
    quiet = summarise(house_prices(3000, seed=1).X, like=ref_summary)
    moved = inject_drift(house_prices(3000, seed=2).X, columns=["area_sqm"], strength=1.0)
    loud = summarise(moved, like=ref_summary)
    assert drift_from_summaries(profile, quiet).drifted_features == []
    report = drift_from_summaries(profile, loud)
    assert report.drifted_features == ["area_sqm"]
    exact = drift_report(reference, moved)
    for feature in report.features:
        assert feature.test == exact[feature.name].test
    area = report["area_sqm"]
    assert "CDF error <= " in area.compared  # the stand-in sketch says how rough it is
    with pytest.raises(InvalidInputError, match="profile"):
        summary_from_profile({"rows": 3})


def test_summaries_of_chunked_large_windows_reach_the_exact_verdicts() -> None:
    rng = np.random.default_rng(6)
    kinds = {"a": "numeric", "b": "numeric", "g": "numeric", "c": "categorical"}

    def data(rows: int, drifted: bool) -> dict[str, np.ndarray]:
        levels = np.array(["x", "y", "z", "w"])
        p = [0.1, 0.2, 0.3, 0.4] if drifted else [0.4, 0.3, 0.2, 0.1]
        return {
            "a": rng.normal(0.3 if drifted else 0.0, 1.0, rows),
            "b": rng.lognormal(0.0, 0.5, rows),
            "g": np.round(rng.gamma(2.0, 10.0, rows)),
            "c": levels[rng.choice(4, rows, p=p)],
        }

    reference, current = data(100_000, False), data(300_000, True)
    ref_summary: Summary | None = None
    for chunk in _split(reference, 4):
        part = summarise(chunk, kinds if ref_summary is None else None, like=ref_summary)
        ref_summary = part if ref_summary is None else ref_summary.merge(part)
    assert ref_summary is not None
    cur_summary = summarise(current, like=ref_summary, sketch_size=512)  # like= fixes k too
    assert cur_summary["a"].sketch.k == 4096  # type: ignore[union-attr]
    parts = [summarise(chunk, like=ref_summary) for chunk in _split(current, 6)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    approx = drift_from_summaries(ref_summary, merged)
    exact = drift_report(reference, current, kinds)
    assert approx.drifted_features == exact.drifted_features == ["a", "c"]
    for name in kinds:
        assert approx[name].test == exact[name].test
    assert approx["a"].statistic == pytest.approx(exact["a"].statistic, abs=0.01)
    assert approx["c"].statistic == exact["c"].statistic


def _split(data: dict[str, np.ndarray], parts: int) -> list[dict[str, np.ndarray]]:
    rows = len(next(iter(data.values())))
    cuts = np.linspace(0, rows, parts + 1).astype(int)
    return [{k: v[lo:hi] for k, v in data.items()} for lo, hi in pairwise(cuts)]


def test_summaries_drift_is_deterministic_whatever_the_workers() -> None:
    rng = np.random.default_rng(7)
    reference = summarise(_data(rng, 6000), KINDS)
    current = summarise(_data(rng, 500, shift=0.1), like=reference)
    one = drift_from_summaries(reference, current, options=DriftOptions(workers=1)).to_dict()
    assert (
        drift_from_summaries(reference, current, options=DriftOptions(workers=3)).to_dict() == one
    )
    assert drift_from_summaries(reference, current).to_dict() == one
