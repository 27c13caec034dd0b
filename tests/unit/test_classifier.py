"""The classifier: the plain-Python runtime repeats the scikit-learn pipeline exactly; the bundled model works."""

from __future__ import annotations

import pytest

from complaints.classifier.model import ARTIFACT, VOCABULARY, WEIGHTS, ModelLoadError, TextClassifier
from complaints_tools import training
from complaints_tools.bootstrap import Place, generate, write_csv


def _train(city, folder, kind: str, seed: int = 1):
    places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
    write_csv(generate(places, per_category=40, seed=7), folder / "corpus.csv")
    texts, labels = training.read_labelled(folder / "corpus.csv")
    words = city.tokenizer_words()
    grid = ((kind, 1.0, 2), (kind, 10.0, 2))
    result = training.fit(
        texts, labels, user_words=words, data_sha256="x", seed=seed, folds=3, grid=grid, progress=False
    )
    training.save(result, folder, user_words=words, data_name="corpus.csv", date="2026-01-01")
    return result


@pytest.fixture(scope="module", params=["logreg", "svm"])
def small_model(request, tmp_path_factory, city):
    """A model of each kind fitted on a small generated corpus, with its scikit-learn parts kept for comparison."""
    folder = tmp_path_factory.mktemp(f"model-{request.param}")
    result = _train(city, folder, request.param)
    places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
    held_out = [t for t, _ in generate(places, per_category=15, seed=8)]
    return folder, result, held_out


def test_runtime_gives_the_same_labels_and_probabilities_as_scikit_learn(small_model):
    folder, result, texts = small_model
    runtime = TextClassifier.load(folder)
    expected = training.sklearn_pipeline(result).predict_proba(texts)
    assert runtime.classes_ == list(result.classes)
    for text, row in zip(texts, expected, strict=True):
        got = runtime.predict_proba_one(text)
        assert max(abs(a - b) for a, b in zip(got, row, strict=True)) < 1e-6
        assert runtime.predict(text).category == result.classes[row.argmax()]


def test_training_is_deterministic(small_model, tmp_path, city):
    folder, result, _ = small_model
    _train(city, tmp_path, result.model_kind)
    for name in (ARTIFACT, VOCABULARY, WEIGHTS):
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes()
    assert (tmp_path / "MODEL_CARD.md").read_text() == (folder / "MODEL_CARD.md").read_text()


def test_model_card_says_what_the_model_is(small_model):
    card = (small_model[0] / "MODEL_CARD.md").read_text(encoding="utf-8")
    for fact in ("corpus.csv", "cross-validated macro-F1", "2026-01-01", "scikit-learn", "环境保护"):
        assert fact in card


def test_the_bundled_model_routes_obvious_complaints(model_dir):
    model = TextClassifier.load(model_dir)
    assert model.predict("上望街道薛里村有人焚烧垃圾，黑烟很大，气味刺鼻").category == "环境保护"
    assert model.predict("老板拖欠我们三个月工资不发").category == "劳动和社会保障"
    assert model.predict("公交车班次太少，等车要一个小时").category == "交通运输"
    assert (model_dir / "MODEL_CARD.md").exists()


def test_a_missing_or_corrupt_model_fails_loudly(tmp_path, model_dir):
    import shutil

    with pytest.raises(ModelLoadError):
        TextClassifier.load(tmp_path)
    (tmp_path / ARTIFACT).write_bytes(b"\x1f\x8bnot json")
    with pytest.raises(ModelLoadError):
        TextClassifier.load(tmp_path)
    (tmp_path / ARTIFACT).write_text('{"format": "something-else"}')
    with pytest.raises(ModelLoadError, match="format"):
        TextClassifier.load(tmp_path)
    # A truncated weights file (an interrupted copy) is caught, not predicted from.
    for name in (ARTIFACT, VOCABULARY, WEIGHTS):
        shutil.copy(model_dir / name, tmp_path / name)
    TextClassifier.load(tmp_path)
    (tmp_path / WEIGHTS).write_bytes((model_dir / WEIGHTS).read_bytes()[:-8])
    with pytest.raises(ModelLoadError, match="weights"):
        TextClassifier.load(tmp_path)


def test_the_shipped_word_list_is_jiebas_dictionary_pruned():
    from importlib import resources

    from complaints_tools.dictionary import pruned_dictionary

    shipped = (resources.files("complaints.classifier") / "data" / "dict.txt").read_text(encoding="utf-8")
    assert shipped == pruned_dictionary()


def test_the_tokenizer_writes_nothing(tmp_path, monkeypatch):
    # Lambda's file system is read-only: building the tokenizer must not try to write a cache anywhere.
    import tempfile

    from complaints.classifier.features import Analyzer

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    words = Analyzer(extra_words=["薛里村"]).words("上望街道薛里村有人焚烧垃圾")
    assert words == ["上", "望", "街道", "薛里村", "有人", "焚烧", "垃圾"]
    assert list(tmp_path.iterdir()) == []
