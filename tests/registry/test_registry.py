"""Registering, resolving, loading, aliases, tags and search, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shipyard.errors import (
    IntegrityError,
    InvalidInputError,
    InvalidNameError,
    NotFoundError,
    SignatureError,
    UnsafeFormatError,
)
from shipyard.registry.artifacts import LocalArtifactStore


def test_register_records_identity_lineage_and_profile(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    v = registry.register(
        churn_model,
        "churn",
        reference=churn.X,
        target=churn.y,
        metrics={"auc": 0.91},
        params={"n_estimators": 20},
        tags={"team": "growth"},
    )
    assert (v.model, v.version, v.flavor, v.status) == ("churn", 1, "sklearn", "candidate")
    assert len(v.artifact_digest) == 64 and v.artifact_size > 1000
    assert v.metrics == {"auc": 0.91} and v.params == {"n_estimators": 20}
    assert v.tags == {"team": "growth"}
    assert v.created_by == "tester"
    lineage = v.lineage
    assert len(lineage["data_fingerprint"]) == 64
    assert lineage["parent_version"] is None
    assert "scikit-learn" in lineage["libraries"] and "python" in lineage["libraries"]
    assert lineage["git"] is None or set(lineage["git"]) == {"commit", "dirty"}
    names = [f["name"] for f in v.signature["inputs"]]
    assert names == list(churn.X.columns)
    profile = registry.reference_profile("churn/1")
    assert profile["n_rows"] == len(churn.X)
    assert set(profile["features"]) == set(churn.X.columns)
    sample = registry.reference_sample("churn/1")
    assert len(sample) == len(churn.X)  # fewer rows than the sample bound
    assert churn.target in sample.columns


def test_versions_number_per_model_and_refs_resolve(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    for _ in range(3):
        registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.register(churn_model, "other", reference=churn.X, target=churn.y)
    assert [v.version for v in registry.list_versions("churn")] == [1, 2, 3]
    assert registry.get_version("other").version == 1
    assert registry.get_version("churn").version == 3  # no champion: latest usable
    registry.set_status("churn/3", "rejected")
    assert registry.get_version("churn").version == 2
    registry.set_alias("churn", "champion", 1)
    assert registry.get_version("churn").version == 1
    assert registry.get_version("churn@champion").version == 1
    assert registry.get_version("churn/2").version == 2
    assert registry.get_model("churn").aliases == {"champion": 1}
    assert [m.name for m in registry.list_models()] == ["churn", "other"]


def test_alias_history_keeps_every_move(registry: Any, churn: Any, churn_model: Any) -> None:
    for _ in range(2):
        registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("churn", "champion", 2)
    registry.set_alias("churn", "challenger", 1)
    registry.delete_alias("churn", "challenger")
    moves = registry.alias_history("churn")
    assert [(m.alias, m.from_version, m.to_version) for m in moves] == [
        ("champion", None, 1),
        ("champion", 1, 2),
        ("challenger", None, 1),
        ("challenger", 1, None),
    ]
    assert all(m.actor == "tester" for m in moves)
    assert [m.to_version for m in registry.alias_history("churn", "champion")] == [1, 2]
    assert registry.get_version("churn/1").aliases == ()
    assert registry.get_version("churn/2").aliases == ("champion",)


def test_unknown_things_are_not_found_with_hints(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    with pytest.raises(NotFoundError, match="no model named 'nope'"):
        registry.get_version("nope")
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    with pytest.raises(NotFoundError, match=r"no version 7 \(its versions are 1..1\)"):
        registry.get_version("churn/7")
    with pytest.raises(NotFoundError, match="shipyard alias set churn champion"):
        registry.get_version("churn@champion")
    with pytest.raises(NotFoundError):
        registry.set_alias("churn", "champion", 5)
    with pytest.raises(InvalidNameError):
        registry.register(churn_model, "Bad Name", reference=churn.X, target=churn.y)
    with pytest.raises(InvalidNameError):
        registry.set_alias("churn", "Champion!", 1)


def test_load_by_alias_predicts_every_input_form(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 1)
    model = registry.load("churn@champion")
    head = churn.X.head(5)
    expected = churn_model.predict(head)
    assert list(model.predict(head)) == list(expected)
    assert list(model.predict(head.to_dict(orient="list"))) == list(expected)
    assert list(model.predict(head.to_dict(orient="records"))) == list(expected)
    proba = model.predict_proba(head)
    np.testing.assert_allclose(proba, churn_model.predict_proba(head))
    with pytest.raises(SignatureError, match="tenure_months"):
        model.predict(head.drop(columns=["tenure_months"]))


def test_tampered_artifact_is_refused(registry: Any, churn: Any, churn_model: Any) -> None:
    v = registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    assert isinstance(registry.artifacts, LocalArtifactStore)
    path: Path = registry.artifacts.path(v.artifact_digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match its recorded digest"):
        registry.load("churn/1")


def test_pickle_is_refused_without_the_operator_setting(registry: Any, churn: Any) -> None:
    class Custom:
        def predict(self, X: Any) -> Any:
            return np.zeros(len(X))

    with pytest.raises(UnsafeFormatError, match="SHIPYARD_ALLOW_PICKLE"):
        registry.register(Custom(), "custom", reference=churn.X)
    assert registry.list_models() == []


def test_tags_on_models_and_versions_are_audited(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_tag("churn", "owner", "ana")
    registry.set_tag("churn/1", "stage", "dev")
    registry.set_tag("churn/1", "stage", "prod")
    assert registry.get_model("churn").tags == {"owner": "ana"}
    assert registry.get_version("churn/1").tags == {"stage": "prod"}
    registry.delete_tag("churn/1", "stage")
    assert registry.get_version("churn/1").tags == {}
    tag_entries = [e for e in registry.store.audit_entries() if e.action.startswith("tag.")]
    assert [(e.action, e.before, e.after) for e in tag_entries] == [
        ("tag.set", None, {"owner": "ana"}),
        ("tag.set", None, {"stage": "dev"}),
        ("tag.set", {"stage": "dev"}, {"stage": "prod"}),
        ("tag.delete", {"stage": "prod"}, None),
    ]


def test_search_versions_by_tag_and_metric(registry: Any, churn: Any, churn_model: Any) -> None:
    for auc, team in ((0.7, "a"), (0.9, "b"), (0.8, "b")):
        registry.register(
            churn_model,
            "churn",
            reference=churn.X,
            target=churn.y,
            metrics={"auc": auc},
            tags={"team": team},
        )
    found = registry.search_versions(
        "churn", tags={"team": "b"}, metrics=["auc>=0.8"], order_by="-auc"
    )
    assert [v.version for v in found] == [2, 3]
    assert [v.version for v in registry.search_versions(metrics=["auc<0.75"])] == [1]
    with pytest.raises(InvalidInputError, match="NAME OP NUMBER"):
        registry.search_versions(metrics=["auc is big"])


def test_bad_registration_arguments_name_the_field(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    with pytest.raises(InvalidInputError, match="metric 'auc' must be finite"):
        registry.register(
            churn_model, "churn", reference=churn.X, target=churn.y, metrics={"auc": float("nan")}
        )
    with pytest.raises(SignatureError, match="target column 'label'"):
        registry.register(churn_model, "churn", reference=churn.X, target="label")
    with pytest.raises(InvalidInputError, match="target has 3 values"):
        registry.register(churn_model, "churn", reference=churn.X, target=[0, 1, 0])
    assert registry.list_models() == []


def test_parent_version_is_recorded(registry: Any, churn: Any, churn_model: Any) -> None:
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 1)
    v2 = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, parent="churn@champion"
    )
    assert v2.lineage["parent_version"] == 1


def test_register_file_detects_the_flavor(
    registry: Any, churn: Any, churn_model: Any, tmp_path: Path
) -> None:
    import skops.io

    path = tmp_path / "model.skops"
    path.write_bytes(skops.io.dumps(churn_model))
    v = registry.register_file(path, "from-file", reference=churn.X, target=churn.y)
    assert v.flavor == "sklearn"
    assert registry.artifact_bytes("from-file/1") == path.read_bytes()


def test_bad_names_and_tag_keys_are_invalid_input(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    with pytest.raises(InvalidNameError):
        registry.get_model("Churn")
    with pytest.raises(InvalidNameError):
        registry.alias_history("Churn")
    with pytest.raises(InvalidInputError, match="tag key ''"):
        registry.set_tag("churn/1", "", "x")


def test_verify_audit_counts_or_names_the_broken_entry(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    import sqlalchemy as sa

    from shipyard.registry import schema

    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 1)
    assert registry.verify_audit() == 5  # config, model, version, its ONNX attachment, alias
    assert [e.action for e in registry.audit_log(subject="churn@champion")] == ["alias.set"]
    with registry.db.engine.begin() as conn:
        conn.execute(
            sa.update(schema.audit_log).where(schema.audit_log.c.seq == 3).values(actor="x")
        )
    with pytest.raises(IntegrityError, match="entry 3"):
        registry.verify_audit()


def test_a_classifier_without_probabilities_says_so(registry: Any, churn: Any) -> None:
    from sklearn.svm import SVC

    X = churn.X[churn.numeric].fillna(0.0).head(300)
    v = registry.register(
        SVC().fit(X, churn.y.head(300)), "svc", reference=X, target=churn.y.head(300)
    )
    assert v.signature["output"]["has_proba"] is False
    with pytest.raises(InvalidInputError, match="gives no class probabilities"):
        registry.load("svc/1").predict_proba(X.head(2))


def test_operator_setting_changes_are_audited(settings: Any) -> None:
    from shipyard.registry.client import Registry

    Registry(settings).close()
    Registry(settings).close()  # unchanged settings: no new entry
    registry = Registry(settings.replace(allow_pickle=True, trusted_types=("a.B",)))
    changes = [e for e in registry.audit_log() if e.action == "config.change"]
    registry.close()
    assert len(changes) == 2
    assert changes[0].before is None and changes[0].after["allow_pickle"] is False
    assert changes[1].before["allow_pickle"] is False
    assert changes[1].after["allow_pickle"] is True and changes[1].after["trusted_types"] == ["a.B"]
