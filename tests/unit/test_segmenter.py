"""The runtime's own tokenizer cuts exactly as jieba does, so the model sees the features it was trained on.

The reference is the analyzer as it ran on jieba (complaints_tools.reference_analyzer); a single differing
feature would change a prediction, so every comparison is on the full feature lists, in order.
"""

from __future__ import annotations

import json
import pickle
from importlib import resources

import jieba
import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.classifier.features import Analyzer, AnalyzerSpec
from complaints.classifier.segmenter import Segmenter
from complaints_tools import training
from complaints_tools.bootstrap import Place, generate
from complaints_tools.dictionary import prefixes
from complaints_tools.reference_analyzer import JiebaAnalyzer, jieba_tokenizer

DATA = resources.files("complaints.classifier") / "data"


@pytest.fixture(scope="module")
def user_words(model_dir) -> list[str]:
    return json.loads((model_dir / "model.json").read_text(encoding="utf-8"))["user_words"]


@pytest.fixture(scope="module")
def analyzers(user_words) -> tuple[Analyzer, JiebaAnalyzer]:
    return Analyzer(extra_words=user_words), JiebaAnalyzer(extra_words=user_words)


def test_the_shipped_prefix_list_is_what_the_word_list_gives():
    # Built once by `python -m complaints_tools.dictionary`; a prefix missing here would cut longer words short.
    assert (DATA / "prefixes.txt").read_text(encoding="utf-8") == prefixes((DATA / "dict.txt").read_text("utf-8"))


def test_the_word_list_loads_as_jiebas_prefix_dictionary():
    ours = Segmenter.from_text((DATA / "dict.txt").read_text("utf-8"), (DATA / "prefixes.txt").read_text("utf-8"))
    theirs = jieba_tokenizer()
    assert ours.freq == theirs.FREQ
    assert ours.total == theirs.total


def test_added_words_get_jiebas_frequencies(analyzers):
    # The user dictionary (given frequencies) and the model's words (suggested ones, each depending on the last).
    ours, theirs = analyzers
    assert ours._segmenter.freq == theirs._tokenizer.FREQ
    assert ours._segmenter.total == theirs._tokenizer.total


EDGE_CASES = [
    "",
    "路灯坏了",
    "KTV噪音太大，ETC扣费有问题",
    "The street light is broken",
    "a1b2 c3\r\nd4\t\u3000e5",
    "c++和c#、.net、50%的a-b_c&d",
    "\u9fd6\u9fff是jieba的汉字范围以外的字",
    "🔥🔥🔥😡 가로등이 고장났어요",
    "0577 6581 2301，有事请联系我",
    "上望街道薛里村有人焚烧垃圾",
    "瑞安市市场监督管理局局长",
    "——……“”《》",
]


@pytest.mark.parametrize("text", EDGE_CASES)
def test_the_cut_is_jiebas_on_unusual_text(analyzers, text):
    ours, theirs = analyzers
    assert ours._segmenter.cut(text) == theirs._tokenizer.lcut(text, HMM=False)
    assert ours(text) == theirs(text)


# Characters of dictionary words, Latin letters, digits, jieba's word punctuation and some that split blocks.
ALPHABET = "瑞安市上望街道薛里村有人焚烧垃圾黑烟很大路灯坏了小区门口没清理停水工资拖欠的是不在这边那边"
ALPHABET += "abZ09+#&._%- \r\n，。！"


@given(st.text(alphabet=ALPHABET, max_size=40))
def test_the_cut_is_jiebas_on_any_mix(analyzers, text):
    ours, theirs = analyzers
    assert ours._segmenter.cut(text) == theirs._tokenizer.lcut(text, HMM=False)


def _assert_same_features(analyzers, texts: list[str]) -> None:
    ours, theirs = analyzers
    differing = [t for t in texts if ours(t) != theirs(t)]
    assert differing == [], f"{len(differing)} of {len(texts)} texts differ, e.g. {differing[:3]}"


def test_the_features_are_jiebas_on_the_bootstrap_corpus(analyzers, city):
    places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
    texts = [t for t, _ in generate(places, per_category=200, seed=20261128)]
    _assert_same_features(analyzers, texts)


@pytest.mark.parametrize("name", ["train.csv", "test.csv"])
def test_the_features_are_jiebas_on_real_messages(analyzers, gov_data, name):
    texts, _ = training.read_labelled(gov_data / name)
    _assert_same_features(analyzers, texts)


def test_a_pickled_analyzer_gives_the_same_features(analyzers):
    ours, _ = analyzers
    again = pickle.loads(pickle.dumps(ours))
    assert again.extra_words == ours.extra_words
    assert again(EDGE_CASES[2]) == ours(EDGE_CASES[2])


def test_word_and_character_ngram_settings_are_jiebas(user_words):
    # Other n-gram ranges than the shipped model's, as training may cross-validate them.
    spec = AnalyzerSpec(word_ngrams=(1, 2), char_ngrams=(2, 4))
    text = "上望街道薛里村有人焚烧垃圾，黑烟很大。KTV噪音太大"
    assert Analyzer(spec, user_words)(text) == JiebaAnalyzer(spec, user_words)(text)


def test_an_analyzer_with_jiebas_hmm_is_refused():
    # The runtime cuts as jieba does without its HMM; a model asking for the HMM cannot be served faithfully.
    with pytest.raises(ValueError, match="HMM"):
        Analyzer(AnalyzerSpec(hmm=True))


def test_jieba_is_not_imported_by_the_runtime():
    import subprocess
    import sys

    code = "import sys; from complaints.classifier.model import TextClassifier; print('jieba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
    assert jieba.__version__ == "0.42.1"  # the release the cut is held to
