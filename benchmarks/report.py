"""Environment capture, the issue's targets (PASS/MISS), and the markdown/JSON written to results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

PACKAGES = [
    "scintirete-integrations",
    "langchain-core",
    "langchain-community",
    "faiss-cpu",
    "langchain-chroma",
    "chromadb",
    "langchain-qdrant",
    "qdrant-client",
    "numpy",
    "grpcio",
    "protobuf",
]
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
OURS = "scintirete-lite"
OURS_PROCESS = "scintirete-lite-process"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
        },
        "commit": _git("rev-parse", "--short", "HEAD"),
        "worktree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "versions": {package: _version(package) for package in PACKAGES},
        "load_start": [round(x, 2) for x in os.getloadavg()],
        # numpy's BLAS threads matter for every exact search here (ours, numpy, FAISS flat).
        "thread_env": {key: os.environ[key] for key in _THREAD_ENV if key in os.environ},
    }


# -- targets -----------------------------------------------------------------------------------------


def _get(run: dict[str, Any], store: str, *path: str) -> float | None:
    value: Any = run["stores"].get(store, {})
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def _target(
    name: str, measured: float | None, check: Callable[[float], bool], shown: Callable[[float], str]
) -> dict[str, Any]:
    if measured is None:
        return {"target": name, "measured": "n/a (a store did not run)", "result": "n/a"}
    return {"target": name, "measured": shown(measured), "result": "PASS" if check(measured) else "MISS"}


def _filtered_target(recall: float | None, min_hits: float | None) -> dict[str, Any]:
    name = "filtered recall@10 = 1.0 with k results every time"
    if recall is None or min_hits is None:
        return {"target": name, "measured": "n/a (a store did not run)", "result": "n/a"}
    passed = recall == 1.0 and min_hits == 10
    measured = f"recall {recall:.3f}, fewest hits {min_hits:.0f}"
    return {"target": name, "measured": measured, "result": "PASS" if passed else "MISS"}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each a ratio within this run."""
    qdrant, chroma = "qdrant-local", "chroma"
    ours_p50 = _get(run, OURS, "search", "p50_ms")
    # numpy measured in our store's process, just before its queries; else the run's own measurement
    numpy_p50 = _get(run, OURS, "numpy_exact", "p50_ms") or float(run["numpy_exact"]["p50_ms"])
    filtered_recall = _get(run, OURS, "filtered", "recall_at_10")
    min_hits = _get(run, OURS, "filtered", "min_hits")
    times = lambda x: f"{x:.2f}x"  # noqa: E731
    out = [
        _target(
            "ingest >= 2x langchain-qdrant local",
            _ratio(_get(run, OURS, "ingest", "docs_per_s"), _get(run, qdrant, "ingest", "docs_per_s")),
            lambda r: r >= 2,
            times,
        ),
        _target(
            "ingest >= 10x Chroma",
            _ratio(_get(run, OURS, "ingest", "docs_per_s"), _get(run, chroma, "ingest", "docs_per_s")),
            lambda r: r >= 10,
            times,
        ),
        _target(
            "query p50 <= Chroma's",
            _ratio(ours_p50, _get(run, chroma, "search", "p50_ms")),
            lambda r: r <= 1,
            times,
        ),
        _target(
            f"query p50 <= 3x bare numpy exact ({numpy_p50:.2f} ms)",
            _ratio(ours_p50, numpy_p50),
            lambda r: r <= 3,
            times,
        ),
        _target(
            "recall@10 = 1.0",
            _get(run, OURS, "search", "recall_at_10"),
            lambda r: r == 1.0,
            lambda r: f"{r:.3f}",
        ),
        _filtered_target(filtered_recall, min_hits),
        _target(
            "filtered p50 <= 2x our unfiltered p50",
            _ratio(_get(run, OURS, "filtered", "p50_ms"), ours_p50),
            lambda r: r <= 2,
            times,
        ),
        _target(
            "adapter overhead <= 15% over the raw client",
            _get(run, OURS, "adapter", "overhead"),
            lambda r: r <= 0.15,
            lambda r: f"{r:+.1%}",
        ),
        _target(
            "async 32 in flight >= 4x sequential q/s (separate Lite process)",
            _ratio(_get(run, OURS_PROCESS, "async", "qps_32"), _get(run, OURS_PROCESS, "async", "qps_1")),
            lambda r: r >= 4,
            times,
        ),
    ]
    if run["n"] >= 100_000:
        limit = 1.5 * numpy_p50 + 2.0
        out.append(
            _target(
                f"query p50 <= 1.5x bare numpy + 2 ms (= {limit:.2f} ms)",
                ours_p50,
                lambda p: p <= limit,
                lambda p: f"{p:.2f} ms",
            )
        )
        for op, label in (("upsert_1000_ms", "upsert"), ("get_1000_ms", "get"), ("delete_1000_ms", "delete")):
            out.append(
                _target(
                    f"{label} of 1,000 ids within 3x langchain-qdrant local",
                    _ratio(_get(run, OURS, "ops", op), _get(run, qdrant, "ops", op)),
                    lambda r: r <= 3,
                    times,
                )
            )
    return out


# -- rendering ---------------------------------------------------------------------------------------


def one_line(name: str, result: dict[str, Any]) -> str:
    if "error" in result or "skipped" in result:
        return f"   {name}: {result.get('error') or 'skipped: ' + result['skipped']}"
    search, filtered = result["search"], result["filtered"]
    return (
        f"   {name}: ingest {result['ingest']['docs_per_s']:,.0f} docs/s, query p50 {search['p50_ms']:.2f} ms "
        f"recall {search['recall_at_10']:.3f}, filtered p50 {filtered['p50_ms']:.2f} ms "
        f"recall {filtered['recall_at_10']:.3f}, {result['wall_s']:.0f} s"
    )


def _rss(result: dict[str, Any]) -> str:
    peak = result["peak_rss_mb"] + result.get("server_peak_rss_mb", 0.0)
    text = f"{peak:,.0f} (+{peak - result['baseline_rss_mb']:,.0f})"
    return text + "*" if "server_peak_rss_mb" in result else text


def markdown(run: dict[str, Any]) -> str:
    machine = run["machine"]
    lines = [
        f"## {run['n']:,} documents x 384 dims",
        "",
        f"{run['date']}, {machine['cpu']} ({machine['cores']} cores, {machine['memory_gb']} GB), "
        f"{machine['os']}, Python {machine['python']}; commit {run['commit']}"
        f"{' (+ uncommitted changes)' if run.get('worktree_dirty') else ''}; "
        f"load average (1/5/15 min) {run['load_start']} at start, {run.get('load_end')} at end"
        f"{'; ' + str(run['thread_env']) if run.get('thread_env') else ''}.",
        f"Command: `.venv-bench/bin/python benchmarks/run.py --n {run['n']}`",
        "",
        "| store | ingest docs/s | query p50 / p95 ms | recall@10 | filtered p50 / p95 ms | filtered recall@10 "
        "| filtered hits mean (min) | get 100 ms | upsert 1k ms | delete 1k ms | query p50 after writes ms "
        "| peak RSS MB (+delta) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    numpy_exact = run["numpy_exact"]
    lines.append(
        f"| bare numpy exact | - | {numpy_exact['p50_ms']:.2f} / {numpy_exact['p95_ms']:.2f} | 1.000 "
        "| - | - | - | - | - | - | - | - |"
    )
    notes: list[str] = []
    for name, result in run["stores"].items():
        if "error" in result or "skipped" in result:
            why = f"FAILED: {result['error']}" if "error" in result else f"skipped: {result['skipped']}"
            lines.append(f"| {name} | {why} |" + " |" * 11)
            continue
        s, f, ops, after = result["search"], result["filtered"], result["ops"], result["search_after_writes"]
        lines.append(
            f"| {name} | {result['ingest']['docs_per_s']:,.0f} | {s['p50_ms']:.2f} / {s['p95_ms']:.2f} "
            f"| {s['recall_at_10']:.3f} | {f['p50_ms']:.2f} / {f['p95_ms']:.2f} | {f['recall_at_10']:.3f} "
            f"| {f['mean_hits']:.1f} ({f['min_hits']}) | {ops['get_100_ms']:.2f} | {ops['upsert_1000_ms']:.1f} "
            f"| {ops['delete_1000_ms']:.1f} | {after['p50_ms']:.2f} | {_rss(result)} |"
        )
        for phase in ("search", "filtered"):
            if result[phase]["queries"] < 200:
                notes.append(
                    f"{name}: {phase} stopped after {result[phase]['queries']} of 200 queries "
                    f"(the {run['budget_s']:.0f} s phase budget)"
                )
        notes += [f"{name}: {note}" for note in result.get("notes", [])]
    lines += ["", _ours_table(run), "", "| target | measured | result |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {t['result']} |" for t in run["targets"]]
    lines += [
        "",
        "Query: similarity_search_with_score(k=10), text -> precomputed vector by lookup. Filtered: "
        'metadata group == "g3" (10% of documents) in each store\'s native filter. Ingest: add_texts with ids, '
        "256 per call. get/upsert/delete: medians of 5/3/3 rounds on distinct ids. "
        "\\* peak RSS of the client process plus the server process.",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def _ours_table(run: dict[str, Any]) -> str:
    rows = [
        "| ours | raw client search p50 ms | store similarity_search p50 ms | overhead "
        "| async q/s 1 / 8 / 32 in flight | CPU ms per query (client + server), sequential |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, result in run["stores"].items():
        adapter = result.get("adapter")
        if adapter is None:
            continue
        flight = result.get("async")
        if flight and "error" in flight:
            qps, cpu = f"FAILED: {flight['error']}", "-"
        else:
            qps = " / ".join(f"{flight[f'qps_{n}']:.0f}" for n in (1, 8, 32)) if flight else "-"
            cpu = f"{flight['cpu_ms_per_query_1']:.2f}" if flight else "-"
        rows.append(
            f"| {name} | {adapter['raw_p50_ms']:.2f} | {adapter['store_p50_ms']:.2f} "
            f"| {adapter['overhead']:+.1%} | {qps} | {cpu} |"
        )
    return "\n".join(rows)


def save(directory: Path, key: str, section: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> None:
    """Merge ``section`` into latest.json under ``key`` and re-render latest.md from every section."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "latest.json"
    everything: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    everything[key] = {"markdown": render(section), **section}
    path.write_text(json.dumps(everything, indent=1, sort_keys=True) + "\n")
    parts = ["# Benchmark results", ""]
    for name in sorted(everything, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)):
        parts += [everything[name]["markdown"], ""]
    (directory / "latest.md").write_text("\n".join(parts))
