from __future__ import annotations

from typing import Any

from shipyard.registry.leases import release, try_acquire


def test_a_lease_is_held_by_one_holder_until_it_expires(registry: Any) -> None:
    db = registry.db
    assert try_acquire(db, "monitor:churn", "replica-a", 60, now=1000.0)
    assert not try_acquire(db, "monitor:churn", "replica-b", 60, now=1030.0)
    assert try_acquire(db, "monitor:churn", "replica-a", 60, now=1030.0)  # renew
    assert not try_acquire(db, "monitor:churn", "replica-b", 60, now=1089.0)
    assert try_acquire(db, "monitor:churn", "replica-b", 60, now=1091.0)  # expired: taken over
    assert try_acquire(db, "other", "replica-a", 60, now=1091.0)  # leases are independent


def test_release_frees_the_lease_only_for_its_holder(registry: Any) -> None:
    db = registry.db
    assert try_acquire(db, "tick", "a", 60, now=0.0)
    release(db, "tick", "b")
    assert not try_acquire(db, "tick", "b", 60, now=1.0)
    release(db, "tick", "a")
    assert try_acquire(db, "tick", "b", 60, now=1.0)
