"""The runtime classifier: exported TF-IDF weights and a linear model, predicted in plain Python.

The artifact is `model.json.gz` in a model folder (next to its MODEL_CARD.md): the vocabulary in column order,
and the IDF weights, the coefficients (one row per category) and the intercepts as little-endian float64
arrays. Prediction repeats scikit-learn's TfidfVectorizer(sublinear_tf, l2) followed by a linear model whose
scores become probabilities by softmax (multinomial logistic regression) or by per-category sigmoids,
normalised (CalibratedClassifierCV with the sigmoid method) — to within 1e-6, which a test checks.
No numpy: the classify function ships without it, and one message needs a few thousand multiplications.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import operator
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from complaints.classifier.features import Analyzer, AnalyzerSpec

ARTIFACT = "model.json.gz"
FORMAT = "complaints-linear/2"


class ModelLoadError(RuntimeError):
    """The model folder is missing, unreadable or of another format: an operator must fix the deployment."""


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    top3: list[tuple[str, float]]


def _floats(values: Iterable[float]) -> str:
    a = array("d", values)
    if sys.byteorder != "little":
        a.byteswap()
    return base64.b64encode(a.tobytes()).decode("ascii")


def _unfloats(text: str) -> array:
    a = array("d")
    a.frombytes(base64.b64decode(text))
    if sys.byteorder != "little":
        a.byteswap()
    return a


class TextClassifier:
    """Loaded from a model folder; `predict(text)` gives the category, its probability and the top three."""

    def __init__(
        self,
        classes: list[str],
        vocabulary: Sequence[str],
        idf: array,
        coef: list[array],
        intercept: list[float],
        analyzer: Analyzer,
        sublinear_tf: bool = True,
        sigmoid: tuple[list[float], list[float]] | None = None,
    ) -> None:
        self.classes_ = classes
        self.index_ = {term: i for i, term in enumerate(vocabulary)}
        self.idf_ = idf
        self.coef_ = coef
        self.intercept_ = intercept
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.sigmoid_ = sigmoid

    @classmethod
    def load(cls, model_dir: str | Path) -> TextClassifier:
        path = Path(model_dir) / ARTIFACT
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot read model {path}: {e}") from e
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            found = raw.get("format") if isinstance(raw, dict) else None
            raise ModelLoadError(f"{path}: format {found!r}, expected {FORMAT!r}")
        try:
            vocabulary = raw["vocabulary"]
            idf = _unfloats(raw["idf"])
            coef = [_unfloats(row) for row in raw["coef"]]
            output = raw["output"]
            sigmoid = (output["a"], output["b"]) if output["kind"] == "sigmoid" else None
            if len(idf) != len(vocabulary) or any(len(row) != len(vocabulary) for row in coef):
                raise ValueError("vocabulary and weights differ in length")
            if len(coef) != len(raw["classes"]):
                raise ValueError("one coefficient row per category expected")
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{path}: damaged model: {e}") from e
        # The tokenizer's extra words travel with the model, so run time splits text exactly as training did.
        analyzer = Analyzer(AnalyzerSpec.from_dict(raw["analyzer"]), extra_words=raw.get("user_words", ()))
        return cls(
            raw["classes"], vocabulary, idf, coef, raw["intercept"], analyzer, raw.get("sublinear_tf", True), sigmoid
        )

    def scores(self, text: str) -> list[float]:
        """The linear model's decision scores, one per category."""
        index = self.index_
        counts = Counter(i for i in map(index.get, self.analyzer(text)) if i is not None)
        cols = list(counts)
        tf = [1.0 + math.log(n) if self.sublinear_tf else float(n) for n in counts.values()]
        weights = list(map(operator.mul, tf, map(self.idf_.__getitem__, cols)))
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        weights = [w / norm for w in weights]
        return [
            b + sum(map(operator.mul, weights, map(row.__getitem__, cols)))
            for b, row in zip(self.intercept_, self.coef_, strict=True)
        ]

    def predict_proba_one(self, text: str) -> list[float]:
        scores = self.scores(text)
        if self.sigmoid_:
            a, b = self.sigmoid_
            # scikit-learn's _SigmoidCalibration: p = 1 / (1 + exp(a·s + b)), then normalised over categories.
            p = [_expit(-(ak * s + bk)) for s, ak, bk in zip(scores, a, b, strict=True)]
            total = sum(p)
            return [x / total for x in p] if total else [1.0 / len(p)] * len(p)
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]

    def predict(self, text: str) -> Prediction:
        proba = self.predict_proba_one(text)
        ranked = sorted(zip(self.classes_, proba, strict=True), key=lambda cp: -cp[1])
        return Prediction(category=ranked[0][0], confidence=ranked[0][1], top3=ranked[:3])


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def export(
    path: str | Path,
    *,
    classes: Sequence[str],
    vocabulary: dict[str, int],
    idf: Sequence[float],
    coef: Sequence[Sequence[float]],
    intercept: Sequence[float],
    analyzer_spec: AnalyzerSpec,
    user_words: Iterable[str],
    sublinear_tf: bool,
    sigmoid: tuple[Sequence[float], Sequence[float]] | None = None,
) -> None:
    """Write a model artifact from fitted scikit-learn parts (training side); byte-identical for equal inputs.

    `coef` has one row per category (a two-category logistic regression's single row is given as two).
    `sigmoid` holds the per-category Platt parameters (a, b) when the scores are calibrated that way.
    """
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    cols = [vocabulary[t] for t in terms]
    doc = {
        "format": FORMAT,
        "classes": list(classes),
        "analyzer": analyzer_spec.as_dict(),
        "user_words": sorted(set(user_words)),
        "sublinear_tf": sublinear_tf,
        "intercept": [float(x) for x in intercept],
        "output": (
            {"kind": "sigmoid", "a": [float(x) for x in sigmoid[0]], "b": [float(x) for x in sigmoid[1]]}
            if sigmoid
            else {"kind": "softmax"}
        ),
        "vocabulary": terms,
        "idf": _floats(float(idf[c]) for c in cols),
        "coef": [_floats(float(row[c]) for c in cols) for row in coef],
    }
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(data)
