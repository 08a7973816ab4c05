"""The :class:`Registry`: registering, resolving and loading model versions.

It joins the pieces: a flavor turns the model into bytes, the artifact store keeps them by
digest (written and synced before any row names them), the metadata store records the version
and its audit entry in one transaction, and loading checks the digest before a flavor sees a byte.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    SignatureError,
)
from shipyard.registry.artifacts import ArtifactStore, open_artifact_store
from shipyard.registry.engine import Database
from shipyard.registry.entities import (
    AliasMove,
    Attachment,
    AuditEntry,
    Model,
    ModelVersion,
    VersionStatus,
)
from shipyard.registry.refs import ModelRef, check_name, parse_ref
from shipyard.registry.store import MetadataStore
from shipyard.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.runtime.loaded import LoadedModel

__all__ = ["CHAMPION", "Registry"]

CHAMPION = "champion"


class Registry:
    """A model registry over one metadata store and one artifact store."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings.load()
        self.db = Database(self.settings.resolved_database_url)
        self.store = MetadataStore(self.db)
        self.artifacts: ArtifactStore = open_artifact_store(
            self.settings.resolved_artifacts_url, cache_dir=self.settings.home / "cache"
        )
        self.store.record_config(self.settings.audited(), self.actor)

    @property
    def actor(self) -> str:
        return self.settings.resolved_actor

    # -- registering --------------------------------------------------------------------------

    def register(
        self,
        model: Any,
        name: str,
        *,
        reference: Any = None,
        target: Any = None,
        input_example: Any = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        parent: str | int | None = None,
        flavor: str | None = None,
        convert_onnx: bool | None = None,
        importance: str | None = None,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``.

        ``reference`` is the data the model was trained on (a DataFrame, a dict of columns or a
        2-D array); ``target`` is its labels, or the name of a column of ``reference`` holding
        them. From it come the signature, the reference profile and the data fingerprint.
        Without it, ``input_example`` gives the signature alone. ``convert_onnx`` (default: the
        ``convert_onnx`` setting, on) converts the model to ONNX for the serving fast path.
        ``importance`` (default: the ``importance`` setting, ``background``) says when its
        global importance is computed: ``sync`` now, ``background`` by the server that serves
        it, ``off`` on first use (see :mod:`shipyard.explain.backfill`).
        """
        from shipyard import flavors

        check_name(name)
        chosen = (
            flavors.get_flavor(flavor) if flavor else flavors.flavor_for_model(model, self.settings)
        )
        if flavor and not chosen.safe and not self.settings.allow_pickle:
            from shipyard.errors import UnsafeFormatError
            from shipyard.flavors.pickle import refusal_message

            raise UnsafeFormatError(refusal_message(f"{type(model).__name__} (flavor {flavor!r})"))
        data = chosen.save(model)
        return self._register_bytes(
            data,
            chosen.name,
            name,
            native=model,
            reference=reference,
            target=target,
            input_example=input_example,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            parent=parent,
            convert_onnx=convert_onnx,
            importance=importance,
        )

    def register_file(
        self,
        path: str | Path,
        name: str,
        *,
        flavor: str | None = None,
        **kwargs: Any,
    ) -> ModelVersion:
        """Register a model file (``.skops``, ``.onnx``, ``.ubj``, LightGBM ``.txt``...)."""
        from shipyard import flavors
        from shipyard.flavors.base import LoadContext

        check_name(name)
        file = Path(path)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read model file {file}: {exc.strerror}") from exc
        chosen = (
            flavors.get_flavor(flavor)
            if flavor
            else flavors.flavor_for_file(file.name, data[:64], self.settings)
        )
        native = chosen.load(data, LoadContext(self.settings))  # refuses unsafe or malformed files
        return self._register_bytes(data, chosen.name, name, native=native, **kwargs)

    def _register_bytes(
        self,
        data: bytes,
        flavor_name: str,
        name: str,
        *,
        native: Any,
        reference: Any = None,
        target: Any = None,
        input_example: Any = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        parent: str | int | None = None,
        signature: dict[str, Any] | None = None,
        convert_onnx: bool | None = None,
        importance: str | None = None,
    ) -> ModelVersion:
        from shipyard import flavors
        from shipyard.explain.backfill import check_mode
        from shipyard.registry.lineage import git_state, library_versions

        importance = check_mode(
            self.settings.importance if importance is None else importance, "importance="
        )

        flavor = flavors.get_flavor(flavor_name)
        facts = flavor.describe(native)
        metric_values = _check_metrics(metrics)
        param_values = _check_json("params", dict(params or {}))
        tag_values = _check_tags(tags)
        parent_version = self._parent(name, parent)

        if signature is not None:  # given (an import from MLflow): it wins over inference
            from shipyard.registry.signature import Signature

            signature = Signature.from_dict(signature).to_dict()
        profile_digest = sample_digest = fingerprint = None
        classes = facts.get("classes")
        has_proba = bool(facts.get("has_proba", facts.get("task") == "classification"))
        if reference is not None:
            X, y = _split_reference(reference, target)
            from shipyard.registry.profile import build_profile, data_fingerprint
            from shipyard.registry.signature import infer_signature

            if signature is None:
                signature = infer_signature(X, y, classes=classes, has_proba=has_proba).to_dict()
            profile, sample = build_profile(X, y, sample_rows=self.settings.sample_rows)
            fingerprint = data_fingerprint(X, y)
            profile_bytes = json.dumps(profile, sort_keys=True, allow_nan=False).encode()
            profile_digest = self.artifacts.put(profile_bytes)
            sample_digest = self.artifacts.put(_parquet_bytes(sample))
        elif input_example is not None and signature is None:
            from shipyard.registry.signature import infer_signature

            X, _ = _split_reference(input_example, None)
            signature = infer_signature(X, None, classes=classes, has_proba=has_proba).to_dict()

        lineage = {
            "git": git_state(),
            "data_fingerprint": fingerprint,
            "parent_version": parent_version,
            "libraries": library_versions(),
            "model": facts,
        }
        digest = self.artifacts.put(data)
        version = self.store.add_version(
            model=name,
            flavor=flavor.name,
            artifact_digest=digest,
            artifact_size=len(data),
            signature=signature,
            metrics=metric_values,
            params=param_values,
            lineage=_check_json("lineage", lineage),
            profile_digest=profile_digest,
            sample_digest=sample_digest,
            tags=tag_values,
            description=description,
            actor=self.actor,
        )
        if self.settings.convert_onnx if convert_onnx is None else convert_onnx:
            from shipyard.runtime.onnx_convert import convert_and_attach

            # Best-effort: attaches "onnx" or "onnx_rejected" (with the reason); never raises.
            if convert_and_attach(self, version, native):
                version = self.store.get_version(name, version.version)
        if importance == "sync":
            from shipyard.explain.backfill import attach_at_registration

            # Best-effort too: a model shap cannot explain is logged, not refused.
            if attach_at_registration(self, version, native):
                version = self.store.get_version(name, version.version)
        return version

    def _parent(self, name: str, parent: str | int | None) -> int | None:
        if parent is None:
            return None
        ref = parse_ref(f"{name}/{parent}" if isinstance(parent, int) else parent)
        if ref.model != name:
            raise InvalidInputError(f"parent {parent!r} must be a version of {name!r}")
        return self.store.resolve(ref).version

    # -- reading ------------------------------------------------------------------------------

    def get_version(self, ref: str | ModelRef) -> ModelVersion:
        return self.store.resolve(parse_ref(ref))

    def get_model(self, name: str) -> Model:
        return self.store.get_model(check_name(name))

    def list_models(self) -> list[Model]:
        return self.store.list_models()

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        return self.store.list_versions(name)

    def search_versions(
        self,
        model: str | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        metrics: Sequence[str] = (),
        status: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[ModelVersion]:
        """Versions matching every filter. ``metrics`` are conditions such as ``"auc>=0.8"``;
        ``order_by`` is a metric name, ``-name`` for descending."""
        from shipyard.registry.search import filter_versions

        return filter_versions(
            self.store.list_versions(model),
            tags=tags,
            metrics=metrics,
            status=status,
            order_by=order_by,
            limit=limit,
        )

    def load(self, ref: str | ModelRef) -> LoadedModel:
        """Load a version, checking its artifact against its digest first."""
        from shipyard import flavors
        from shipyard.flavors.base import LoadContext
        from shipyard.runtime.loaded import LoadedModel

        version = self.get_version(ref)
        data = self.artifacts.get(version.artifact_digest)
        flavor = flavors.get_flavor(version.flavor)

        def audit_unsafe(flavor_name: str) -> None:
            self.store.record_event(
                "artifact.unsafe_load",
                version.ref,
                None,
                {"flavor": flavor_name, "digest": version.artifact_digest},
                self.actor,
            )

        native = flavor.load(data, LoadContext(self.settings, on_unsafe_load=audit_unsafe))
        # the background data of model.explain(), read on first use
        reference = (
            None if version.sample_digest is None else partial(self.reference_sample, version.ref)
        )
        return LoadedModel(version=version, native=native, flavor=flavor, reference=reference)

    def attachments(self, ref: str | ModelRef) -> list[Attachment]:
        """What later stages attached to a version (gate report, ONNX artifact, ...), oldest first."""
        version = self.get_version(ref)
        return self.store.attachments(version.model, version.version)

    def artifact_bytes(self, ref: str | ModelRef) -> bytes:
        return self.artifacts.get(self.get_version(ref).artifact_digest)

    def reference_profile(self, ref: str | ModelRef) -> dict[str, Any]:
        version = self.get_version(ref)
        if version.profile_digest is None:
            raise NotFoundError(f"{version.ref} was registered without reference data")
        profile: dict[str, Any] = json.loads(self.artifacts.get(version.profile_digest))
        return profile

    def reference_sample(self, ref: str | ModelRef) -> pd.DataFrame:
        import pandas as pd

        version = self.get_version(ref)
        if version.sample_digest is None:
            raise NotFoundError(f"{version.ref} was registered without reference data")
        return pd.read_parquet(io.BytesIO(self.artifacts.get(version.sample_digest)))

    # -- changing what may change -----------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        force: bool = False,
        actor: str | None = None,
    ) -> AliasMove:
        """Point ``alias`` at a version. A version rejected by its gates cannot become the
        ``champion`` unless ``force`` is given, and forcing it is audited. ``actor`` names who
        moved it in the audit log (default: the registry's actor; the server passes the API
        key's name)."""
        actor = self.actor if actor is None else actor
        number = self._version_number(name, version)
        if alias == CHAMPION:
            target = self.store.get_version(name, number)
            if target.status == VersionStatus.REJECTED:
                reasons = self._rejection_reasons(name, number)
                if not force:
                    raise ConflictError(
                        f"{name}/{number} was rejected ({reasons}) and cannot be the champion; "
                        "train a better version, or pass --force (force=True), which is audited"
                    )
                self.store.record_event(
                    "alias.forced",
                    f"{name}@{alias}",
                    None,
                    {"version": number, "status": target.status.value, "reasons": reasons},
                    actor,
                )
        return self.store.set_alias(name, alias, number, actor)

    def _rejection_reasons(self, name: str, number: int) -> str:
        reports = [a for a in self.store.attachments(name, number) if a.kind == "gate_report"]
        reasons = reports[-1].data.get("reasons") if reports else None
        if isinstance(reasons, list) and reasons:
            return "; ".join(map(str, reasons))
        return "status rejected"

    def delete_alias(self, name: str, alias: str) -> AliasMove:
        return self.store.delete_alias(name, alias, self.actor)

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        return self.store.alias_history(check_name(name), alias)

    def set_tag(self, ref: str, key: str, value: str) -> None:
        parsed = parse_ref(ref)
        version = (
            None
            if parsed.version is None and parsed.alias is None
            else self.get_version(parsed).version
        )
        self.store.set_tag(parsed.model, version, key, str(value), self.actor)

    def delete_tag(self, ref: str, key: str) -> None:
        parsed = parse_ref(ref)
        version = (
            None
            if parsed.version is None and parsed.alias is None
            else self.get_version(parsed).version
        )
        self.store.delete_tag(parsed.model, version, key, self.actor)

    def set_status(self, ref: str, status: str | VersionStatus) -> None:
        try:
            value = VersionStatus(status)
        except ValueError as exc:
            allowed = ", ".join(s.value for s in VersionStatus)
            raise InvalidInputError(f"unknown status {status!r}; use one of: {allowed}") from exc
        version = self.get_version(ref)
        self.store.set_status(version.model, version.version, value, self.actor)

    def _version_number(self, name: str, version: int | str) -> int:
        if isinstance(version, int):
            return version
        text = str(version)
        if text.isdigit():
            return int(text)
        return self.get_version(text if ("/" in text or "@" in text) else f"{name}@{text}").version

    # -- the audit log ----------------------------------------------------------------------

    def audit_log(self, subject: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first; ``subject="churn"`` also covers ``churn/3`` and
        ``churn@champion``."""
        return list(self.store.audit_entries(subject=subject, limit=limit))

    def verify_audit(self) -> int:
        """Check the whole chain; return the number of entries, or raise ``IntegrityError``
        naming the first entry that was edited, removed or reordered."""
        from shipyard.registry.audit import verify_chain

        entries = list(self.store.audit_entries())
        problem = verify_chain(entries)
        if problem is not None:
            raise IntegrityError(f"audit chain broken at entry {problem.seq}: {problem.reason}")
        return len(entries)

    def close(self) -> None:
        self.db.dispose()


def _split_reference(reference: Any, target: Any) -> tuple[pd.DataFrame, Any]:
    import numpy as np
    import pandas as pd

    if isinstance(reference, pd.DataFrame):
        frame = reference
    elif isinstance(reference, Mapping):
        frame = pd.DataFrame(dict(reference))
    else:
        array = np.asarray(reference)
        if array.ndim != 2:
            raise InvalidInputError(
                "reference data must be a DataFrame, a dict of columns or a 2-D array; "
                f"got an array of shape {array.shape}"
            )
        frame = pd.DataFrame(array, columns=[f"f{i}" for i in range(array.shape[1])])
    if isinstance(target, str):
        if target not in frame.columns:
            raise SignatureError(
                f"target column {target!r} is not in the reference data (columns: "
                f"{', '.join(map(str, frame.columns))})",
                feature=target,
            )
        return frame.drop(columns=[target]), frame[target]
    if target is not None and len(target) != len(frame):
        raise InvalidInputError(
            f"target has {len(target)} values but the reference data has {len(frame)} rows"
        )
    return frame, target


def _check_metrics(metrics: Mapping[str, float] | None) -> dict[str, float]:
    values: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"metric {key!r} must be a number, got {value!r}") from exc
        if not math.isfinite(number):
            raise InvalidInputError(f"metric {key!r} must be finite, got {value!r}")
        values[str(key)] = number
    return values


def _check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    values = {}
    for key, value in (tags or {}).items():
        if not isinstance(key, str) or not key or len(key) > 200:
            raise InvalidInputError(f"tag key {key!r} must be a string of 1-200 characters")
        values[key] = str(value)
    return values


def _check_json(what: str, value: dict[str, Any]) -> dict[str, Any]:
    try:
        result: dict[str, Any] = json.loads(json.dumps(value, allow_nan=False, default=_jsonable))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{what} must be JSON-serialisable with finite numbers: {exc}"
        ) from exc
    return result


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
