"""The tokenizer's word list: jieba's own dictionary without its rarest words.

jieba's full dictionary (349k words) takes 0.9 s to load from text and 1.3 s from its marshal cache, most of a
Lambda cold start. Words seen fewer than MIN_FREQ times in jieba's source corpus are almost never the word a
complaint is about, and character n-grams carry them anyway; without them the list loads in about 0.25 s.
The pruned list is shipped in the package (`complaints/classifier/data/dict.txt`); a test checks that it is what
this function makes from the pinned jieba release.
"""

from __future__ import annotations

from pathlib import Path

MIN_FREQ = 10


def jieba_dictionary() -> Path:
    import jieba

    return Path(jieba.__file__).with_name("dict.txt")


def pruned_dictionary(min_freq: int = MIN_FREQ) -> str:
    kept = []
    for line in jieba_dictionary().read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and int(parts[1]) >= min_freq:
            kept.append(" ".join(parts[:2]))
    return "\n".join(kept) + "\n"
