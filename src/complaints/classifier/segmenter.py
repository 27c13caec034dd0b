"""jieba's word cut without its HMM (`jieba.lcut(text, HMM=False)`), reimplemented in plain Python.

The same regex blocks, the same directed graph of dictionary words, the same maximum-probability route with the
same tie-break (the longer word when two routes score equally), the same run of single Latin letters and digits
glued into one token, and the same frequencies for added words (`add_word`, `suggest_freq`). What differs is the
cost: no generators or tuples per character, and no jieba import (it loads HMM tables the no-HMM cut never
uses) — so a message is cut in about half of jieba's time and a cold start skips jieba altogether.
A test checks that both give the same words on the bootstrap corpus and on real messages.

The word list loads from two shipped files: `dict.txt` (word, frequency) and `prefixes.txt`, every proper
prefix of a word that is not itself a word, which jieba derives at every load (the slower half of its loading)
and which the build derives once (complaints_tools.dictionary; a test checks it against dict.txt).
"""

from __future__ import annotations

import math
import re

# jieba 0.42.1's re_han_default and re_eng.
_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")
_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class Segmenter:
    """A prefix dictionary (jieba's FREQ: word → frequency, a prefix that is no word → 0) and its total."""

    def __init__(self, words: list[str], freqs: list[int], prefixes: list[str]) -> None:
        # Prefixes at 0, then the words over them (a word is never left at 0): what jieba's gen_pfdict builds.
        freq = dict.fromkeys(prefixes, 0)
        freq.update(zip(words, freqs, strict=True))
        self.freq = freq
        self.total = sum(freqs)
        self._logtotal = math.log(self.total)

    @classmethod
    def from_text(cls, dictionary: str, prefixes: str) -> Segmenter:
        """From dict.txt's text ("word frequency" lines) and prefixes.txt's (one prefix a line)."""
        parts = dictionary.split()
        return cls(parts[0::2], list(map(int, parts[1::2])), prefixes.split())

    def add_word(self, word: str, freq: int | None = None) -> None:
        """jieba's add_word: without a frequency, the one suggest_freq gives (just enough to keep it whole)."""
        if freq is None:
            freq = self.suggest_freq(word)
        self.freq[word] = freq
        self.total += freq
        self._logtotal = math.log(self.total)
        for i in range(1, len(word)):
            self.freq.setdefault(word[:i], 0)

    def suggest_freq(self, word: str) -> int:
        """jieba's suggest_freq(word, tune=False)."""
        ftotal = float(self.total)
        p = 1
        for seg in self.cut(word):
            p *= self.freq.get(seg, 1) / ftotal
        return max(int(p * self.total) + 1, self.freq.get(word, 1))

    def cut(self, text: str) -> list[str]:
        """The tokens of `text`, as jieba.lcut(text, HMM=False) gives them."""
        out: list[str] = []
        blocks = _HAN.split(text)
        # re.split with one group alternates: text between matches (even), a match (odd).
        for i, blk in enumerate(blocks):
            if not blk:
                continue
            if i % 2:
                out += self._cut_block(blk)
            else:
                out += _cut_other(blk)
        return out

    def cut_kept(self, text: str, keep: re.Pattern) -> list[str]:
        """`cut(text)` less the tokens outside word blocks that `keep` finds nothing in.

        Outside word blocks every token is one character or white space: keeping those `keep` finds (one
        character long, so never white space) is one C-level findall instead of a token at a time.
        """
        out: list[str] = []
        blocks = _HAN.split(text)
        findall = keep.findall
        cut_block = self._cut_block
        for i in range(0, len(blocks) - 1, 2):
            if blocks[i]:
                out += findall(blocks[i])
            out += cut_block(blocks[i + 1])
        if blocks[-1]:
            out += findall(blocks[-1])
        return out

    def _cut_block(self, blk: str) -> list[str]:
        get = self.freq.get
        log = math.log
        lt = self._logtotal
        n = len(blk)
        score = [0.0] * (n + 1)
        end = [0] * n
        # Right to left: the best route from each position, over the dictionary words that start there.
        for k in range(n - 1, -1, -1):
            best = None
            e = k + 1
            f = get(blk[k])
            j = k + 1
            while f is not None:
                if f:
                    # jieba: log(freq) - logtotal + route[x + 1]; a later (longer) word wins a tie.
                    s = log(f) - lt + score[j]
                    if best is None or s >= best:
                        best, e = s, j
                if j == n:
                    break
                j += 1
                f = get(blk[k:j])
            if best is None:  # no word starts here: the character alone, at frequency 1 (log 1 = 0)
                best = 0.0 - lt + score[k + 1]
            score[k] = best
            end[k] = e
        words: list[str] = []
        x = 0
        buf = ""
        while x < n:
            y = end[x]
            w = blk[x:y]
            if y == x + 1 and w in _ENG:  # single Latin letters and digits run together
                buf += w
            else:
                if buf:
                    words.append(buf)
                    buf = ""
                words.append(w)
            x = y
        if buf:
            words.append(buf)
        return words


_SKIP = re.compile("(\r\n|\\s)")


def _cut_other(blk: str) -> list[str]:
    # jieba's non-word blocks: white space (and "\r\n") as tokens, every other character on its own.
    out: list[str] = []
    for x in _SKIP.split(blk):
        if _SKIP.match(x):
            out.append(x)
        else:
            out += x
    return out
