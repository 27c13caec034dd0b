"""The runtime classifier: exported TF-IDF weights and a linear model, predicted in plain Python.

A model folder holds `model.json` (categories, tokenizer settings, intercepts, calibration, the no-evidence rule),
`vocabulary.txt` (one feature per line, in column order) and `weights.f64` (little-endian float64: the IDF row,
then one coefficient row per category), next to its MODEL_CARD.md. Raw arrays load in milliseconds where parsing
them from JSON took most of a cold start for a city-sized vocabulary.

Each prediction also says whether the model has evidence for the text at all (see classifier.evidence).

Prediction repeats scikit-learn's TfidfVectorizer(sublinear_tf, l2) followed by a linear model whose scores
become probabilities by softmax (multinomial logistic regression) or by per-category sigmoids (Platt
scaling), divided by their sum when it exceeds 1 — to within 1e-6, which a test checks.
No numpy: the classify function ships without it, and one message needs a few thousand multiplications.
"""

from __future__ import annotations

import json
import math
import operator
import sys
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from complaints.classifier.evidence import Evidence, EvidenceRule
from complaints.classifier.features import Analyzer, AnalyzerSpec, normalize

ARTIFACT = "model.json"
VOCABULARY = "vocabulary.txt"
WEIGHTS = "weights.f64"
FORMAT = "complaints-linear/3"


class ModelLoadError(RuntimeError):
    """The model folder is missing, unreadable or of another format: an operator must fix the deployment."""


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    top3: list[tuple[str, float]]
    # What the prediction rests on; None from a classifier that does not measure it.
    evidence: Evidence | None = None

    @property
    def no_evidence(self) -> bool:
        """The text is too little in the model's language for any category, however high the confidence."""
        return self.evidence is not None and not self.evidence.enough


def _to_bytes(values: Iterable[float]) -> bytes:
    a = array("d", values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def _from_bytes(data: bytes) -> array:
    a = array("d")
    a.frombytes(data)
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
        evidence_rule: EvidenceRule | None = None,
    ) -> None:
        self.classes_ = classes
        self.index_ = {term: i for i, term in enumerate(vocabulary)}
        self.idf_ = idf
        self.coef_ = coef
        self.intercept_ = intercept
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.sigmoid_ = sigmoid
        self.evidence_rule = evidence_rule or EvidenceRule()

    @classmethod
    def load(cls, model_dir: str | Path) -> TextClassifier:
        folder = Path(model_dir)
        try:
            raw = json.loads((folder / ARTIFACT).read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                found = raw.get("format") if isinstance(raw, dict) else None
                raise ModelLoadError(f"{folder / ARTIFACT}: format {found!r}, expected {FORMAT!r}")
            vocabulary = (folder / VOCABULARY).read_text(encoding="utf-8").split("\n")
            weights = _from_bytes((folder / WEIGHTS).read_bytes())
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot read the model in {folder}: {e}") from e
        try:
            n, k = len(vocabulary), len(raw["classes"])
            if len(weights) != n * (k + 1):
                raise ValueError(f"{len(weights)} weights for {n} features and {k} categories")
            idf = weights[:n]
            coef = [weights[n * (i + 1) : n * (i + 2)] for i in range(k)]
            output = raw["output"]
            sigmoid = (output["a"], output["b"]) if output["kind"] == "sigmoid" else None
            spec = AnalyzerSpec.from_dict(raw["analyzer"])
            rule = EvidenceRule.from_dict(raw.get("evidence"))
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{folder}: damaged model: {e}") from e
        # The tokenizer's extra words travel with the model, so run time splits text exactly as training did.
        analyzer = Analyzer(spec, extra_words=raw.get("user_words", ()))
        return cls(
            raw["classes"], vocabulary, idf, coef, raw["intercept"], analyzer, raw["sublinear_tf"], sigmoid, rule
        )

    def scores(self, text: str) -> list[float]:
        """The linear model's decision scores, one per category."""
        return self._scores(self.analyzer(text))

    def _scores(self, features: list[str]) -> list[float]:
        counts = Counter(filter(_not_none, map(self.index_.get, features)))
        if not counts:
            return list(self.intercept_)
        # One C-level gather per row instead of a Python call per feature.
        gather = operator.itemgetter(*counts) if len(counts) > 1 else lambda row, c=next(iter(counts)): (row[c],)
        tf = [1.0 + math.log(n) for n in counts.values()] if self.sublinear_tf else [float(n) for n in counts.values()]
        weights = list(map(operator.mul, tf, gather(self.idf_)))
        norm = math.sqrt(_sumprod(weights, weights)) or 1.0
        weights = [w / norm for w in weights]
        rows = zip(self.intercept_, self.coef_, strict=True)
        return [b + _sumprod(weights, gather(row)) for b, row in rows]

    def predict_proba_one(self, text: str) -> list[float]:
        return self._proba(self._scores(self.analyzer(text)))

    def _proba(self, scores: list[float]) -> list[float]:
        if self.sigmoid_:
            a, b = self.sigmoid_
            # scikit-learn's _SigmoidCalibration: p = 1 / (1 + exp(a·s + b)); scaled down only if they sum
            # above 1, so that a message no category claims keeps low probabilities (and goes to triage).
            p = [_expit(-(ak * s + bk)) for s, ak, bk in zip(scores, a, b, strict=True)]
            total = sum(p)
            return [x / total for x in p] if total > 1.0 else p
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]

    def predict(self, text: str) -> Prediction:
        features = self.analyzer(text)  # tokenized once: jieba is most of a prediction's time
        proba = self._proba(self._scores(features))
        ranked = sorted(zip(self.classes_, proba, strict=True), key=lambda cp: -cp[1])
        evidence = self.evidence_rule.measure(normalize(text), (f for f in features if f in self.index_))
        return Prediction(category=ranked[0][0], confidence=ranked[0][1], top3=ranked[:3], evidence=evidence)


def _not_none(x: object) -> bool:
    return x is not None


def _sumprod_py(a: Iterable[float], b: Iterable[float]) -> float:
    return sum(map(operator.mul, a, b))


# math.sumprod (Python 3.12) does the multiply-add loop in C; 3.11 gets the same result from map().
_sumprod = getattr(math, "sumprod", _sumprod_py)


def _expit(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def export(
    folder: str | Path,
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
    evidence_rule: EvidenceRule | None = None,
) -> None:
    """Write a model from fitted scikit-learn parts (training side); byte-identical for equal inputs.

    `coef` has one row per category (a two-category logistic regression's single row is given as two).
    `sigmoid` holds the per-category Platt parameters (a, b) when the scores are calibrated that way.
    """
    folder = Path(folder)
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if any("\n" in t for t in terms):
        raise ValueError("a feature contains a line break")
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
        "features": len(terms),
        "evidence": (evidence_rule or EvidenceRule()).as_dict(),
    }
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    (folder / ARTIFACT).write_text(text, encoding="utf-8")
    (folder / VOCABULARY).write_text("\n".join(terms), encoding="utf-8")
    rows = [[float(idf[c]) for c in cols], *([float(row[c]) for c in cols] for row in coef)]
    (folder / WEIGHTS).write_bytes(b"".join(_to_bytes(r) for r in rows))
