"""Routing tables: weighted canary choice, sticky A/B hashing, shadow mirroring, the bounded
shadow runner and the per-variant counters (pure, no server)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from shipyard.errors import InvalidInputError
from shipyard.registry.endpoints import Endpoint, Variant, check_routing, parse_key
from shipyard.rollouts.stats.srm import sample_ratio_mismatch
from shipyard.serving.routing import Route, ShadowRunner, VariantStats, hash_share

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def endpoint(policy: str, *variants: Variant, key: str | None = None) -> Endpoint:
    return Endpoint("m", "m", variants, NOW, "t", NOW, policy, key)  # type: ignore[arg-type]


def test_a_single_endpoint_has_no_route() -> None:
    assert Route.of(endpoint("single", Variant("main", "m@champion"))) is None


def test_canary_splits_by_weight() -> None:
    route = Route.of(
        endpoint("canary", Variant("main", "m@champion", 0.8), Variant("candidate", "m/2", 0.2))
    )
    assert route is not None and route.variants == ("main", "candidate")
    draws = random.Random(7)
    counts = Counter(route.pick(None, draws.random) for _ in range(10_000))
    assert not sample_ratio_mismatch([counts["main"], counts["candidate"]], [0.8, 0.2]).mismatch
    assert (
        route.pick(None, lambda: 0.79) == "main" and route.pick(None, lambda: 0.81) == "candidate"
    )


def test_ab_is_sticky_and_uniform_over_keys() -> None:
    route = Route.of(
        endpoint(
            "ab",
            Variant("main", "m@champion", 0.5),
            Variant("candidate", "m/2", 0.5),
            key="header:X-User",
        )
    )
    assert route is not None and (route.key_kind, route.key_name) == ("header", "x-user")
    first = {f"u{i}": route.pick(f"u{i}") for i in range(4000)}
    assert all(route.pick(k) == v for k, v in first.items())  # sticky
    counts = Counter(first.values())
    assert not sample_ratio_mismatch([counts["main"], counts["candidate"]], [0.5, 0.5]).mismatch
    assert 0.0 <= hash_share("m", "u1") < 1.0 and hash_share("m", "u1") != hash_share("n", "u1")


def test_shadow_mirrors_its_share() -> None:
    route = Route.of(
        endpoint(
            "shadow", Variant("main", "m@champion"), Variant("shadow", "m/2", 0.25, shadow=True)
        )
    )
    assert route is not None and route.names == ("main",) and route.shadow == "shadow"
    assert route.pick() == "main"
    draws = random.Random(3)
    mirrored = sum(route.mirrors(draws.random) for _ in range(8000))
    assert not sample_ratio_mismatch([mirrored, 8000 - mirrored], [0.25, 0.75]).mismatch


@pytest.mark.parametrize(
    ("policy", "variants", "key", "message"),
    [
        ("weird", [Variant("main", "m@champion")], None, "unknown policy"),
        ("single", [Variant("x", "m@champion")], None, "named 'main'"),
        ("canary", [Variant("main", "m@champion", 0.5), Variant("c", "m/2", 0.2)], None, "sum"),
        ("canary", [Variant("main", "m@champion", 1.0)], None, "at least two"),
        ("canary", [Variant("main", "m@champion", 0.5), Variant("c", "o/2", 0.5)], None, "'o'"),
        ("canary", [Variant("main", "m@champion", 1.5), Variant("c", "m/2", -0.5)], None, "weight"),
        ("ab", [Variant("main", "m@champion", 0.5), Variant("c", "m/2", 0.5)], None, "needs a key"),
        ("shadow", [Variant("main", "m@champion")], None, "exactly one shadow"),
    ],
)
def test_bad_routing_is_refused_naming_the_problem(
    policy: str, variants: list[Variant], key: str | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_routing("m", policy, variants, key)


def test_keys_parse() -> None:
    assert parse_key("header:X-User-Id") == ("header", "x-user-id")
    assert parse_key("field:user_id") == ("field", "user_id")
    for bad in ("user_id", "cookie:x", "header:", "field: "):
        with pytest.raises(InvalidInputError, match="invalid A/B key"):
            parse_key(bad)


def test_variant_stats_count_errors_latency_and_agreement() -> None:
    stats = VariantStats()
    assert stats.quantiles() == (None, None)
    for i in range(100):
        stats.record(500 if i % 10 == 0 else 200, (i + 1) / 1000)
    stats.record(404, 0.001)  # a client error is not the model's
    assert (stats.requests, stats.errors) == (101, 10)
    p50, p99 = stats.quantiles()
    assert p50 is not None and p99 is not None and p50 < p99 <= 100.0
    stats.compare([1, 0, 1, 1], [1, 1, 1, 0])
    assert (stats.compared, stats.rows, stats.agreed, stats.abs_difference) == (1, 4, 2, 2.0)


def test_the_shadow_runner_drops_and_counts_when_saturated() -> None:
    async def main() -> ShadowRunner:
        runner = ShadowRunner(max_in_flight=2)
        gate = asyncio.Event()

        async def slow() -> None:
            await gate.wait()

        async def broken() -> None:
            raise RuntimeError("the shadow failed")

        assert runner.submit(slow) and runner.submit(slow)
        assert not runner.submit(slow)  # saturated: dropped, never queued
        gate.set()
        await runner.drain()
        assert runner.submit(broken)
        await runner.drain()
        return runner

    runner = asyncio.run(main())
    assert (runner.sent, runner.dropped, runner.failed, runner.in_flight) == (3, 1, 1, 0)
