"""The runtime classifier: exported TF-IDF weights and a linear model, predicted in plain Python.

The artifact is `model.json.gz` in a model folder (next to its MODEL_CARD.md). It holds, per feature, the IDF
weight and one coefficient per category, so one dictionary lookup per feature does all the work. Prediction
repeats scikit-learn's TfidfVectorizer(sublinear_tf, l2) + LogisticRegression(multinomial) exactly.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from complaints.classifier.features import Analyzer, AnalyzerSpec

ARTIFACT = "model.json.gz"
FORMAT = "complaints-linear/1"


class ModelLoadError(RuntimeError):
    """The model folder is missing, unreadable or of another format: an operator must fix the deployment."""


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    top3: list[tuple[str, float]]


class TextClassifier:
    """Loaded from a model folder; `predict(text)` gives the category, its probability and the top three."""

    def __init__(
        self,
        classes: list[str],
        features: dict[str, list[float]],
        intercept: list[float],
        analyzer: Analyzer,
        sublinear_tf: bool = True,
    ) -> None:
        self.classes_ = classes
        self.features_ = features
        self.intercept_ = intercept
        self.analyzer = analyzer
        self.sublinear_tf = sublinear_tf

    @classmethod
    def load(cls, model_dir: str | Path) -> TextClassifier:
        path = Path(model_dir) / ARTIFACT
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot read model {path}: {e}") from e
        if raw.get("format") != FORMAT:
            raise ModelLoadError(f"{path}: format {raw.get('format')!r}, expected {FORMAT!r}")
        # The tokenizer's extra words travel with the model, so run time splits text exactly as training did.
        analyzer = Analyzer(AnalyzerSpec.from_dict(raw["analyzer"]), extra_words=raw.get("user_words", ()))
        return cls(raw["classes"], raw["features"], raw["intercept"], analyzer, raw.get("sublinear_tf", True))

    def predict_proba_one(self, text: str) -> list[float]:
        counts = Counter(f for f in self.analyzer(text) if f in self.features_)
        weights = {
            f: (1.0 + math.log(n) if self.sublinear_tf else float(n)) * self.features_[f][0] for f, n in counts.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        scores = list(self.intercept_)
        for f, w in weights.items():
            coefs = self.features_[f]
            for k in range(len(scores)):
                scores[k] += coefs[k + 1] * w / norm
        top = max(scores)
        exp = [math.exp(s - top) for s in scores]
        total = sum(exp)
        return [e / total for e in exp]

    def predict(self, text: str) -> Prediction:
        proba = self.predict_proba_one(text)
        ranked = sorted(zip(self.classes_, proba, strict=False), key=lambda cp: -cp[1])
        return Prediction(category=ranked[0][0], confidence=ranked[0][1], top3=ranked[:3])


def export(
    path: str | Path,
    *,
    classes,
    vocabulary,
    idf,
    coef,
    intercept,
    analyzer_spec: AnalyzerSpec,
    user_words: Iterable[str],
    sublinear_tf: bool,
) -> None:
    """Write a model artifact from fitted scikit-learn parts (training side); byte-identical for equal inputs."""
    features = {
        term: [float(idf[i]), *(float(coef[k][i]) for k in range(len(classes)))]
        for term, i in sorted(vocabulary.items())
    }
    doc = {
        "format": FORMAT,
        "classes": list(classes),
        "analyzer": analyzer_spec.as_dict(),
        "user_words": sorted(set(user_words)),
        "sublinear_tf": sublinear_tf,
        "intercept": [float(x) for x in intercept],
        "features": features,
    }
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(data)
