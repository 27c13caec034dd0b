"""How good is a model on labelled data: the figures a city needs before letting it dispatch on its own.

Everything is computed from the runtime classifier (`TextClassifier`), the code that runs in Lambda, so the
figures describe what will be deployed. The precision-versus-coverage curve is what sets the auto-dispatch
threshold: sort messages by the model's confidence, let the most confident share dispatch themselves, and read
how many of those went to the right agency.
"""

from __future__ import annotations

import html
import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from complaints.classifier.model import TextClassifier

COVERAGES = (0.5, 0.7, 0.8, 0.9, 1.0)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Scored:
    label: str
    predicted: str
    confidence: float


def score(
    model: TextClassifier, texts: list[str], labels: list[str], progress: bool = False, level=None
) -> list[Scored]:
    """Each text's label and the model's prediction; `level(text, label)` restates a prediction in the data's terms
    (a service model judged on categories: the service's category)."""
    from tqdm import tqdm

    rows = zip(texts, labels, strict=True)
    out = []
    for text, label in tqdm(rows, total=len(texts), desc="classifying", unit="msg", disable=not progress):
        p = model.predict(text)
        out.append(Scored(label, level(text, p.label) if level else p.label, p.confidence))
    return out


def level_of(city, model_labels: str, data_labels: str):
    """How to restate a model's labels at the data's level, or None when they are the same; a coarser model cannot
    be judged on finer labels (ValueError)."""
    if model_labels == data_labels:
        return None
    if model_labels == "service" and data_labels == "category":
        return lambda text, label: city.read(label).category or label
    if data_labels == "agency" and model_labels in ("service", "category"):

        def agency(text: str, label: str) -> str:
            reading = city.read(label)
            found = city.locate(text).district
            main = city.handlers(
                reading.service.code if reading.service else None, reading.category, found.name if found else None
            ).main
            return main.id if main else "(triage)"

        return agency
    raise ValueError(f"a model of {model_labels} labels cannot be judged on {data_labels} labels")


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def metrics(scored: list[Scored], classes: list[str]) -> dict:
    """accuracy, macro-F1, per-class P/R/F1, the confusion matrix and precision at coverage / at threshold."""
    labels = sorted(set(classes) | {s.label for s in scored})
    index = {c: i for i, c in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for s in scored:
        confusion[index[s.label]][index[s.predicted]] += 1
    per_class = {}
    for c in labels:
        i = index[c]
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(row[i] for row in confusion)
        p, r = _safe_div(tp, predicted), _safe_div(tp, support)
        per_class[c] = {"precision": p, "recall": r, "f1": _safe_div(2 * p * r, p + r), "support": support}
    present = [c for c in labels if per_class[c]["support"]]  # as scikit-learn: classes seen in the data
    n = len(scored)
    ranked = sorted(scored, key=lambda s: -s.confidence)
    return {
        "n": n,
        "accuracy": _safe_div(sum(s.label == s.predicted for s in scored), n),
        "macro_f1": _safe_div(sum(per_class[c]["f1"] for c in present), len(present)),
        "per_class": per_class,
        "labels": labels,
        "unknown_labels": sorted({s.label for s in scored} - set(classes)),
        "confusion": confusion,
        "precision_at_coverage": {f"{c:.1f}": _precision_top(ranked, c) for c in COVERAGES},
        "at_threshold": {
            f"{t:.1f}": {
                "coverage": _safe_div(sum(s.confidence >= t for s in scored), n),
                "precision": _safe_div(
                    sum(s.label == s.predicted for s in scored if s.confidence >= t),
                    sum(s.confidence >= t for s in scored),
                ),
            }
            for t in THRESHOLDS
        },
        "curve": _curve(ranked),
    }


def _precision_top(ranked: list[Scored], coverage: float) -> float:
    k = max(1, math.ceil(coverage * len(ranked) - 1e-9)) if ranked else 0
    top = ranked[:k]
    return _safe_div(sum(s.label == s.predicted for s in top), len(top))


def _curve(ranked: list[Scored], points: int = 100) -> list[dict[str, float]]:
    """Precision of the most confident share, at `points` coverages, with the confidence that share needs."""
    curve, correct = [], 0
    marks = {max(1, math.ceil(len(ranked) * i / points)) for i in range(1, points + 1)} if ranked else set()
    for k, s in enumerate(ranked, 1):
        correct += s.label == s.predicted
        if k in marks:
            curve.append({"coverage": k / len(ranked), "precision": correct / k, "threshold": s.confidence})
    return curve


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    return text + " " * (width - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text))


def summary(m: dict) -> str:
    """The figures as text, for a terminal."""
    width = max(len(c) * 2 for c in m["labels"]) + 2
    lines = [
        f"messages      {m['n']}",
        f"accuracy      {m['accuracy']:.3f}",
        f"macro-F1      {m['macro_f1']:.3f}",
        "",
        _pad("category", width) + "precision  recall     F1  support",
    ]
    for c, r in m["per_class"].items():
        lines.append(f"{_pad(c, width)}{r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:8d}")
    lines += ["", "auto-dispatch: the most confident share of messages, and how many of them were right"]
    lines += [f"  coverage {c:>4}  precision {p:.3f}" for c, p in m["precision_at_coverage"].items()]
    lines += ["", "auto-dispatch at a confidence threshold"]
    lines += [
        f"  threshold {t:>4}  coverage {r['coverage']:.3f}  precision {r['precision']:.3f}"
        for t, r in m["at_threshold"].items()
    ]
    if m["unknown_labels"]:
        lines += ["", f"labels the model does not know (always wrong): {', '.join(m['unknown_labels'])}"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------- report
def _cjk_font() -> str | None:
    """A font that has Chinese glyphs, if this machine has one; otherwise the figures number the categories."""
    from matplotlib import font_manager

    wanted = ("Noto Sans CJK", "Noto Sans SC", "Source Han Sans", "WenQuanYi", "Droid Sans Fallback", "SimHei")
    for font in font_manager.fontManager.ttflist:
        if any(w.lower() in font.name.lower() for w in wanted):
            return font.name
    return None


def write_report(m: dict, out_dir: str | Path, *, model_name: str, data_name: str) -> Path:
    """confusion.png, coverage.png and index.html (both pictures with every figure) in out_dir."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    font = _cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    names = [f"{i + 1} {c}" if font else str(i + 1) for i, c in enumerate(m["labels"])]

    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    confusion = m["confusion"]
    ax.imshow(confusion, cmap="Blues")
    top = max((max(row) for row in confusion), default=0)
    for i, row in enumerate(confusion):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > top / 2 else "black", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=45 if font else 0, ha="right" if font else "center")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"Confusion matrix — accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(out / "confusion.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ax.plot([p["coverage"] for p in m["curve"]], [p["precision"] for p in m["curve"]], color="#1f6feb")
    for c, p in m["precision_at_coverage"].items():
        ax.plot(float(c), p, "o", color="#d1242f")
        ax.annotate(f"{p:.3f}", (float(c), p), textcoords="offset points", xytext=(-10, -14), fontsize=8)
    ax.set_xlabel("coverage (share of messages dispatched automatically)")
    ax.set_ylabel("precision (share of those sent to the right agency)")
    ax.set_xlim(0, 1.05)
    low = min((p["precision"] for p in m["curve"]), default=0.0)
    ax.set_ylim(max(0.0, low - 0.05), 1.01)
    ax.set_title("Precision versus coverage")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "coverage.png")
    plt.close(fig)

    (out / "metrics.json").write_text(json.dumps(m, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "index.html").write_text(_html(m, model_name=model_name, data_name=data_name), encoding="utf-8")
    return out / "index.html"


def _html(m: dict, *, model_name: str, data_name: str) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{e(c)}</td><td>{r['precision']:.3f}</td><td>{r['recall']:.3f}</td>"
        f"<td>{r['f1']:.3f}</td><td>{r['support']}</td></tr>"
        for i, (c, r) in enumerate(m["per_class"].items())
    )
    head = "".join(f"<th>{i + 1}</th>" for i in range(len(m["labels"])))
    confusion = "".join(
        f"<tr><th>{i + 1} {e(c)}</th>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
        for i, (c, row) in enumerate(zip(m["labels"], m["confusion"], strict=True))
    )
    coverage = "".join(f"<tr><td>{c}</td><td>{p:.3f}</td></tr>" for c, p in m["precision_at_coverage"].items())
    thresholds = "".join(
        f"<tr><td>{t}</td><td>{r['coverage']:.3f}</td><td>{r['precision']:.3f}</td></tr>"
        for t, r in m["at_threshold"].items()
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Model evaluation — {e(model_name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>Model evaluation</h1>
<p>Model <code>{e(model_name)}</code> on <code>{e(data_name)}</code>: {m["n"]} messages.</p>
<p id="headline">Accuracy <b>{m["accuracy"]:.3f}</b>, macro-F1 <b>{m["macro_f1"]:.3f}</b>.</p>
<h2>Per category</h2>
<table id="per-class"><tr><th>#</th><th>category</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
{rows}</table>
<h2>Confusion matrix</h2><p>Rows: the true category; columns: the predicted one.</p>
<img src="confusion.png" alt="confusion matrix">
<table id="confusion"><tr><th></th>{head}</tr>{confusion}</table>
<h2>Precision versus coverage</h2>
<p>Messages sorted by the model's confidence: if the most confident share dispatches itself, this is the share of
those that reach the right agency. The rest go to human triage.</p>
<img src="coverage.png" alt="precision versus coverage">
<table id="coverage"><tr><th>coverage</th><th>precision</th></tr>{coverage}</table>
<table id="thresholds"><tr><th>threshold</th><th>coverage</th><th>precision</th></tr>{thresholds}</table>
</body></html>
"""
