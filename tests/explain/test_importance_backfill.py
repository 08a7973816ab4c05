"""Global importance without being asked: by the server after it loads a version (background),
during registration (sync), or only on first use (off); one computation across replicas."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shipyard.errors import ConfigError
from shipyard.explain import global_importance, stored_importance
from shipyard.explain.backfill import ensure_importance, lease_name
from shipyard.explain.importance import (
    ROW_CHUNK,
    ImportanceStopped,
    compute_importance,
    live_sample_importance,
)
from shipyard.registry.leases import release, try_acquire
from shipyard.settings import Settings


def _wait_for_importance(registry: Any, ref: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := stored_importance(registry, ref)) is None:
        assert time.monotonic() < deadline, f"{ref} got no importance attachment in {timeout}s"
        time.sleep(0.05)
    return found


# The server's job writes through the same lease and attachment code that the sync and
# one-replica tests below run on both stores; a second served SHAP pass would only repeat it.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_served_version_gets_its_importance_attached(
    registry: Any, churn: Any, churn_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.cards import model_card, render_markdown
    from shipyard.explain import backfill
    from shipyard.serving.background import BackgroundServer, post_json, v2_body
    from shipyard.serving.server import build_app

    assert registry.settings.importance == "background"  # the default
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    assert stored_importance(registry, version.ref) is None  # registration did not wait for it

    monkeypatch.setattr(backfill, "GENTLE_PAUSE", 0.05)  # the server's rests, shortened
    app = build_app(registry, ["churn/1"], rollout_interval=None, console=False)
    with BackgroundServer(app) as url:
        status, _ = post_json(f"{url}/v2/models/churn/infer", v2_body(churn.X.head(3)))
        assert status == 200  # the server serves while the importance is computed
        attached = _wait_for_importance(registry, version.ref)

    assert attached["rows"] == 1_000  # of the 1,500-row reference sample
    assert attached["method"] == "tree"
    assert set(attached["features"]) == set(churn.X.columns)
    values = list(attached["features"].values())
    assert values == sorted(values, reverse=True)
    kinds = [a.kind for a in registry.attachments(version.ref)]
    assert kinds.count("importance") == 1
    audited = [e for e in registry.audit_log(version.ref) if e.action == "version.attach"]
    assert any((e.after or {}).get("kind") == "importance" for e in audited)

    # the model card shows that attachment, not a new computation
    card = model_card(registry, version.ref, importance_rows=50)
    assert card["shipyard"]["global_importance"] == attached
    top = next(iter(attached["features"]))
    assert top in render_markdown(card)
    assert [a.kind for a in registry.attachments(version.ref)].count("importance") == 1


def test_sync_mode_attaches_during_registration(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False,
        importance="sync",
    )  # fmt: skip
    assert "importance" in version.attachments  # the returned version already has it
    stored = stored_importance(registry, version.ref)
    assert stored is not None and stored["rows"] == 1_000
    assert global_importance(registry, version.ref) == stored


def test_off_and_the_setting(tmp_path: Any, churn: Any, churn_model: Any) -> None:
    from shipyard.registry.client import Registry

    reg = Registry(Settings(home=tmp_path / "home", actor="tester", importance="sync"))
    try:
        synced = reg.register(churn_model, "churn", reference=churn.X, convert_onnx=False)
        assert stored_importance(reg, synced.ref) is not None  # the setting's mode
        off = reg.register(
            churn_model, "churn", reference=churn.X, convert_onnx=False, importance="off"
        )
        assert stored_importance(reg, off.ref) is None
        assert global_importance(reg, off.ref, rows=40)["rows"] == 40  # on first use
        with pytest.raises(ConfigError, match="background, sync, off"):
            reg.register(churn_model, "churn", reference=churn.X, importance="later")
    finally:
        reg.close()
    with pytest.raises(ConfigError, match="SHIPYARD_IMPORTANCE"):
        Settings(home=tmp_path, importance="eventually")


def test_one_replica_computes_it(registry: Any, churn: Any, churn_model: Any) -> None:
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    assert try_acquire(registry.db, lease_name(version.ref), "other-replica", 600)
    assert ensure_importance(registry, version, rows=30) is None  # the other one is on it
    assert stored_importance(registry, version.ref) is None
    release(registry.db, lease_name(version.ref), "other-replica")
    data = ensure_importance(registry, version, rows=30)
    assert data is not None and data["rows"] == 30
    assert ensure_importance(registry, version, rows=99) == data  # stored: not recomputed


def test_chunks_stop_and_budget(registry: Any, churn: Any, churn_model: Any) -> None:
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    loaded = registry.load(version.ref)
    sample = registry.reference_sample(version.ref)
    with pytest.raises(ImportanceStopped):
        compute_importance(loaded, sample, rows=50, stop=lambda: True)
    # one chunk is always explained; a spent budget stops the rest
    cut = live_sample_importance(loaded, churn.X, max_rows=100, seconds=1e-9)
    assert (cut.rows, cut.available, cut.truncated) == (ROW_CHUNK, len(churn.X), True)
    whole = live_sample_importance(loaded, churn.X.head(30), max_rows=100)
    assert (whole.rows, whole.available, whole.truncated) == (30, 30, False)
    # explained in chunks, the mean is the mean over all the rows at once
    rows = churn.X.head(30)
    expected = loaded.explain(rows).mean_abs()
    for name, value in expected.items():
        assert whole.features[name] == pytest.approx(value, rel=1e-9, abs=1e-12)
