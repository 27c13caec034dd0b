"""Training: jieba features → TF-IDF → logistic regression, C chosen by cross-validation; exports the runtime model.

scikit-learn is used here only. The exported artifact is predicted in plain Python by
`complaints.classifier.model.TextClassifier`, which a test checks against the fitted pipeline.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata as md
import platform
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from complaints.classifier.features import Analyzer, AnalyzerSpec
from complaints.classifier.model import ARTIFACT, export

C_GRID = (1.0, 3.0, 10.0, 30.0)


def _identity(features: list[str]) -> list[str]:
    return features


@dataclass
class TrainingResult:
    classes: list[str]
    counts: dict[str, int]
    best_c: float
    cv_accuracy: float
    cv_macro_f1: float
    cv_folds: int
    n_features: int
    data_sha256: str
    seed: int
    c_grid: tuple[float, ...]
    vectorizer: object = field(repr=False)
    model: object = field(repr=False)
    analyzer: Analyzer = field(repr=False)


def read_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Column names and rows of a UTF-8 CSV or an Excel workbook (.xlsx: its first sheet)."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        cells = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(cells, ())]
        rows = [{h: "" if v is None else str(v) for h, v in zip(header, row, strict=False)} for row in cells]
        book.close()
        return header, rows
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or ()), list(reader)


def read_labelled(
    path: str | Path, text_col: str = "text", label_col: str = "label", title_col: str | None = None
) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV or XLSX file; the title, when given, is put before the text.

    Rows with an empty text or label are skipped: an archive often holds unanswered or unlabelled messages.
    """
    header, rows = read_rows(path)
    missing = {text_col, label_col, *([title_col] if title_col else [])} - set(header)
    if missing:
        raise SystemExit(f"{path}: no column(s) {', '.join(sorted(missing))}; columns are {header}")
    texts, labels = [], []
    for row in rows:
        t, y = (row.get(text_col) or "").strip(), (row.get(label_col) or "").strip()
        if title_col:
            t = f"{(row.get(title_col) or '').strip()} {t}".strip()
        if t and y:
            texts.append(t)
            labels.append(y)
    return texts, labels


def fit(
    texts: list[str],
    labels: list[str],
    *,
    user_words: list[str],
    data_sha256: str,
    seed: int = 0,
    folds: int = 5,
    spec: AnalyzerSpec | None = None,
    c_grid: tuple[float, ...] = C_GRID,
    n_jobs: int | None = None,
) -> TrainingResult:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    analyzer = Analyzer(spec, extra_words=user_words)
    docs = [analyzer(t) for t in texts]  # tokenize once; every fold reuses it
    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=2, dtype=np.float64)),
            ("clf", LogisticRegression(max_iter=5000)),
        ]
    )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    search = GridSearchCV(
        pipe, {"clf__C": list(c_grid)}, scoring=("f1_macro", "accuracy"), refit="f1_macro", cv=cv, n_jobs=n_jobs
    )
    search.fit(docs, labels)
    best = search.best_estimator_
    i = search.best_index_
    return TrainingResult(
        classes=list(best.classes_),
        counts=dict(sorted(Counter(labels).items())),
        best_c=float(search.best_params_["clf__C"]),
        cv_accuracy=float(search.cv_results_["mean_test_accuracy"][i]),
        cv_macro_f1=float(search.cv_results_["mean_test_f1_macro"][i]),
        cv_folds=folds,
        n_features=len(best.named_steps["tfidf"].vocabulary_),
        data_sha256=data_sha256,
        seed=seed,
        c_grid=tuple(c_grid),
        vectorizer=best.named_steps["tfidf"],
        model=best.named_steps["clf"],
        analyzer=analyzer,
    )


def save(
    result: TrainingResult, out_dir: str | Path, *, user_words: list[str], data_name: str, date: str | None = None
) -> Path:
    """Write `model.json.gz` and `MODEL_CARD.md` into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export(
        out / ARTIFACT,
        classes=result.classes,
        vocabulary=result.vectorizer.vocabulary_,
        idf=result.vectorizer.idf_,
        coef=result.model.coef_,
        intercept=result.model.intercept_,
        analyzer_spec=result.analyzer.spec,
        user_words=user_words,
        sublinear_tf=True,
    )
    (out / "MODEL_CARD.md").write_text(model_card(result, data_name=data_name, date=date), encoding="utf-8")
    return out


def model_card(result: TrainingResult, *, data_name: str, date: str | None) -> str:
    date = date or datetime.now(UTC).date().isoformat()
    versions = {p: _version(p) for p in ("scikit-learn", "numpy", "jieba")}
    lines = [
        "# Model card: complaint category classifier",
        "",
        "Predicts the first-level category of a citizen's complaint from its text. The category picks the",
        "responsible agency (see the city configuration). Predictions below the auto-dispatch threshold go to",
        "human triage.",
        "",
        "| | |",
        "|---|---|",
        f"| trained on | `{data_name}` ({sum(result.counts.values())} rows) |",
        f"| data sha256 | `{result.data_sha256}` |",
        f"| date | {date} |",
        "| features | jieba words (user dictionary + city place names), word 1–2-grams and character 2–3-grams, "
        "TF-IDF (sublinear tf, l2) |",
        f"| model | multinomial logistic regression, C = {result.best_c:g} (chosen from {list(result.c_grid)} by "
        f"{result.cv_folds}-fold cross-validation, macro-F1) |",
        f"| vocabulary | {result.n_features} features |",
        f"| cross-validated accuracy | {result.cv_accuracy:.3f} |",
        f"| cross-validated macro-F1 | {result.cv_macro_f1:.3f} |",
        f"| seed | {result.seed} |",
        f"| libraries | Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + " |",
        "",
        "## Classes",
        "",
        "| category | training rows |",
        "|---|---|",
        *[f"| {c} | {n} |" for c, n in result.counts.items()],
        "",
        "## Limits",
        "",
        "- The bundled model is trained on a bootstrap corpus the project generates from templates "
        "(`complaints bootstrap-corpus`). Its cross-validated scores measure how well it separates that corpus,",
        "  not real complaints: retrain on the city's own archive (`complaints train --data archive.csv`) before",
        "  trusting auto-dispatch.",
        "- Text only: photos are not looked at.",
        "",
    ]
    return "\n".join(lines)


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _version(package: str) -> str:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return "?"
