"""Classifier benchmark: quality on real messages, cold start, warm prediction and package size.

Every speed figure is measured side by side with a baseline in the same run — the same fitted model as a
scikit-learn pipeline loaded with joblib — and printed as a ratio. The tokenizer is also measured against the
one it replaced: the same runtime with jieba's own cut (complaints_tools.reference_analyzer), for the analyzer
alone, the whole prediction and the cold start, interleaved message by message (and process by process) so that
both see the same machine load. Quality uses ../shared/data/gov-messages
(train on train.csv, evaluate on test.csv and on zhejiang.csv's labelled rows); without it the timings use a
model trained on the bootstrap corpus and the quality figures are null. The last line is one JSON object.

    .venv/bin/python bench/bench_classify.py [--data DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gov-messages"
LAMBDA_LIMIT_MB = 250
# What `sam build` makes for the classify function: its code and the layers it runs with.
CLASSIFY_PARTS = ("ClassifyFunction", "SharedLayer", "CityLayer", "ModelLayer")
FIRST = "瑞安市上望街道薛里村有人焚烧垃圾，黑烟很大"

RUNTIME_COLD = """
from complaints.classifier.model import TextClassifier
TextClassifier.load({model!r}).predict({text!r})
"""
# The runtime as it was: jieba's cut (imported, its prefix dictionary derived) in place of the segmenter.
JIEBA_COLD = """
from complaints.classifier import model
from complaints_tools.reference_analyzer import JiebaAnalyzer
model.Analyzer = JiebaAnalyzer
model.TextClassifier.load({model!r}).predict({text!r})
"""
SKLEARN_COLD = """
import joblib
joblib.load({pipeline!r}).predict_proba([{text!r}])
"""


def cold_start(code: str, repeat: int) -> float:
    """Median wall time of a fresh interpreter running `code` (imports, tokenizer, model load, one prediction)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_starts(codes: list[str], repeat: int) -> list[float]:
    """Median wall time of a fresh interpreter running each of `codes`, the codes taking turns."""
    times: list[list[float]] = [[] for _ in codes]
    for _ in range(repeat):
        for code, out in zip(codes, times, strict=True):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            out.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def paired(fns, texts: list[str]) -> list[list[float]]:
    """Seconds per message for each of `fns`, taking turns on each message (a pass first, to warm caches)."""
    for fn in fns:
        for t in texts[:50]:
            fn(t)
    out: list[list[float]] = [[] for _ in fns]
    for t in texts:
        for fn, times in zip(fns, out, strict=True):
            start = time.perf_counter()
            fn(t)
            times.append(time.perf_counter() - start)
    return out


def median_p95_ms(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1e3


def per_message(fn, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        start = time.perf_counter()
        fn(t)
        out.append(time.perf_counter() - start)
    return out


def package_mb() -> float | None:
    """Unzipped size of what Lambda gets for classify: its code and every layer it runs with.

    `sam build` copies the function and the layers it builds into .aws-sam/build; layers without a build
    method (the city file, the model) are zipped from their ContentUri as they are.
    """
    from complaints_tools.local.template import load_template

    tpl = load_template(ROOT / "template.yaml")
    build = ROOT / ".aws-sam" / "build"
    folders = []
    for part in CLASSIFY_PARTS:
        props = tpl["Resources"][part]["Properties"]
        built = build / part
        if built.is_dir():
            folders.append(built)
        elif "BuildMethod" not in tpl["Resources"][part].get("Metadata", {}) and "ContentUri" in props:
            folders.append(ROOT / props["ContentUri"])
        else:
            return None  # not built yet
    return sum(f.stat().st_size for d in folders for f in d.rglob("*") if f.is_file()) / 1e6


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per cold-start figure")
    args = parser.parse_args()

    import joblib

    from complaints.city import load_city
    from complaints.classifier.model import TextClassifier
    from complaints_tools import evaluate, training
    from complaints_tools.bootstrap import Place, generate
    from complaints_tools.reference_analyzer import JiebaAnalyzer

    city = load_city(ROOT / "city" / "ruian.toml")
    data = Path(args.data)
    figures: dict[str, float | None] = dict.fromkeys(("macro_f1", "precision_at_coverage_0_7", "zhejiang_accuracy"))
    if (data / "train.csv").exists():
        texts, labels = training.read_labelled(data / "train.csv")
        test_texts, test_labels = training.read_labelled(data / "test.csv")
        source = f"{data / 'train.csv'} ({len(texts)} rows)"
    else:
        print(f"quality: skipped, {data} is absent; timings use the bootstrap corpus", file=sys.stderr)
        places = [Place(d.name, d.short, tuple(d.communities)) for d in city.districts]
        texts, labels = map(list, zip(*generate(places, per_category=200, seed=1), strict=True))
        test_texts, test_labels = map(list, zip(*generate(places, per_category=50, seed=2), strict=True))
        source = f"the bootstrap corpus ({len(texts)} rows)"

    start = time.perf_counter()
    result = training.fit(texts, labels, user_words=city.tokenizer_words(), data_sha256="bench", progress=False)
    print(f"trained on {source} in {time.perf_counter() - start:.1f} s: {result.describe()}")
    work = Path(tempfile.mkdtemp(prefix="bench-classify-"))
    training.save(result, work / "model", user_words=city.tokenizer_words(), data_name="train.csv")
    pipeline = training.sklearn_pipeline(result)
    joblib.dump(pipeline, work / "pipeline.joblib")
    runtime = TextClassifier.load(work / "model")

    if (data / "train.csv").exists():
        m = evaluate.metrics(evaluate.score(runtime, test_texts, test_labels), runtime.classes_)
        figures["macro_f1"] = m["macro_f1"]
        figures["precision_at_coverage_0_7"] = m["precision_at_coverage"]["0.7"]
        zj_texts, zj_labels = training.read_labelled(data / "zhejiang.csv")
        zj = evaluate.metrics(evaluate.score(runtime, zj_texts, zj_labels), runtime.classes_)
        figures["zhejiang_accuracy"] = zj["accuracy"]
        print(f"test.csv ({m['n']}): accuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}")
        print("  precision at coverage " + ", ".join(f"{c}: {p:.3f}" for c, p in m["precision_at_coverage"].items()))
        print(f"zhejiang.csv labelled rows ({zj['n']}, out of domain): accuracy {zj['accuracy']:.3f}")

    cold, cold_jieba = cold_starts(
        [c.format(model=str(work / "model"), text=FIRST) for c in (RUNTIME_COLD, JIEBA_COLD)], args.repeat
    )
    print(
        f"cold start (median of {args.repeat} fresh processes each, taking turns): runtime {cold:.3f} s, "
        f"with jieba's cut {cold_jieba:.3f} s — {cold_jieba / cold:.2f}x faster"
    )
    cold_sk = cold_start(SKLEARN_COLD.format(pipeline=str(work / "pipeline.joblib"), text=FIRST), args.repeat)
    print(
        f"cold start (median of {args.repeat} fresh processes): runtime {cold:.3f} s, scikit-learn + joblib "
        f"{cold_sk:.3f} s — {cold_sk / cold:.1f}x faster"
    )

    ours = per_message(runtime.predict, test_texts)
    theirs = per_message(lambda t: pipeline.predict_proba([t]), test_texts)
    warm, warm_sk = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    rate = len(ours) / sum(ours)
    print(
        f"warm prediction, median over {len(ours)} messages: runtime {warm:.3f} ms, scikit-learn {warm_sk:.3f} ms "
        f"— {warm_sk / warm:.1f}x faster; {rate:.0f} messages/s on one core"
    )

    jieba_runtime = TextClassifier.load(work / "model")
    jieba_runtime.analyzer = JiebaAnalyzer(runtime.analyzer.spec, runtime.analyzer.extra_words)
    an, an_jieba = paired([runtime.analyzer, jieba_runtime.analyzer], test_texts)
    pr, pr_jieba = paired([runtime.predict, jieba_runtime.predict], test_texts)
    tok = {
        "analyzer": median_p95_ms(an),
        "analyzer_jieba": median_p95_ms(an_jieba),
        "predict": median_p95_ms(pr),
        "predict_jieba": median_p95_ms(pr_jieba),
    }
    for what, key in (("analyzer alone", "analyzer"), ("whole prediction", "predict")):
        (med, p95), (med_j, p95_j) = tok[key], tok[key + "_jieba"]
        print(
            f"{what}, {len(test_texts)} messages taking turns: median {med:.3f} ms, p95 {p95:.3f} ms; with jieba's "
            f"cut {med_j:.3f} ms, {p95_j:.3f} ms — {med_j / med:.2f}x, {p95_j / p95:.2f}x faster"
        )

    size = package_mb()
    city_size = None
    if size is None:
        print("classify package: no `sam build` output in .aws-sam/build (make bench builds it)")
    else:
        print(f"classify package (sam build, unzipped: function + layers): {size:.1f} MB of {LAMBDA_LIMIT_MB} MB")
        # The same package carrying the model just trained instead of the bundled one.
        city_size = size - _folder_mb(ROOT / "models" / "ruian-default") + _folder_mb(work / "model")
        print(f"  with the model trained above instead of the bundled one: {city_size:.1f} MB")
    figures |= {
        "cold_start_s": cold,
        "cold_start_sklearn_s": cold_sk,
        "cold_start_jieba_s": cold_jieba,
        "analyzer_ms_median": tok["analyzer"][0],
        "analyzer_ms_p95": tok["analyzer"][1],
        "analyzer_ms_median_jieba": tok["analyzer_jieba"][0],
        "analyzer_ms_p95_jieba": tok["analyzer_jieba"][1],
        "predict_ms_median_paired": tok["predict"][0],
        "predict_ms_p95_paired": tok["predict"][1],
        "predict_ms_median_jieba": tok["predict_jieba"][0],
        "predict_ms_p95_jieba": tok["predict_jieba"][1],
        "warm_ms_median": warm,
        "warm_ms_median_sklearn": warm_sk,
        "messages_per_s": rate,
        "classify_package_mb": size,
        "classify_package_mb_trained_model": city_size,
        "features": len(runtime.index_),
    }
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
