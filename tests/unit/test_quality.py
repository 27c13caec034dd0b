"""Quality on real citizen messages: train as a city would (`complaints train`), judge on held-out messages.

Uses ../shared/data/gov-messages (never copied into the repository); skips when it is absent.
"""

from __future__ import annotations

import pytest

from complaints.classifier.model import TextClassifier
from complaints_tools import evaluate, training

MIN_MACRO_F1 = 0.86


@pytest.fixture(scope="module")
def gov_model(gov_data, city, tmp_path_factory):
    texts, labels = training.read_labelled(gov_data / "train.csv")
    words = city.tokenizer_words()
    result = training.fit(texts, labels, user_words=words, data_sha256="train.csv", progress=False)
    folder = tmp_path_factory.mktemp("gov-model")
    training.save(result, folder, user_words=words, data_name="train.csv")
    return result, TextClassifier.load(folder), training.read_labelled(gov_data / "test.csv")


def test_a_model_trained_on_the_archive_sorts_held_out_messages(gov_model):
    _, runtime, (texts, labels) = gov_model
    m = evaluate.metrics(evaluate.score(runtime, texts, labels), runtime.classes_)
    assert m["macro_f1"] >= MIN_MACRO_F1, evaluate.summary(m)
    # Auto-dispatching the most confident 70 % must be more precise than dispatching everything.
    assert m["precision_at_coverage"]["0.7"] > m["accuracy"]


def test_runtime_matches_scikit_learn_on_the_whole_test_file(gov_model):
    result, runtime, (texts, _) = gov_model
    expected = training.sklearn_pipeline(result).predict_proba(texts)
    worst = 0.0
    for text, row in zip(texts, expected, strict=True):
        got = runtime.predict_proba_one(text)
        worst = max(worst, *(abs(a - b) for a, b in zip(got, row, strict=True)))
        assert runtime.classes_[max(range(len(got)), key=got.__getitem__)] == result.classes[row.argmax()]
    assert worst < 1e-6
