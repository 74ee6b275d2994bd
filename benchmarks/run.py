"""Scintirete's LangChain store against its peers on one synthetic corpus; one command, one report.

    .venv-bench/bin/python benchmarks/run.py --n 20000
    .venv-bench/bin/python benchmarks/run.py --n 100000

Each store is measured in a fresh child process (this script with ``--worker``), so peak RSS is
attributable and one peer's failure is reported without stopping the others. Results merge into
benchmarks/results/latest.json (keyed by N) and are rendered to latest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import corpus as corpus_module
import report
from measure import measure, summary
from stores import FACTORIES, OURS, Skipped

RESULTS = Path(__file__).resolve().parent / "results"


def worker(name: str, n: int, budget: float, result_path: str) -> int:
    """Measure one store and write its JSON; errors are results too."""
    try:
        data = corpus_module.build(n)
        result: dict[str, Any] = measure(name, FACTORIES[name], data, budget, name in OURS)
    except Skipped as exc:
        result = {"skipped": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}".strip()[:500]}
    Path(result_path).write_text(json.dumps(result))
    return 0


def run_store(name: str, n: int, budget: float, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--worker", name, "--n", str(n), "--budget", str(budget)]
        started = time.perf_counter()
        try:
            code = subprocess.run([*command, "--result", str(out)], timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return {"error": f"did not finish within {timeout:.0f} s"}
        if not out.exists():
            return {"error": f"worker exited with code {code} and no result"}
        result: dict[str, Any] = json.loads(out.read_text())
        result["wall_s"] = time.perf_counter() - started
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="documents (default: 20000)")
    parser.add_argument("--stores", help=f"comma-separated subset of: {', '.join(FACTORIES)}")
    parser.add_argument("--budget", type=float, help="seconds per query phase (default: 30, 45 at 100k+)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave results/ alone")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    budget = args.budget or (45.0 if args.n >= 100_000 else 30.0)
    if args.worker:
        return worker(args.worker, args.n, budget, args.result)

    names = args.stores.split(",") if args.stores else list(FACTORIES)
    unknown = set(names) - set(FACTORIES)
    if unknown:
        parser.error(f"unknown stores: {', '.join(sorted(unknown))}")
    run = report.environment()
    run.update(n=args.n, budget_s=budget, started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print(f"load average at start: {run['load_start']}", flush=True)
    data = corpus_module.build(args.n)
    run["numpy_exact"] = summary(corpus_module.numpy_exact_ms(data))
    del data
    stores: dict[str, Any] = {}
    for name in names:
        print(f"== {name}", flush=True)
        stores[name] = run_store(name, args.n, budget, timeout=3600)
        print(report.one_line(name, stores[name]), flush=True)
    run["stores"] = stores
    run["load_end"] = [round(x, 2) for x in os.getloadavg()]
    run["targets"] = report.targets(run)
    print()
    print(report.markdown(run))
    if not args.no_save:
        report.save(RESULTS, str(args.n), run, report.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
