"""The classifier's analyzer as it was on jieba itself: the reference the runtime's own tokenizer is held to.

Not shipped to Lambda (jieba is a development dependency only): the tests check that
complaints.classifier.features.Analyzer gives exactly these features, and bench/bench_classify.py times both.
"""

from __future__ import annotations

from collections.abc import Iterable

import jieba

from complaints.classifier.features import _DATA, _KEEP, AnalyzerSpec, _read_lines, normalize


def jieba_tokenizer() -> jieba.Tokenizer:
    """A jieba tokenizer on the shipped word list, built in memory (nothing written)."""
    tokenizer = jieba.Tokenizer()
    with (_DATA / "dict.txt").open("rb") as f:
        tokenizer.FREQ, tokenizer.total = jieba.Tokenizer.gen_pfdict(f)
    tokenizer.initialized = True
    return tokenizer


class JiebaAnalyzer:
    """jieba words (with a user dictionary and stop words) as word n-grams, plus character n-grams."""

    def __init__(self, spec: AnalyzerSpec | None = None, extra_words: Iterable[str] = ()) -> None:
        self.spec = spec or AnalyzerSpec()
        self.extra_words = tuple(extra_words)
        self.stopwords = frozenset(_read_lines("stopwords.txt"))
        self._tokenizer = jieba_tokenizer()
        for line in _read_lines("userdict.txt"):
            parts = line.split()
            self._tokenizer.add_word(parts[0], int(parts[1]) if len(parts) > 1 else None)
        for word in self.extra_words:
            if len(word) > 1:
                self._tokenizer.add_word(word)

    def words(self, text: str) -> list[str]:
        return self._words(normalize(text))

    def _words(self, normalized: str) -> list[str]:
        stop = self.stopwords
        return [
            w
            for w in self._tokenizer.lcut(normalized, HMM=self.spec.hmm)
            if w not in stop and _KEEP.search(w) and w.strip()
        ]

    def __call__(self, text: str) -> list[str]:
        normalized = normalize(text)
        words = self._words(normalized)
        feats: list[str] = []
        lo, hi = self.spec.word_ngrams
        for n in range(lo, hi + 1):
            if n == 1:
                feats += ["w:" + w for w in words]
            else:
                feats += ["w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        chars = "".join(_KEEP.findall(normalized))
        lo, hi = self.spec.char_ngrams
        for n in range(lo, hi + 1):
            feats += ["c:" + chars[i : i + n] for i in range(len(chars) - n + 1)]
        return feats
