"""Text → feature strings, shared by training (scikit-learn) and the Lambda runtime (plain Python).

Both sides call the same `Analyzer`, so the runtime sees exactly the features the model was fitted on.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from complaints.classifier.segmenter import Segmenter

_DATA = resources.files("complaints.classifier") / "data"
_DIGITS = re.compile(r"\d+")
_KEEP = re.compile(r"[\u4e00-\u9fff0-9a-z]")
_DROP = re.compile(r"[^\u4e00-\u9fff0-9a-z]")  # everything _KEEP does not find


def _read_lines(name: str) -> list[str]:
    return [ln.strip() for ln in (_DATA / name).read_text(encoding="utf-8").splitlines() if ln.strip()]


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, digit runs folded to 0: numbers carry no category."""
    return _DIGITS.sub("0", unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True)
class AnalyzerSpec:
    """How text becomes features; stored in the model so the runtime repeats it exactly."""

    # Words alone and characters 1–3: the best of the combinations cross-validated on real messages
    # (word bigrams and character 4-grams added features without adding accuracy).
    word_ngrams: tuple[int, int] = (1, 1)
    char_ngrams: tuple[int, int] = (1, 3)
    # jieba's HMM guesses words missing from the dictionary; it costs a third of the tokenizing time, and
    # character n-grams already cover such words.
    hmm: bool = False

    def as_dict(self) -> dict[str, list[int] | bool]:
        return {"word_ngrams": list(self.word_ngrams), "char_ngrams": list(self.char_ngrams), "hmm": self.hmm}

    @classmethod
    def from_dict(cls, d: dict) -> AnalyzerSpec:
        w, c = d["word_ngrams"], d["char_ngrams"]
        return cls((int(w[0]), int(w[1])), (int(c[0]), int(c[1])), bool(d.get("hmm", True)))


def _segmenter() -> Segmenter:
    """jieba's no-HMM cut on the shipped word list, built in memory: nothing is written (Lambda's file system is
    read-only) and jieba itself is not imported."""
    return Segmenter.from_text(
        (_DATA / "dict.txt").read_text(encoding="utf-8"), (_DATA / "prefixes.txt").read_text(encoding="utf-8")
    )


class Analyzer:
    """jieba words (with a user dictionary and stop words) as word n-grams, plus character n-grams.

    The words are jieba's (complaints.classifier.segmenter repeats its cut exactly; a test holds it to jieba).
    """

    def __init__(self, spec: AnalyzerSpec | None = None, extra_words: Iterable[str] = ()) -> None:
        self.spec = spec or AnalyzerSpec()
        if self.spec.hmm:
            raise ValueError("the runtime tokenizer cuts as jieba does without its HMM; hmm must be false")
        # Sorted and unique, as the model stores them: a word added without a frequency gets one suggested from the
        # words already there, so the order must be the same in training and at run time.
        self.extra_words = tuple(sorted(set(extra_words)))
        self.stopwords = frozenset(_read_lines("stopwords.txt"))
        self._segmenter = _segmenter()
        for line in _read_lines("userdict.txt"):
            parts = line.split()
            self._segmenter.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
        for word in self.extra_words:
            if len(word) > 1:
                self._segmenter.add_word(word)

    def __reduce__(self):
        # A pickled pipeline rebuilds the word list when loaded rather than carrying it.
        return (Analyzer, (self.spec, self.extra_words))

    def words(self, text: str) -> list[str]:
        return self._words(normalize(text))

    def _words(self, normalized: str) -> list[str]:
        stop = self.stopwords
        keep = _KEEP.search
        # (A token that _KEEP finds a character in is never blank: no need for jieba's w.strip() test.)
        return [w for w in self._segmenter.cut_kept(normalized, _KEEP) if w not in stop and keep(w)]

    def __call__(self, text: str) -> list[str]:
        normalized = normalize(text)
        words = self._words(normalized)
        feats: list[str] = []
        lo, hi = self.spec.word_ngrams
        for n in range(lo, hi + 1):
            if n == 1:
                feats += map("w:".__add__, words)
            else:
                feats += ["w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        chars = _DROP.sub("", normalized)  # "".join(_KEEP.findall(...)) in one pass
        lo, hi = self.spec.char_ngrams
        # The n-grams of each length, built from the (n-1)-grams by one C-level map each: "c:ab" + "c".
        grams: Iterable[str] = map("c:".__add__, chars)
        for n in range(1, hi + 1):
            if n > 1:
                grams = map(operator.add, grams, chars[n - 1 :])
            if n >= lo:
                grams = list(grams)
                feats += grams
        return feats
