"""`make bench`: run every benchmark, print their figures, and end with one JSON object holding all of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_classify.py",
    "bench_routing.py",
    "bench_photos.py",
    "bench_privacy.py",
    "bench_answer_loop.py",
    "bench_wechat.py",
    "bench_board.py",
    "bench_web.py",
)


def main() -> int:
    figures: dict = {}
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            continue
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        if proc.stderr.strip():
            print(proc.stderr.strip(), file=sys.stderr)
        if proc.returncode != 0 or not lines:
            print(f"{name} failed (exit {proc.returncode})", file=sys.stderr)
            return 1
        figures |= json.loads(lines[-1])
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
