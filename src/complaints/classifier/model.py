"""The runtime classifier: exported TF-IDF weights and a linear model, predicted in plain Python.

A model folder holds `model.json` (its classes and what they are — service codes, categories or agency ids —,
tokenizer settings, intercepts, calibration, the no-evidence rule, the lengths of the arrays), `vocabulary.txt` (one
feature per line, in column order) and `weights.bin` (little-endian arrays one after another: the IDF row (float64),
the non-zero coefficients (float64), each feature's offset into them (uint32), their classes (uint16), and which
features count as evidence (uint8)), next to its MODEL_CARD.md. Raw arrays load in milliseconds where parsing them
from JSON took most of a cold start for a city-sized vocabulary.

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

from complaints.classifier.evidence import Evidence, EvidenceRule, without_noise
from complaints.classifier.features import Analyzer, AnalyzerSpec, normalize

ARTIFACT = "model.json"
VOCABULARY = "vocabulary.txt"
WEIGHTS = "weights.bin"
FORMAT = "complaints-linear/4"
# What a model's classes are: kinds of problem (service codes of the city's catalogue), categories, or agency ids.
LABEL_KINDS = ("service", "category", "agency")
# The arrays of weights.bin, in order, with their array type codes; their lengths are in model.json (`arrays`).
_ARRAYS = (("idf", "d"), ("values", "d"), ("offsets", "I"), ("classes", "H"), ("informative", "B"))


class ModelLoadError(RuntimeError):
    """The model folder is missing, unreadable or of another format: an operator must fix the deployment."""


@dataclass(frozen=True)
class Prediction:
    category: str  # the model's label: a service code, a category or an agency id (TextClassifier.labels)
    confidence: float
    top3: list[tuple[str, float]]
    # What the prediction rests on; None from a classifier that does not measure it.
    evidence: Evidence | None = None

    @property
    def label(self) -> str:
        return self.category

    @property
    def no_evidence(self) -> bool:
        """The text is too little in the model's language for any category, however high the confidence."""
        return self.evidence is not None and not self.evidence.enough


def _to_bytes(values: Iterable[float | int], typecode: str = "d") -> bytes:
    a = array(typecode, values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def _from_bytes(data: bytes, typecode: str = "d") -> array:
    a = array(typecode)
    a.frombytes(data)
    if sys.byteorder != "little":
        a.byteswap()
    return a


@dataclass(frozen=True)
class SparseWeights:
    """The coefficients by feature: feature i's non-zero weights are values[offsets[i]:offsets[i+1]], for the
    classes in the same slice of `classes`. A model of two hundred kinds of problem keeps a few per feature, so
    a prediction costs what the text's features have, not features × classes."""

    offsets: array
    classes: array
    values: array


class TextClassifier:
    """Loaded from a model folder; `predict(text)` gives the label, its probability and the top three."""

    def __init__(
        self,
        classes: list[str],
        vocabulary: Sequence[str],
        idf: array,
        weights: SparseWeights,
        intercept: list[float],
        analyzer: Analyzer,
        sublinear_tf: bool = True,
        sigmoid: tuple[list[float], list[float]] | None = None,
        evidence_rule: EvidenceRule | None = None,
        labels: str = "category",
        informative: array | None = None,
        normalize_always: bool = False,
    ) -> None:
        self.classes_ = classes
        self.index_ = {term: i for i, term in enumerate(vocabulary)}
        self.idf_ = idf
        self.weights_ = weights
        self.intercept_ = intercept
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf
        self.sigmoid_ = sigmoid
        self.evidence_rule = evidence_rule or EvidenceRule()
        self.labels = labels
        self.normalize_always = normalize_always  # sigmoids divided by their sum always, not only above 1
        # Features that say something about the class (not spread evenly over all of them, as greetings, "请问"
        # and digits are): only these count as evidence. None: every known feature counts.
        self.informative_ = informative

    @classmethod
    def load(cls, model_dir: str | Path) -> TextClassifier:
        folder = Path(model_dir)
        try:
            raw = json.loads((folder / ARTIFACT).read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                found = raw.get("format") if isinstance(raw, dict) else None
                raise ModelLoadError(f"{folder / ARTIFACT}: format {found!r}, expected {FORMAT!r}")
            vocabulary = (folder / VOCABULARY).read_text(encoding="utf-8").split("\n")
            blob = (folder / WEIGHTS).read_bytes()
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot read the model in {folder}: {e}") from e
        try:
            lengths = raw["arrays"]
            arrays, at = {}, 0
            for name, code in _ARRAYS:
                size = int(lengths[name]) * array(code).itemsize
                if at + size > len(blob):
                    raise ValueError(f"weights end before {name}")
                arrays[name] = _from_bytes(blob[at : at + size], code)
                at += size
            if at != len(blob):
                raise ValueError(f"{len(blob) - at} bytes of weights left over")
            n, k = len(vocabulary), len(raw["classes"])
            offsets = arrays["offsets"]
            if len(arrays["idf"]) != n or len(offsets) != n + 1 or offsets[-1] != len(arrays["values"]):
                raise ValueError(f"weights for another vocabulary than its {n} features")
            if arrays["classes"] and max(arrays["classes"]) >= k:
                raise ValueError(f"weights for more than {k} classes")
            output = raw["output"]
            sigmoid = (output["a"], output["b"]) if output["kind"] == "sigmoid" else None
            normalize_always = output.get("normalize") == "always"
            spec = AnalyzerSpec.from_dict(raw["analyzer"])
            rule = EvidenceRule.from_dict(raw.get("evidence"))
            labels = raw.get("labels", "category")
            if labels not in LABEL_KINDS:
                raise ValueError(f"labels {labels!r}, expected one of {LABEL_KINDS}")
            informative = arrays["informative"] if len(arrays["informative"]) == n else None
        except (KeyError, TypeError, ValueError) as e:
            raise ModelLoadError(f"{folder}: damaged model: {e}") from e
        # The tokenizer's extra words travel with the model, so run time splits text exactly as training did.
        analyzer = Analyzer(spec, extra_words=raw.get("user_words", ()))
        weights = SparseWeights(arrays["offsets"], arrays["classes"], arrays["values"])
        return cls(
            raw["classes"],
            vocabulary,
            arrays["idf"],
            weights,
            raw["intercept"],
            analyzer,
            raw["sublinear_tf"],
            sigmoid,
            rule,
            labels,
            informative,
            normalize_always,
        )

    def scores(self, text: str) -> list[float]:
        """The linear model's decision scores, one per class."""
        return self._scores(self.analyzer(text))

    def _scores(self, features: list[str]) -> list[float]:
        counts = Counter(filter(_not_none, map(self.index_.get, features)))
        scores = list(self.intercept_)
        if not counts:
            return scores
        idf = self.idf_
        log = math.log
        if self.sublinear_tf:
            weights = [(1.0 + log(n)) * idf[i] for i, n in counts.items()]
        else:
            weights = [n * idf[i] for i, n in counts.items()]
        norm = math.sqrt(_sumprod(weights, weights)) or 1.0
        offsets, classes, values = self.weights_.offsets, self.weights_.classes, self.weights_.values
        for i, w in zip(counts, weights, strict=True):
            lo, hi = offsets[i], offsets[i + 1]
            if lo == hi:
                continue
            w /= norm
            for c, v in zip(classes[lo:hi], values[lo:hi], strict=True):
                scores[c] += w * v
        return scores

    def predict_proba_one(self, text: str) -> list[float]:
        return self._proba(self._scores(self.analyzer(text)))

    def _proba(self, scores: list[float]) -> list[float]:
        if self.sigmoid_:
            a, b = self.sigmoid_
            # scikit-learn's _SigmoidCalibration: p = 1 / (1 + exp(a·s + b)); scaled down only if they sum
            # above 1, so that a message no category claims keeps low probabilities (and goes to triage).
            p = [_expit(-(ak * s + bk)) for s, ak, bk in zip(scores, a, b, strict=True)]
            total = sum(p)
            return [x / total for x in p] if total > 1.0 or (self.normalize_always and total > 0) else p
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]

    def predict(self, text: str) -> Prediction:
        features = self.analyzer(text)  # tokenized once: the tokenizer is most of a prediction's time
        proba = self._proba(self._scores(features))
        ranked = sorted(zip(self.classes_, proba, strict=True), key=lambda cp: -cp[1])
        index, informative = self.index_, self.informative_
        normalized = normalize(text)
        if informative is None:
            known = [f for f in features if f in index]
        else:
            known = [f for f in features if (i := index.get(f)) is not None and informative[i]]
        evidence = self.evidence_rule.measure(normalized, without_noise(normalized, known))
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
    labels: str = "category",
    informative: Sequence[bool] | None = None,
    normalize_always: bool = False,
) -> None:
    """Write a model from fitted scikit-learn parts (training side); byte-identical for equal inputs.

    `coef` has one row per class (a two-class logistic regression's single row is given as two); its zeros are
    not stored. `sigmoid` holds the per-class Platt parameters (a, b) when the scores are calibrated that way.
    `informative`, by vocabulary column: whether a feature counts as evidence (see TextClassifier).
    """
    if labels not in LABEL_KINDS:
        raise ValueError(f"labels must be one of {LABEL_KINDS}")
    if len(classes) > 65535:
        raise ValueError("at most 65,535 classes")
    folder = Path(folder)
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if any("\n" in t for t in terms):
        raise ValueError("a feature contains a line break")
    cols = [vocabulary[t] for t in terms]
    offsets, klass, values = [0], [], []
    for c in cols:
        for k, row in enumerate(coef):
            v = float(row[c])
            if v != 0.0:
                klass.append(k)
                values.append(v)
        offsets.append(len(values))
    flags = [1 if informative[c] else 0 for c in cols] if informative is not None else []
    arrays = {
        "idf": [float(idf[c]) for c in cols],
        "values": values,
        "offsets": offsets,
        "classes": klass,
        "informative": flags,
    }
    doc = {
        "format": FORMAT,
        "labels": labels,
        "classes": list(classes),
        "analyzer": analyzer_spec.as_dict(),
        "user_words": sorted(set(user_words)),
        "sublinear_tf": sublinear_tf,
        "intercept": [float(x) for x in intercept],
        "output": (
            {
                "kind": "sigmoid",
                "a": [float(x) for x in sigmoid[0]],
                "b": [float(x) for x in sigmoid[1]],
                "normalize": "always" if normalize_always else "above_one",
            }
            if sigmoid
            else {"kind": "softmax"}
        ),
        "features": len(terms),
        "arrays": {name: len(arrays[name]) for name, _ in _ARRAYS},
        "evidence": (evidence_rule or EvidenceRule()).as_dict(),
    }
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    (folder / ARTIFACT).write_text(text, encoding="utf-8")
    (folder / VOCABULARY).write_text("\n".join(terms), encoding="utf-8")
    (folder / WEIGHTS).write_bytes(b"".join(_to_bytes(arrays[name], code) for name, code in _ARRAYS))
