"""A model card as data, in the field names of Google's Model Card Toolkit (pure).

``build_card(facts)`` turns what :func:`shipyard.cards.gather.gather` collected into::

    {"schema_version": "0.0.2",
     "model_details": {"name", "overview", "version": {"name", "date"}, "owners": [...],
                       "licenses": [...], "references": [...], "path"},
     "model_parameters": {"model_architecture", "data": [{"name", "description", ...}],
                          "input_format", "input_format_map": [...], "output_format"},
     "quantitative_analysis": {"performance_metrics": [{"type", "value", "slice",
                                                        "confidence_interval"}]},
     "considerations": {"users", "use_cases", "limitations", "tradeoffs",
                        "ethical_considerations"},
     "shipyard": {lineage, training data profile, training procedure, gate report,
                  global importance, monitoring}}

The ``shipyard`` block holds what the toolkit has no field for. A missing fact is written as
what it is ("not recorded", "no monitoring runs"), never left out, so a reader sees the gap.
"""

from __future__ import annotations

from typing import Any

from shipyard.cards.intervals import LEVEL, metric_intervals

__all__ = ["NOT_RECORDED", "build_card"]

NOT_RECORDED = "not recorded"
SCHEMA_VERSION = "0.0.2"
_TOP_LEVELS = 5


def build_card(facts: dict[str, Any]) -> dict[str, Any]:
    version = facts["version"]
    fields: dict[str, str] = facts["fields"]
    lineage = version.get("lineage") or {}
    model_facts = lineage.get("model") or {}
    signature = version.get("signature") or {}
    owners = [o.strip() for o in fields.get("owners", "").replace("\n", ",").split(",")]
    owners = [o for o in owners if o]
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": version["ref"],
            "overview": fields.get("overview")
            or version.get("description")
            or facts["model"].get("description")
            or NOT_RECORDED,
            "version": {
                "name": str(version["version"]),
                "date": version["created_at"],
                "diff": _diff(lineage),
            },
            "owners": [{"name": o, "contact": fields.get("contact", "")} for o in owners]
            or [{"name": NOT_RECORDED, "contact": fields.get("contact", "")}],
            "licenses": [{"identifier": fields.get("license", NOT_RECORDED)}],
            "references": [{"reference": f"shipyard://{version['ref']}"}],
            "path": f"sha256:{version['artifact_digest']}",
            "registered_by": version.get("created_by"),
            "status": version.get("status"),
            "aliases": list(version.get("aliases") or []),
        },
        "model_parameters": {
            "model_architecture": _architecture(version, model_facts),
            "data": [_training_data(facts.get("profile"))],
            "input_format": "tabular records: " + ", ".join(_names(signature)),
            "input_format_map": [
                {"key": i["name"], "value": f"{i.get('kind', '?')} ({i.get('dtype', '?')})"}
                for i in signature.get("inputs", [])
            ],
            "output_format": _output(signature, facts.get("profile")),
        },
        "quantitative_analysis": {
            "performance_metrics": _metrics(version.get("metrics") or {}, facts)
            + _slices(facts.get("gate_report")),
        },
        "considerations": {
            "users": _items(fields.get("users", "")),
            "use_cases": _items(fields.get("intended_use", NOT_RECORDED)),
            "out_of_scope": _items(fields.get("out_of_scope", NOT_RECORDED)),
            "limitations": _items(fields.get("limitations", NOT_RECORDED)),
            "tradeoffs": _items(fields.get("recommendations", "")),
            "ethical_considerations": [
                {"name": line, "mitigation_strategy": ""}
                for line in fields.get("ethical_considerations", "").splitlines()
                if line.strip()
            ],
        },
        "shipyard": {
            "lineage": {
                "git": lineage.get("git"),
                "data_fingerprint": lineage.get("data_fingerprint"),
                "parent_version": lineage.get("parent_version"),
                "libraries": lineage.get("libraries"),
            },
            "params": version.get("params") or {},
            "training": facts.get("training"),
            "gate_report": facts.get("gate_report"),
            "global_importance": facts.get("importance"),
            "global_importance_note": facts.get("importance_note", ""),
            "monitoring": facts.get("monitoring") or [],
        },
    }


def _items(text: str) -> list[dict[str, str]]:
    return [{"description": line.strip()} for line in text.splitlines() if line.strip()]


def _names(signature: dict[str, Any]) -> list[str]:
    return [str(i["name"]) for i in signature.get("inputs", [])] or [NOT_RECORDED]


def _diff(lineage: dict[str, Any]) -> str:
    parent = lineage.get("parent_version")
    return (
        "none (registered without a parent version)"
        if parent is None
        else (f"derived from version {parent}")
    )


def _architecture(version: dict[str, Any], model_facts: dict[str, Any]) -> str:
    parts = [f"flavor {version.get('flavor')}"]
    for key in ("estimator", "class", "type", "task"):
        if model_facts.get(key):
            parts.append(f"{key} {model_facts[key]}")
    return ", ".join(parts)


def _output(signature: dict[str, Any], profile: dict[str, Any] | None) -> str:
    output = signature.get("output")
    if not output:
        return NOT_RECORDED
    target = ((profile or {}).get("target") or {}).get("name") or output.get("name")
    text = f"{output.get('task', 'prediction')} of {target or 'the target'}"
    if output.get("classes"):
        text += " (classes: " + ", ".join(map(str, output["classes"])) + ")"
    return text


def _training_data(profile: dict[str, Any] | None) -> dict[str, Any]:
    if profile is None:
        return {"name": "reference data", "description": NOT_RECORDED, "features": []}
    features = []
    for name, entry in profile.get("features", {}).items():
        summary: dict[str, Any] = {
            "name": name,
            "kind": entry.get("kind"),
            "missing_share": entry.get("missing_share"),
        }
        if entry.get("kind") == "numeric":
            summary.update({k: entry.get(k) for k in ("mean", "std", "min", "max")})
        elif "levels" in entry:
            levels = list(entry["levels"].items())[:_TOP_LEVELS]
            summary["top_levels"] = {str(k): v for k, v in levels}
            summary["n_levels"] = entry.get("n_levels")
        features.append(summary)
    target = profile.get("target")
    description = f"{profile.get('n_rows')} rows, {len(features)} features"
    if target:
        description += f", target {target.get('name')!r} ({target.get('task')})"
    return {
        "name": "reference data",
        "description": description,
        "rows": profile.get("n_rows"),
        "features": features,
        "target": target,
    }


def _metrics(metrics: dict[str, float], facts: dict[str, Any]) -> list[dict[str, Any]]:
    scores = (facts.get("training") or {}).get("cv_scores")
    folds = len(scores) if isinstance(scores, list) else None
    out = []
    for name, interval in metric_intervals(metrics, folds).items():
        entry: dict[str, Any] = {"type": name, "value": f"{metrics[name]:.6g}", "slice": ""}
        if interval is None:
            entry["confidence_interval"] = NOT_RECORDED
        else:
            entry["confidence_interval"] = {
                "lower_bound": f"{interval.lower:.6g}",
                "upper_bound": f"{interval.upper:.6g}",
                "level": LEVEL,
                "method": f"Student t over {interval.n} cross-validation folds (std "
                f"{interval.std:.4g})",
            }
        out.append(entry)
    return out


def _slices(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for gate in (report or {}).get("gates", []):
        if gate.get("gate") != "slice":
            continue
        figures = gate.get("figures") or {}
        for segment in figures.get("segments", []):
            value = segment.get("value")
            out.append(
                {
                    "type": str(figures.get("metric")),
                    "value": NOT_RECORDED if value is None else f"{value:.6g}",
                    "slice": f"{figures.get('feature')}={segment.get('segment')}",
                    "rows": segment.get("rows"),
                    "passed": segment.get("passed"),
                    "confidence_interval": NOT_RECORDED,
                }
            )
    return out
