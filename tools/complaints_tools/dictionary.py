"""The tokenizer's word list: jieba's own dictionary without its rarest words.

jieba's full dictionary (349k words) takes 0.9 s to load from text and 1.3 s from its marshal cache, most of a
Lambda cold start. Words seen fewer than MIN_FREQ times in jieba's source corpus are almost never the word a
complaint is about, and character n-grams carry them anyway; without them the list loads in about 0.25 s.
The pruned list is shipped in the package (`complaints/classifier/data/dict.txt`); a test checks that it is what
this function makes from the pinned jieba release. Next to it, `prefixes.txt` holds what the tokenizer would
otherwise derive from it at every cold start: each proper prefix of a word that is not a word itself
(complaints.classifier.segmenter); a test checks it against dict.txt.
`python -m complaints_tools.dictionary` writes both.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "src" / "complaints" / "classifier" / "data"

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


def prefixes(dictionary: str) -> str:
    """prefixes.txt for a dict.txt text: every proper prefix of its words that is no word, sorted, one a line."""
    words = {line.split(" ")[0] for line in dictionary.splitlines() if line}
    found = {w[:i] for w in words for i in range(1, len(w))} - words
    return "".join(p + "\n" for p in sorted(found))


def main() -> None:
    """Write dict.txt (from the installed jieba) and prefixes.txt into the package's data folder."""
    text = pruned_dictionary()
    (DATA / "dict.txt").write_text(text, encoding="utf-8")
    (DATA / "prefixes.txt").write_text(prefixes(text), encoding="utf-8")


if __name__ == "__main__":
    main()
