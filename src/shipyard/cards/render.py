"""Rendering a card (:func:`shipyard.cards.card.build_card`) as Markdown or self-contained HTML.

The sections follow the Hugging Face model card template (Model Details, Uses, Bias, Risks and
Limitations, How to Get Started, Training Details, Evaluation, Model Examination, Technical
Specifications, Model Card Contact), with a Monitoring section for what happened since
deployment. Both formats come from one outline of headings, paragraphs, lists, tables and code,
so they always say the same thing. Pure: a dict in, text out.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.cards.card import NOT_RECORDED

__all__ = ["SECTIONS", "outline", "render_html", "render_markdown"]

SECTIONS = (
    "Model Details",
    "Uses",
    "Bias, Risks, and Limitations",
    "How to Get Started with the Model",
    "Training Details",
    "Evaluation",
    "Model Examination",
    "Monitoring",
    "Technical Specifications",
    "Model Card Contact",
)


@dataclass
class Block:
    kind: str  # heading | text | list | table | code
    text: str = ""
    level: int = 2
    items: list[str] = field(default_factory=list)
    header: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()


def outline(card: dict[str, Any]) -> list[Block]:
    details = card["model_details"]
    params = card["model_parameters"]
    considerations = card["considerations"]
    extra = card["shipyard"]
    data = params["data"][0]
    blocks: list[Block] = [
        Block("heading", f"Model Card for {details['name']}", level=1),
        Block("text", details["overview"]),
        Block("heading", "Model Details"),
        Block("heading", "Model Description", level=3),
        Block(
            "list",
            items=[
                "Developed by: " + ", ".join(o["name"] for o in details["owners"]),
                f"Model type: {params['model_architecture']}",
                "License: " + ", ".join(lic["identifier"] for lic in details["licenses"]),
                f"Version: {details['version']['name']}, registered {details['version']['date']}"
                f" by {details.get('registered_by')}; status {details.get('status')}"
                + (f"; aliases {', '.join(details['aliases'])}" if details.get("aliases") else ""),
                f"Artifact: {details['path']}",
            ],
        ),
        Block("heading", "Lineage", level=3),
        Block("list", items=_lineage(extra["lineage"], details["version"]["diff"])),
        Block("heading", "Uses"),
        Block("heading", "Direct Use", level=3),
        Block("list", items=_descriptions(considerations["use_cases"])),
        Block("heading", "Out-of-Scope Use", level=3),
        Block("list", items=_descriptions(considerations["out_of_scope"])),
        Block("heading", "Bias, Risks, and Limitations"),
        Block("list", items=_descriptions(considerations["limitations"])),
    ]
    if considerations["tradeoffs"]:
        blocks += [
            Block("heading", "Recommendations", level=3),
            Block("list", items=_descriptions(considerations["tradeoffs"])),
        ]
    if considerations["ethical_considerations"]:
        blocks += [
            Block("heading", "Ethical Considerations", level=3),
            Block("list", items=[e["name"] for e in considerations["ethical_considerations"]]),
        ]
    blocks += [
        Block("heading", "How to Get Started with the Model"),
        Block("code", _get_started(details["name"], params["input_format_map"])),
        Block("heading", "Training Details"),
        Block("heading", "Training Data", level=3),
        Block("text", data["description"]),
        *_profile_table(data),
        Block("heading", "Training Procedure", level=3),
        *_procedure(extra),
        Block("heading", "Evaluation"),
        Block("heading", "Metrics", level=3),
        *_metrics_table(card["quantitative_analysis"]["performance_metrics"]),
        Block("heading", "Results", level=3),
        *_results(card["quantitative_analysis"]["performance_metrics"], extra["gate_report"]),
        Block("heading", "Model Examination"),
        *_importance(extra["global_importance"], extra["global_importance_note"]),
        Block("heading", "Monitoring"),
        *_monitoring(extra["monitoring"]),
        Block("heading", "Technical Specifications"),
        Block(
            "list",
            items=[
                f"Input: {params['input_format']}",
                f"Output: {params['output_format']}",
                "Libraries: " + _libraries(extra["lineage"].get("libraries")),
            ],
        ),
        Block(
            "table",
            header=("feature", "type"),
            rows=[(i["key"], i["value"]) for i in params["input_format_map"]],
        ),
        Block("heading", "Model Card Contact"),
        Block(
            "list",
            items=[
                "Owners: "
                + ", ".join(
                    o["name"] + (f" ({o['contact']})" if o["contact"] else "")
                    for o in details["owners"]
                ),
                f"Registered by: {details.get('registered_by')}",
            ],
        ),
    ]
    return blocks


def _descriptions(items: list[dict[str, str]]) -> list[str]:
    return [i["description"] for i in items] or [NOT_RECORDED]


def _lineage(lineage: dict[str, Any], diff: str) -> list[str]:
    git = lineage.get("git") or {}
    commit = git.get("commit") if isinstance(git, dict) else None
    dirty = " (uncommitted changes)" if isinstance(git, dict) and git.get("dirty") else ""
    return [
        f"Code: git commit {commit}{dirty}" if commit else f"Code: {NOT_RECORDED}",
        f"Training data fingerprint: {lineage.get('data_fingerprint') or NOT_RECORDED}",
        f"Parent: {diff}",
    ]


def _libraries(libraries: Any) -> str:
    if not isinstance(libraries, dict) or not libraries:
        return NOT_RECORDED
    return ", ".join(f"{k} {v}" for k, v in sorted(libraries.items()))


def _get_started(ref: str, inputs: list[dict[str, str]]) -> str:
    names = [i["key"] for i in inputs][:3]
    record = ", ".join(f'"{n}": ...' for n in names) + (", ..." if len(inputs) > 3 else "")
    return (
        "import shipyard\n\n"
        f'model = shipyard.load("{ref}")\n'
        f"record = {{{record}}}\n"
        "print(model.predict([record]))\n"
        "print(model.explain([record]).row(0))  # why: attributions per feature\n"
    )


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _profile_table(data: dict[str, Any]) -> list[Block]:
    rows = []
    for f in data.get("features", []):
        if f.get("kind") == "numeric":
            summary = (
                f"mean {_number(f.get('mean'))}, std {_number(f.get('std'))}, "
                f"range {_number(f.get('min'))} to {_number(f.get('max'))}"
            )
        elif f.get("top_levels"):
            summary = f"{f.get('n_levels')} levels; " + ", ".join(
                f"{k} {v:.0%}" for k, v in f["top_levels"].items()
            )
        else:
            summary = "-"
        rows.append((f["name"], f.get("kind"), _share(f.get("missing_share")), summary))
    if not rows:
        return []
    return [Block("table", header=("feature", "kind", "missing", "summary"), rows=rows)]


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _procedure(extra: dict[str, Any]) -> list[Block]:
    params = extra.get("params") or {}
    items = [f"{k}: {v}" for k, v in sorted(params.items())] or [f"parameters: {NOT_RECORDED}"]
    training = extra.get("training") or {}
    scores = training.get("cv_scores")
    if isinstance(scores, list) and scores:
        items.append(
            f"cross-validation: {len(scores)} folds, scores "
            + ", ".join(f"{s:.4f}" for s in scores)
        )
    else:
        items.append(f"cross-validation: {NOT_RECORDED}")
    return [Block("list", items=items)]


def _metrics_table(metrics: list[dict[str, Any]]) -> list[Block]:
    headline = [m for m in metrics if not m.get("slice")]
    if not headline:
        return [Block("text", f"Metrics: {NOT_RECORDED}.")]
    rows = []
    for m in headline:
        ci = m["confidence_interval"]
        if isinstance(ci, dict):
            text = f"[{ci['lower_bound']}, {ci['upper_bound']}] ({ci['level']:.0%}, {ci['method']})"
        else:
            text = str(ci)
        rows.append((m["type"], m["value"], text))
    return [Block("table", header=("metric", "value", "confidence interval"), rows=rows)]


def _results(metrics: list[dict[str, Any]], report: dict[str, Any] | None) -> list[Block]:
    blocks: list[Block] = []
    slices = [m for m in metrics if m.get("slice")]
    if slices:
        blocks.append(
            Block(
                "table",
                header=("slice", "metric", "value", "rows", "passed"),
                rows=[
                    (m["slice"], m["type"], m["value"], m.get("rows"), m.get("passed"))
                    for m in slices
                ],
            )
        )
    else:
        blocks.append(Block("text", f"Slice results: {NOT_RECORDED}."))
    if report:
        verdict = "passed" if report.get("passed") else "failed"
        blocks.append(
            Block(
                "text",
                f"Gate report: {verdict} on {report.get('holdout_rows')} holdout rows.",
            )
        )
        blocks.append(
            Block(
                "table",
                header=("gate", "passed", "reason"),
                rows=[(g.get("gate"), g.get("passed"), g.get("reason")) for g in report["gates"]],
            )
        )
    else:
        blocks.append(Block("text", f"Gate report: {NOT_RECORDED}."))
    return blocks


def _importance(importance: dict[str, Any] | None, note: str) -> list[Block]:
    if not importance:
        return [Block("text", f"Global importance: not available ({note or NOT_RECORDED}).")]
    features = importance["features"]
    top = max(features.values(), default=0.0) or 1.0
    rows = [(name, f"{v:.4g}", "#" * max(1, round(20 * v / top))) for name, v in features.items()]
    return [
        Block(
            "text",
            f"Mean |attribution| ({importance['method']} SHAP, {importance['output_space']}) "
            f"over {importance['rows']} rows of the reference sample.",
        ),
        Block("table", header=("feature", "mean |attribution|", ""), rows=rows),
    ]


def _monitoring(runs: list[dict[str, Any]]) -> list[Block]:
    if not runs:
        return [Block("text", "No monitoring runs since this version was registered.")]
    rows = [
        (r["window_end"], r["status"], r["rows"], _run_summary(r.get("report") or {}))
        for r in reversed(runs)
    ]
    return [
        Block("text", f"Monitoring runs since registration, newest first ({len(runs)} shown)."),
        Block("table", header=("window end", "status", "rows", "summary"), rows=rows),
    ]


def _run_summary(report: dict[str, Any]) -> str:
    for key in ("summary", "message", "verdict"):
        if isinstance(report.get(key), str):
            return str(report[key])
    drifted = report.get("drifted") or report.get("drifted_features")
    if isinstance(drifted, list):
        return "drifted: " + (", ".join(map(str, drifted)) or "none")
    return "-"


# -- formats ------------------------------------------------------------------------------------


def render_markdown(card: dict[str, Any]) -> str:
    out: list[str] = []
    for block in outline(card):
        if block.kind == "heading":
            out.append(f"{'#' * block.level} {block.text}\n")
        elif block.kind == "text":
            out.append(f"{block.text}\n")
        elif block.kind == "list":
            out.append("".join(f"- {_md(item)}\n" for item in block.items))
        elif block.kind == "code":
            out.append(f"```python\n{block.text}```\n")
        elif block.kind == "table":
            lines = ["| " + " | ".join(_md(h) for h in block.header) + " |"]
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(_md(_number(c)) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #ddd}h2{border-bottom:1px solid #eee;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f5f5f5}
pre{background:#f6f8fa;padding:.8em;overflow:auto}code{font-family:ui-monospace,monospace}
"""


def render_html(card: dict[str, Any]) -> str:
    """One self-contained page: inline CSS, no script, no external resource."""
    e = html.escape
    body: list[str] = []
    for block in outline(card):
        if block.kind == "heading":
            body.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif block.kind == "text":
            body.append(f"<p>{e(block.text)}</p>")
        elif block.kind == "list":
            body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "code":
            body.append(f"<pre><code>{e(block.text)}</code></pre>")
        elif block.kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in block.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{e(_number(c))}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    title = e(f"Model Card for {card['model_details']['name']}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
