"""A host re-reads its endpoint only when the registry's change mark moved (or a full re-read is
due), and still follows every change."""

from __future__ import annotations

import asyncio
from typing import Any

from shipyard.registry.endpoints import EndpointStore
from shipyard.serving import hosts
from shipyard.serving.hosts import ModelHost


def _host(registry: Any) -> ModelHost:
    endpoint = EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", actor="tester")
    return ModelHost(registry, endpoint, poll_interval=3600.0)


def _count_reads(host: ModelHost, monkeypatch: Any) -> list[int]:
    """Wrap the host's full read; the list's one item counts the reads."""
    reads = [0]
    resolve = host._resolve

    def counting() -> Any:
        reads[0] += 1
        return resolve()

    monkeypatch.setattr(host, "_resolve", counting)
    return reads


def test_change_mark_moves_with_every_audited_change(registry_with_models: Any) -> None:
    store = registry_with_models.store
    before = store.change_mark()
    assert before > 0  # registering the fixture's versions was audited
    assert store.change_mark() == before  # reading changes nothing
    registry_with_models.set_alias("churn", "champion", 2)
    moved = store.change_mark()
    assert moved > before
    registry_with_models.set_tag("churn", "team", "growth")
    assert store.change_mark() > moved


def test_host_rereads_only_after_a_change(registry_with_models: Any, monkeypatch: Any) -> None:
    host = _host(registry_with_models)
    reads = _count_reads(host, monkeypatch)

    async def main() -> None:
        assert await host.refresh()  # the first load
        assert host.current is not None and host.current.ref == "churn/1"
        assert reads == [1]
        for _ in range(3):  # nothing changed: the mark is read, the endpoint is not
            assert not await host.refresh()
        assert reads == [1]
        registry_with_models.set_alias("churn", "champion", 2)
        assert await host.refresh()
        assert reads == [2]
        assert host.current.ref == "churn/2"
        registry_with_models.set_tag("churn", "team", "growth")  # moves the mark only
        assert not await host.refresh()
        assert reads == [3]
        assert not await host.refresh()
        assert reads == [3]

    asyncio.run(main())


def test_a_full_reread_is_due_even_without_a_change(
    registry_with_models: Any, monkeypatch: Any
) -> None:
    host = _host(registry_with_models)
    monkeypatch.setattr(hosts, "RESYNC_SECONDS", 0.0)
    reads = _count_reads(host, monkeypatch)

    async def main() -> None:
        await host.refresh()
        await host.refresh()
        await host.refresh()

    asyncio.run(main())
    assert reads == [3]


def test_a_failed_load_is_retried_at_the_next_poll(
    registry_with_models: Any, monkeypatch: Any
) -> None:
    host = _host(registry_with_models)
    load = host._load
    failures = [RuntimeError("disk went away")]

    def flaky(ref: str, strict: bool = True, variant: str = "") -> Any:
        if failures:
            raise failures.pop()
        return load(ref, strict, variant)

    monkeypatch.setattr(host, "_load", flaky)

    async def main() -> None:
        try:
            await host.refresh()
        except RuntimeError as exc:
            assert "disk went away" in str(exc)
        else:
            raise AssertionError("the first load should have failed")
        assert host.current is None
        assert await host.refresh()  # same mark, but the last read was not acted on
        assert host.current is not None and host.current.ref == "churn/1"

    asyncio.run(main())
