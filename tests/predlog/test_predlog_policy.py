"""Per-model logging policy from tags: deterministic request sampling (never splitting a request)
and sensitive features, applied by the writer."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from shipyard.errors import InvalidInputError
from shipyard.predlog import PredictionLog, PredictionRecord, PredictionStore, read_window
from shipyard.predlog.policy import SAMPLE_RATE_TAG, SENSITIVE_TAG, keeps, policy_from_tags


@pytest.fixture
def store(database_url: str) -> Iterator[PredictionStore]:
    s = PredictionStore(database_url)
    yield s
    s.dispose()


def _request(request_id: str, rows: int, model: str = "churn") -> list[PredictionRecord]:
    return [
        PredictionRecord(request_id, i, "churn", model, 1, {"x": i, "email": "a@x.io"}, 0)
        for i in range(rows)
    ]


def test_sampling_keeps_about_the_rate_deterministically() -> None:
    ids = [f"req-{i}" for i in range(2000)]
    kept = [i for i in ids if keeps(i, 0.5)]
    assert 0.4 <= len(kept) / len(ids) <= 0.6
    assert kept == [i for i in ids if keeps(i, 0.5)]  # the same answer every time
    tenth = sum(keeps(i, 0.1) for i in ids) / len(ids)
    assert 0.05 <= tenth <= 0.15
    # A lower rate keeps a subset of what a higher one keeps (one hash, one threshold).
    assert {i for i in ids if keeps(i, 0.1)} <= set(kept)
    assert all(keeps(i, 1.0) for i in ids) and not any(keeps(i, 0.0) for i in ids)


def test_the_writer_samples_whole_requests_and_counts_the_rest(store: PredictionStore) -> None:
    with PredictionLog(store) as log:
        log.configure_model("churn", {SAMPLE_RATE_TAG: "0.5"})
        for i in range(400):
            log.append(*_request(f"r{i}", 3))
        log.append(*_request("o1", 2, model="other"))  # other models are not sampled
    window = read_window(store, "churn")
    per_request = window.meta.groupby("request_id")["row_index"].apply(sorted)
    assert all(rows == [0, 1, 2] for rows in per_request)  # never a partial request
    kept = set(per_request.index)
    assert kept == {f"r{i}" for i in range(400) if keeps(f"r{i}", 0.5)}
    assert 0.4 <= len(kept) / 400 <= 0.6
    assert log.sampled_out == 3 * (400 - len(kept))
    assert log.written == 3 * len(kept) + 2
    assert len(read_window(store, "other")) == 2


def test_configure_model_applies_sensitive_features_and_resets(store: PredictionStore) -> None:
    with PredictionLog(store) as log:
        log.configure_model("churn", {SENSITIVE_TAG: "email:hash, x:drop"})
        log.append(*_request("s1", 1))
        log.flush(timeout=30)
        log.configure_model("churn", {})  # a new version without the tags: defaults again
        log.append(*_request("s2", 1))
    window = read_window(store, "churn")
    hashed, plain = window.inputs["email"].tolist()
    assert hashed.startswith("sha256:") and plain == "a@x.io"
    assert pd.isna(window.inputs["x"].tolist()[0]) and window.inputs["x"].tolist()[1] == 0


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({SAMPLE_RATE_TAG: "1.5"}, SAMPLE_RATE_TAG),
        ({SAMPLE_RATE_TAG: "-0.1"}, SAMPLE_RATE_TAG),
        ({SAMPLE_RATE_TAG: "half"}, SAMPLE_RATE_TAG),
        ({SAMPLE_RATE_TAG: "nan"}, SAMPLE_RATE_TAG),
        ({SENSITIVE_TAG: "email"}, SENSITIVE_TAG),
        ({SENSITIVE_TAG: "email:encrypt"}, SENSITIVE_TAG),
        ({SENSITIVE_TAG: ":hash"}, SENSITIVE_TAG),
        ({SENSITIVE_TAG: "email:hash,email:drop"}, SENSITIVE_TAG),
    ],
)
def test_bad_tags_name_the_tag_and_the_form(
    store: PredictionStore, tags: dict[str, str], named: str
) -> None:
    with PredictionLog(store) as log:
        log.configure_model("churn", {SAMPLE_RATE_TAG: "0.5"})
        with pytest.raises(InvalidInputError) as caught:
            log.configure_model("churn", {SAMPLE_RATE_TAG: "0.5", **tags})
        assert named in str(caught.value) and "churn" in str(caught.value)
        assert ("from 0 to 1" if named == SAMPLE_RATE_TAG else "FEATURE:hash") in str(caught.value)
        # A refused change changes nothing: the earlier rate still applies.
        for i in range(200):
            log.append(*_request(f"t{i}", 1))
    assert 0 < log.sampled_out < 200


def test_policy_defaults_and_parsing() -> None:
    assert policy_from_tags("m", {}).sample_rate == 1.0
    assert policy_from_tags("m", {}).sensitive == {}
    parsed = policy_from_tags("m", {SAMPLE_RATE_TAG: " 0.25 ", SENSITIVE_TAG: "a:hash,,b:drop"})
    assert parsed.sample_rate == 0.25
    assert parsed.sensitive == {"a": "hash", "b": "drop"}
