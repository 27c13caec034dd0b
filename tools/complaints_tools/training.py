"""Training: jieba words and characters → TF-IDF → a linear model with calibrated probabilities.

The model's C and min_df are chosen by stratified cross-validation on the training data only (macro-F1): a
linear SVM whose scores are calibrated by per-category sigmoids fitted on cross-validated scores (or, on
request, multinomial logistic regression). scikit-learn is used here only: the
exported artifact is predicted in plain Python by `complaints.classifier.model.TextClassifier`, which a test
checks against the fitted pipeline.
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

from sklearn.base import BaseEstimator, ClassifierMixin

from complaints.classifier.evidence import MIN_TRAINING_SHARE, EvidenceRule, rule_for, training_scripts
from complaints.classifier.features import Analyzer, AnalyzerSpec, normalize
from complaints.classifier.model import export

# Candidates tried by cross-validation: (model, C).
# Measured on 2,958 real messages (5-fold CV): the calibrated SVM beat logistic regression (C 10–100) by ~0.01
# macro-F1 and fits in a fraction of the time; "logreg" stays available for a grid of one's own.
# min_df: a feature must occur in that many training messages. On the real messages 3 cross-validated as well
# as 2 with half the features (120k against 224k), and each feature kept costs memory and cache misses on every
# prediction in Lambda; on a small archive 2 does better. Cross-validation decides.
GRID: tuple[tuple[str, float, int], ...] = tuple(("svm", c, min_df) for min_df in (2, 3) for c in (1.0, 3.0, 10.0))
# A catalogue of services has ten times the classes of a board's categories: the search is cut to its best
# candidate on the bootstrap corpus (each fit takes ~15 s there), and each class keeps only its largest
# coefficients, so the model stays a few MB and a prediction touches a few weights per feature.
MANY_CLASSES = 20
MANY_CLASSES_GRID: tuple[tuple[str, float, int], ...] = (("svm", 1.0, 2),)
WEIGHTS_PER_CLASS = 1500
# A feature counts as evidence when its documents are not spread evenly over the classes: the entropy of
# P(class | feature), with each class weighted as if all were the same size, below this share of the most it
# could be (log of the number of classes, or of its documents when fewer).
# "到底怎么办" or "这个事情" sit near 1; "路灯" or "工资" far below (courtesy words and digits never count).
INFORMATIVE_MAX_ENTROPY = 0.9
MODELS = {
    "logreg": "multinomial logistic regression (softmax probabilities)",
    "svm": "linear SVM, per-category sigmoid calibration on 5-fold cross-validated scores (sum capped at 1)",
}


def _identity(features: list[str]) -> list[str]:
    return features


@dataclass
class TrainingResult:
    classes: list[str]
    counts: dict[str, int]
    model_kind: str
    best_c: float
    min_df: int
    cv_accuracy: float
    cv_macro_f1: float
    cv_folds: int
    n_features: int
    data_sha256: str
    seed: int
    grid: tuple[tuple[str, float, int], ...]
    cv_table: list[dict[str, float | str]]
    # Each script's share of the training text, and the no-evidence rule that follows from it.
    script_shares: dict[str, float]
    evidence_rule: EvidenceRule
    labels: str  # what the classes are: service, category or agency
    informative: list[bool] = field(repr=False)
    weights_per_class: int | None
    vectorizer: object = field(repr=False)
    model: object = field(repr=False)
    analyzer: Analyzer = field(repr=False)

    def describe(self) -> str:
        model = f"{self.model_kind} C={self.best_c:g}"
        return (
            f"{len(self.classes)} {self.labels} classes, {self.n_features} features, {model}, "
            f"cross-validated accuracy {self.cv_accuracy:.3f}, macro-F1 {self.cv_macro_f1:.3f}"
        )

    def linear_parts(self):
        """(coef rows, intercepts, sigmoid (a, b) or None) of the fitted model, one row per category."""
        if self.model_kind == "svm":
            calibrated = self.model.calibrated_.calibrated_classifiers_[0]
            svm = calibrated.estimator
            a = [c.a_ for c in calibrated.calibrators]
            b = [c.b_ for c in calibrated.calibrators]
            if len(self.classes) == 2:  # the binary case never occurs for a city's categories; refuse clearly
                raise ValueError("the SVM export needs at least three categories")
            return svm.coef_, svm.intercept_, (a, b)
        coef, intercept = self.model.coef_, self.model.intercept_
        if len(self.classes) == 2:
            # scikit-learn keeps one row for two categories: softmax([-s/2, s/2]) is exactly its sigmoid(s).
            coef, intercept = [-coef[0] / 2, coef[0] / 2], [-intercept[0] / 2, intercept[0] / 2]
        return coef, intercept, None


class CalibratedSVC(ClassifierMixin, BaseEstimator):
    """A linear SVM with one sigmoid per category fitted on 5-fold cross-validated scores (Platt scaling).

    scikit-learn's CalibratedClassifierCV then always divides by the sum of the sigmoids; here the division
    only happens when the sum exceeds 1. A message no category claims ("你好，我想问一下这个事情到底怎么办才好":
    every sigmoid low) keeps low probabilities and goes to triage instead of being inflated to a confident
    guess. The ranking of confident messages barely changes (cross-validated precision at 70 % coverage on
    the real messages: 0.978 capped, 0.981 always normalised, 0.976 for a temperature-scaled softmax).

    With two hundred services (`normalize_always`, for more than MANY_CLASSES classes) each sigmoid, fitted on a
    corpus it separates almost perfectly, stays low on a real complaint worded unlike it: divided by their sum, the
    held-out realistic set dispatches 80 % at 0.98 agency precision instead of 65 % at 0.99. A text with nothing in
    it goes to triage by the evidence rule instead.
    """

    def __init__(self, C: float = 1.0, random_state: int = 0, normalize_always: bool = False) -> None:
        self.C, self.random_state, self.normalize_always = C, random_state, normalize_always

    def fit(self, x, y) -> CalibratedSVC:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=self.C, max_iter=20000, random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False).fit(x, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, x):
        import numpy as np

        calibrated = self.calibrated_.calibrated_classifiers_[0]
        scores = calibrated.estimator.decision_function(x)
        p = np.column_stack([c.predict(scores[:, k]) for k, c in enumerate(calibrated.calibrators)])
        total = p.sum(axis=1)
        return p / (total if self.normalize_always else np.maximum(1.0, total))[:, None]

    def predict(self, x):
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


def _estimator(kind: str, c: float, seed: int, calibrated: bool = True, normalize_always: bool = False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    if kind == "logreg":
        return LogisticRegression(C=c, max_iter=5000)
    if kind == "svm":
        return (
            CalibratedSVC(C=c, random_state=seed, normalize_always=normalize_always)
            if calibrated
            else LinearSVC(C=c, max_iter=20000, random_state=seed)
        )
    raise ValueError(f"unknown model {kind!r}; known: {', '.join(MODELS)}")


def _vectorizer(min_df: int):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, min_df=min_df, dtype=np.float64)


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
    grid: tuple[tuple[str, float, int], ...] | None = None,
    progress: bool = True,
    labels_are: str = "category",
) -> TrainingResult:
    """Tokenize once, cross-validate every candidate of `grid`, refit the best (macro-F1) on all the data.

    `labels_are` says what the labels are (service codes, categories or agency ids); with more than MANY_CLASSES
    of them the grid defaults to MANY_CLASSES_GRID and each class keeps its WEIGHTS_PER_CLASS largest weights.
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from tqdm import tqdm

    many = len(set(labels)) > MANY_CLASSES
    grid = grid or (MANY_CLASSES_GRID if many else GRID)
    analyzer = Analyzer(spec, extra_words=user_words)
    docs = [analyzer(t) for t in tqdm(texts, desc="tokenizing", unit="msg", disable=not progress)]
    y = np.array(labels)
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(docs, y))
    scores: dict[tuple[str, float, int], list[tuple[float, float]]] = {g: [] for g in grid}
    with tqdm(total=len(grid) * folds, desc="cross-validating", unit="fit", disable=not progress) as bar:
        for k, (train, test) in enumerate(splits):
            for min_df in sorted({g[2] for g in grid}):
                vec = _vectorizer(min_df)  # fitted inside the fold: the held-out part stays unseen
                x_train = vec.fit_transform([docs[i] for i in train])
                x_test = vec.transform([docs[i] for i in test])
                for kind, c, _ in (g for g in grid if g[2] == min_df):
                    # Selection compares the SVM's own decisions; calibration (five more fits) comes at the end.
                    predicted = _estimator(kind, c, seed, calibrated=False).fit(x_train, y[train]).predict(x_test)
                    scores[(kind, c, min_df)].append(
                        (f1_score(y[test], predicted, average="macro"), accuracy_score(y[test], predicted))
                    )
                    bar.set_postfix_str(f"fold {k + 1} {kind} C={c:g} min_df={min_df}")
                    bar.update()
    table = [
        {
            "model": kind,
            "C": c,
            "min_df": min_df,
            "macro_f1": float(np.mean([f for f, _ in s])),
            "accuracy": float(np.mean([a for _, a in s])),
        }
        for (kind, c, min_df), s in scores.items()
    ]
    # Ties go to the smaller model (higher min_df).
    best = max(table, key=lambda r: (round(r["macro_f1"], 6), round(r["accuracy"], 6), r["min_df"]))
    shares = training_scripts(normalize(t) for t in texts)
    vec = _vectorizer(best["min_df"])
    x = vec.fit_transform(docs)
    model = _estimator(best["model"], best["C"], seed, normalize_always=many).fit(x, y)
    per_class = WEIGHTS_PER_CLASS if many else None
    if per_class is not None:
        _keep_largest(_coef_holder(model), per_class)
    return TrainingResult(
        classes=[str(c) for c in model.classes_],
        counts=dict(sorted(Counter(labels).items())),
        model_kind=str(best["model"]),
        best_c=float(best["C"]),
        min_df=int(best["min_df"]),
        cv_accuracy=float(best["accuracy"]),
        cv_macro_f1=float(best["macro_f1"]),
        cv_folds=folds,
        n_features=len(vec.vocabulary_),
        data_sha256=data_sha256,
        seed=seed,
        grid=tuple(grid),
        cv_table=table,
        script_shares=shares,
        evidence_rule=rule_for(shares),
        labels=labels_are,
        informative=informative_features(x, y, model.classes_),
        weights_per_class=per_class,
        vectorizer=vec,
        model=model,
        analyzer=analyzer,
    )


def _coef_holder(model):
    """The fitted linear estimator whose coef_ the model predicts with."""
    if isinstance(model, CalibratedSVC):
        return model.calibrated_.calibrated_classifiers_[0].estimator
    return model


def _keep_largest(estimator, per_class: int) -> None:
    """Zero all but each class's `per_class` largest coefficients (by magnitude), in place: the model predicts
    with what is kept, here and at run time alike; the calibration fitted before still maps its scores."""
    import numpy as np

    coef = np.asarray(estimator.coef_)
    if coef.shape[1] <= per_class:
        return
    # Ties broken by column, so the same data keep the same weights on every machine.
    order = np.argsort(-np.abs(coef), axis=1, kind="stable")
    mask = np.zeros_like(coef, dtype=bool)
    np.put_along_axis(mask, order[:, :per_class], True, axis=1)
    estimator.coef_ = np.where(mask, coef, 0.0)


def informative_features(x, y, classes) -> list[bool]:
    """By vocabulary column: whether a feature's documents lean to some classes (see INFORMATIVE_MAX_ENTROPY)."""
    import numpy as np

    present = (x > 0).astype(np.float64).tocsc()
    y = np.asarray(y)
    # P(feature | class) per class, then normalised over the classes: P(class | feature) with equal-sized classes.
    rates = np.vstack([np.asarray(present[y == c].mean(axis=0)).ravel() for c in classes])
    total = rates.sum(axis=0)
    q = np.divide(rates, total, out=np.zeros_like(rates), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0).sum(axis=0)
    # The most a feature in df documents can spread over is min(df, classes): a feature in 40 documents of a
    # corpus of 200 classes looks concentrated however evenly it is used.
    df = np.asarray(present.sum(axis=0)).ravel()
    most = np.log(np.clip(np.minimum(df, len(classes)), 2, None))
    return [bool(v < INFORMATIVE_MAX_ENTROPY) for v in h / most]


def sklearn_pipeline(result: TrainingResult):
    """The fitted model as a scikit-learn pipeline on raw text (the benchmark's baseline; tests compare to it)."""
    import copy

    from sklearn.pipeline import Pipeline

    vec = copy.deepcopy(result.vectorizer)
    vec.analyzer = result.analyzer
    return Pipeline([("tfidf", vec), ("clf", result.model)])


def save(
    result: TrainingResult, out_dir: str | Path, *, user_words: list[str], data_name: str, date: str | None = None
) -> Path:
    """Write the model (`model.json`, `vocabulary.txt`, `weights.f64`) and `MODEL_CARD.md` into out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    coef, intercept, sigmoid = result.linear_parts()
    for old in [*out.glob("model.json.gz"), *out.glob("weights.f64")]:  # the files of earlier formats
        old.unlink()
    export(
        out,
        classes=result.classes,
        vocabulary=result.vectorizer.vocabulary_,
        idf=result.vectorizer.idf_,
        coef=coef,
        intercept=intercept,
        analyzer_spec=result.analyzer.spec,
        user_words=user_words,
        sublinear_tf=True,
        sigmoid=sigmoid,
        evidence_rule=result.evidence_rule,
        labels=result.labels,
        informative=result.informative,
        normalize_always=bool(getattr(result.model, "normalize_always", False)),
    )
    (out / "MODEL_CARD.md").write_text(model_card(result, data_name=data_name, date=date), encoding="utf-8")
    return out


def model_card(result: TrainingResult, *, data_name: str, date: str | None) -> str:
    date = date or datetime.now(UTC).date().isoformat()
    spec = result.analyzer.spec
    versions = {p: _version(p) for p in ("scikit-learn", "numpy", "scipy", "jieba")}
    rule = result.evidence_rule
    scripts = ", ".join(rule.scripts)
    shares = ", ".join(f"{s} {share:.1%}" for s, share in result.script_shares.items() if share >= 0.001) or "none"
    lines = [
        f"# Model card: complaint classifier ({_WHAT[result.labels][0]})",
        "",
        f"Predicts {_WHAT[result.labels][1]} of a citizen's complaint from its text. {_WHAT[result.labels][2]}",
        "Predictions below the auto-dispatch threshold go to human triage, and so does any text the model has no",
        "evidence for (`no_evidence`, below).",
        "",
        "| | |",
        "|---|---|",
        f"| languages | {', '.join(rule.languages)} (script: {scripts}) |",
        f"| trained on | `{data_name}` ({sum(result.counts.values())} rows) |",
        f"| data sha256 | `{result.data_sha256}` |",
        f"| date | {date} |",
        f"| features | jieba words (pruned dictionary, user dictionary, city place names) as word "
        f"{_span(spec.word_ngrams)}-grams and character {_span(spec.char_ngrams)}-grams, "
        "TF-IDF (sublinear tf, l2) |",
        f"| model | {MODELS[result.model_kind]}, C = {result.best_c:g}; features in ≥ {result.min_df} messages"
        + (
            f"; each class keeps its {result.weights_per_class} largest weights; the sigmoids are always divided by "
            "their sum"
            if result.weights_per_class
            else ""
        )
        + " |",
        f"| chosen by | {result.cv_folds}-fold stratified cross-validation on the training data, macro-F1 |",
        f"| vocabulary | {result.n_features} features |",
        f"| cross-validated accuracy | {result.cv_accuracy:.3f} |",
        f"| cross-validated macro-F1 | {result.cv_macro_f1:.3f} |",
        f"| seed | {result.seed} |",
        f"| libraries | Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + " |",
        "",
        "## Cross-validation",
        "",
        "| model | C | min_df | macro-F1 | accuracy |",
        "|---|---|---|---|---|",
        *[
            f"| {r['model']} | {r['C']:g} | {r['min_df']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} |"
            for r in result.cv_table
        ],
        "",
        "## Languages and evidence",
        "",
        f"- Scripts of the training text: {shares} (each Han character counts one, and so does each word in another "
        "script; digits, punctuation and emoji count nothing). The model's scripts are those with at least "
        f"{MIN_TRAINING_SHARE:.0%} of it: {scripts}.",
        "- No evidence: a text goes to triage with the reason `no_evidence`, whatever its confidence, when less than "
        f"{rule.min_script_share:.0%} of it is in {scripts}, or when it holds fewer than {rule.min_known_terms} "
        f"distinct terms in {scripts} that the model knows (its words, and its character pairs and triples). "
        "English, pinyin, emoji, digits alone and a single character have none. Only features that lean to some "
        f"classes count (entropy of P(class | feature) below {INFORMATIVE_MAX_ENTROPY:.0%} of its maximum: "
        f'{sum(result.informative)} of {len(result.informative)}): greetings, "请问", "怎么办" and digits, '
        "spread over all classes, are no evidence. The thresholds are in `model.json` (`evidence`).",
        "",
        "## Classes",
        "",
        f"| {result.labels} | training rows |",
        "|---|---|",
        *[f"| {c} | {n} |" for c, n in result.counts.items()],
        "",
        "## Limits",
        "",
        "- The bundled model is trained on a bootstrap corpus the project generates from templates "
        "(`complaints bootstrap-corpus`). Its cross-validated scores measure how well it separates that corpus,",
        "  not real complaints: retrain on the city's own archive (`complaints train --data archive.csv`) before",
        "  trusting auto-dispatch.",
        f"- {' and '.join(rule.languages)} only: a complaint in another language reaches a person, not an agency.",
        "- Text only: photos are not looked at.",
        "",
    ]
    return "\n".join(lines)


_WHAT = {
    "service": (
        "kind of problem",
        "the kind of problem (a service of the city's catalogue, `[[services]]`)",
        "The service gives the category and the agency that handles it, or the district's town for a local one.",
    ),
    "category": (
        "category",
        "the first-level category",
        "The category picks the responsible agency (see the city configuration).",
    ),
    "agency": ("agency", "the responsible agency", "The label is the agency id of the city configuration."),
}


def _span(lo_hi: tuple[int, int]) -> str:
    lo, hi = lo_hi
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _version(package: str) -> str:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return "?"
