"""Hand-written out-of-core paths against Polars' streaming engine (issue 32).

For each path (batched reading, parts, packed words) and each case, runs in fresh
processes under ``/usr/bin/time -f "%e %M"``, alternately:

- (a) the retcalc command as it is (the hand-written path), and
- (b) the same command with the hand-written piece replaced by the plain Polars plan
  collected with ``engine="streaming"``,

and compares their standard outputs byte for byte. (b) needs a measurement switch,
``_RETCALC_PLAIN=batched|parts|words``, that is not in retcalc: apply
``bench/bench_streaming.patch`` to a scratch worktree first (``git apply``) and run
there; without it (b) runs (a) again and the script says so. The figures are in
bench/README.md.

- batched: ``load_orders`` (every column in memory) collected with the streaming engine,
  in place of :mod:`retcalc.io.batched` (both sides with ``RETCALC_POLARS_ENGINE=streaming``);
- parts: ``parts_for`` gives one part, collected with the streaming engine;
- words: ``sorted_days`` is ``unique().sort(customer_id, day)`` and churn's ``period_sums``
  one ``group_by`` and sort, both streaming; the customer keys leave no low bits free.

    .venv/bin/python bench/bench_streaming.py --data /tmp/bench10M --runs 3 --only words
    .venv/bin/python bench/bench_streaming.py --data /tmp/bench50M --runs 2

Prints one line per run and a summary (time and peak ranges per side, load average).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: name -> (path, command arguments after the data, extra environment of both sides,
#: the switch of the plain side). ``{data}`` is the orders' path.
CASES: dict[str, tuple[str, list[str], dict[str, str], str]] = {
    "batched-retention": ("batched", ["retention", "{data}"], {"streaming": "1"}, "batched"),
    "batched-churn": ("batched", ["churn", "{data}"], {"streaming": "1"}, "batched"),
    "parts-clv-historical": ("parts", ["clv", "{data}", "--model", "historical"], {}, "parts"),
    "parts-returns": ("parts", ["returns", "{data}", "--period", "month"], {}, "parts"),
    "words-retention": ("words", ["retention", "{data}"], {}, "words"),
    "words-churn": ("words", ["churn", "{data}"], {}, "words"),
}


def run(args: list[str], env: dict[str, str], out: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and the SHA-256 of standard output of one run."""
    with out.open("wb") as sink, tempfile.TemporaryFile() as err:
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "retcalc", *args],
            stdout=sink,
            stderr=err,
            env=env,
            check=False,
        )
        err.seek(0)
        text = err.read().decode(errors="replace").strip().splitlines()
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}:\n" + "\n".join(text[-15:]))
    wall, peak = text[-1].split()
    return float(wall), int(peak), hashlib.sha256(out.read_bytes()).hexdigest()


def _switch_present() -> bool:
    """Whether the retcalc imported has the ``_RETCALC_PLAIN`` switch (the patch)."""
    import retcalc.kernels.parts as parts

    return hasattr(parts, "_plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a bench/generate.py directory")
    parser.add_argument("--kind", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--runs", type=int, default=2, help="runs per side, alternated")
    parser.add_argument("--only", default="", help="comma-separated case names (prefixes)")
    parser.add_argument("--log", type=Path, help="append one JSON line per run here")
    opts = parser.parse_args()
    data = Path(opts.data) / ("parquet" if opts.kind == "parquet" else "orders.csv")
    wanted = [w for w in opts.only.split(",") if w]
    for name, (path, command, extra, switch) in CASES.items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        args = [a.format(data=data) for a in command] + ["--format", "csv"]
        base = dict(os.environ)
        base.pop("_RETCALC_PLAIN", None)
        if extra.get("streaming"):
            base["RETCALC_POLARS_ENGINE"] = "streaming"
        sides = {"hand": base, "plain": {**base, "_RETCALC_PLAIN": switch}}
        seen: dict[str, list[tuple[float, int]]] = {"hand": [], "plain": []}
        digests: dict[str, set[str]] = {"hand": set(), "plain": set()}
        loads = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(opts.runs):
                order = ("hand", "plain") if i % 2 == 0 else ("plain", "hand")
                for side in order:
                    load = os.getloadavg()[0]
                    loads.append(load)
                    wall, peak, digest = run(args, sides[side], Path(tmp) / f"{side}.csv")
                    seen[side].append((wall, peak))
                    digests[side].add(digest)
                    row = {
                        "case": name,
                        "data": str(data),
                        "side": side,
                        "run": i,
                        "seconds": wall,
                        "peak_mib": round(peak / 1024),
                        "load1": round(load, 2),
                        "sha256": digest[:16],
                        "at": time.strftime("%H:%M:%S"),
                    }
                    print(json.dumps(row), flush=True)
                    if opts.log:
                        with opts.log.open("a") as log:
                            log.write(json.dumps(row) + "\n")
        same = len(digests["hand"] | digests["plain"]) == 1
        if not _switch_present():
            print("== the measurement switch is missing: see the docstring", flush=True)
        summary = {
            side: (
                f"{min(w for w, _ in v):.2f}-{max(w for w, _ in v):.2f} s, "
                f"{min(p for _, p in v) / 1024:,.0f}-{max(p for _, p in v) / 1024:,.0f} MiB"
            )
            for side, v in seen.items()
        }
        print(
            f"== {name} ({path}) on {data}: hand {summary['hand']}; plain {summary['plain']}; "
            f"outputs {'identical' if same else 'DIFFER'}; "
            f"load {min(loads):.2f}-{max(loads):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
