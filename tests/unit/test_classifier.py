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


def test_the_bundled_model_routes_obvious_complaints(model_dir, city):
    model = TextClassifier.load(model_dir)
    assert model.labels == "service"
    kind = {s.code: s.name for s in city.services}
    assert kind[model.predict("上望街道薛里村有人焚烧垃圾，黑烟很大，气味刺鼻").label] == "焚烧垃圾"
    assert kind[model.predict("老板拖欠我们三个月工资不发").label] == "拖欠工资"
    assert kind[model.predict("公交车班次太少，等车要一个小时").label] == "公交班次"
    assert kind[model.predict("小区里有人违章搭建铁皮房").label] == "违章搭建"
    assert kind[model.predict("路口红绿灯坏了，车子乱成一团").label] == "红绿灯"
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


# The examples: the bundled model gave each a category at 0.80–0.86.
NOT_CHINESE = {
    "English": "The street light is broken",
    "English, a second": "The bus is late every day",
    "a single English word": "the",
    "pinyin": "shangwang jiedao you ren fenshao laji",
    "emoji only": "🔥🔥🔥😡",
    "digits only": "13812345678",
    "Korean": "가로등이 고장났어요",
    "English around one Chinese word": "The 路灯 near my house is broken",
}
SHORT_CHINESE = {
    "burning rubbish": "上望街道薛里村有人焚烧垃圾，黑烟很大",
    "street light": "路灯坏了",
    "rubbish at the gate": "小区门口垃圾没人清理",
    "unpaid wages, one word to jieba and unknown to the model as a word": "拖欠工资",
    "a Latin brand name": "KTV噪音太大",
    "Latin letters outnumbering Han ones": "ETC扣费",
    # A single common word names the problem: an app submission adds the place (GPS) and often a photo.
    "a single common word": "路灯",
    "a single common word, another": "停水",
}


@pytest.mark.parametrize("text", NOT_CHINESE.values(), ids=NOT_CHINESE.keys())
def test_text_that_is_not_chinese_has_no_evidence(model_dir, text):
    p = TextClassifier.load(model_dir).predict(text)
    assert p.no_evidence, p.evidence


@pytest.mark.parametrize("text", SHORT_CHINESE.values(), ids=SHORT_CHINESE.keys())
def test_short_chinese_complaints_have_evidence(model_dir, text):
    p = TextClassifier.load(model_dir).predict(text)
    assert not p.no_evidence, p.evidence


@pytest.mark.parametrize("text", ["水", "坏", "你好"])
def test_a_single_character_or_a_greeting_is_no_evidence(model_dir, text):
    # One character, or words the tokenizer drops as stop words, leave at most one term the model knows.
    assert TextClassifier.load(model_dir).predict(text).no_evidence


def test_a_word_in_another_script_counts_as_much_as_one_han_character():
    from complaints.classifier.evidence import script_units

    assert script_units("etc扣费") == {"Han": 2, "Latin": 1}
    assert script_units("the bus is late") == {"Latin": 4}
    assert script_units("🔥 0 ,。! ①②") == {}  # numerals, punctuation and emoji are in no script


def test_the_evidence_thresholds_are_the_models_own(model_dir, tmp_path):
    import json
    import shutil

    for name in (ARTIFACT, VOCABULARY, WEIGHTS):
        shutil.copy(model_dir / name, tmp_path / name)
    doc = json.loads((tmp_path / ARTIFACT).read_text(encoding="utf-8"))
    assert doc["evidence"] == {"scripts": ["Han"], "min_known_terms": 2, "min_script_share": 0.5}
    doc["evidence"]["min_script_share"] = 0.9  # "KTV噪音太大" is 80 % Han
    (tmp_path / ARTIFACT).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert TextClassifier.load(tmp_path).predict("KTV噪音太大").no_evidence
    del doc["evidence"]  # a model trained before the rule was recorded: the Han rule
    (tmp_path / ARTIFACT).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    model = TextClassifier.load(tmp_path)
    assert model.predict("The street light is broken").no_evidence
    assert not model.predict("KTV噪音太大").no_evidence


def test_the_model_takes_its_scripts_from_its_training_text(small_model):
    folder, result, _ = small_model
    assert result.evidence_rule.scripts == ("Han",)
    card = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| languages | Chinese (script: Han) |" in card
    assert "`no_evidence`" in card


def test_a_bilingual_archive_makes_a_model_of_both_scripts():
    from complaints.classifier.evidence import rule_for, training_scripts

    shares = training_scripts(["路灯坏了", "the street light is broken", "上望街道有人焚烧垃圾"])
    assert rule_for(shares).scripts == ("Han", "Latin")
    assert rule_for(training_scripts(["a市上望街道路灯坏了，一直没人修理"])).scripts == ("Han",)


def test_the_bundled_model_is_what_training_on_the_bootstrap_corpus_makes(model_dir, tmp_path):
    """`make model` reproduces the bundled model: changing training or the card means retraining it.

    Exactly, except in the last digits of the calibration (the optimiser's floating point differs between
    machines) and in the card's line naming the library versions.
    """
    import json
    import math

    from complaints_tools import cli

    corpus = tmp_path / "bootstrap-ruian.csv"
    assert cli.main(["bootstrap-corpus", "--out", str(corpus)]) == 0
    assert cli.main(["train", "--data", str(corpus), "--out", str(tmp_path), "--date", "2026-11-28", "--quiet"]) == 0
    for name in (VOCABULARY, WEIGHTS):
        assert (tmp_path / name).read_bytes() == (model_dir / name).read_bytes(), name

    def close(a, b) -> bool:
        if isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-9)
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(map(close, a, b))
        return a == b

    made, bundled = (json.loads((d / ARTIFACT).read_text(encoding="utf-8")) for d in (tmp_path, model_dir))
    assert close(made, bundled)

    def card(d):
        lines = (d / "MODEL_CARD.md").read_text(encoding="utf-8").splitlines()
        return [ln for ln in lines if not ln.startswith("| libraries |")]

    assert card(tmp_path) == card(model_dir)
