"""Mixed concurrent load through the document layer, then a check that nothing acknowledged was lost.

    python benchmarks/load.py                      # 20 s, 4 threads + 8 asyncio tasks
    python benchmarks/load.py --seconds 60 --threads 8 --tasks 32 --data-dir ./lite-load-data

Starts a separate ``scintirete-lite`` process on loopback (in memory unless ``--data-dir``), then
runs N threads (sharing one blocking ``DocumentCollection``) and M asyncio tasks (sharing its async
twin, as a LangChain store's sync and async methods do) that upsert, delete and search one
collection until the time is up. With ``--independent-views`` the tasks get a collection object of
their own instead (another client, another view), as a second process would; compaction stays
on in both modes (a rebuild takes a lock on the server and is safe beside other writers). Each worker owns its own string ids, so the last acknowledged
operation on an id says what the collection must hold; a failed call leaves its ids uncertain
(either outcome is accepted). Every filtered search is checked against the worker's own ledger
(read-your-writes). At the end a fresh client scans the collection and compares.

Prints machine, commit, ops/s and p50/p99 latency per operation, and any mismatch; exits 1 if the
collection does not hold what the acknowledged operations imply. ``run_load`` is the same
machinery for tests (tests/integration/test_load.py runs it briefly and checks correctness only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scintirete_integrations import (
    AsyncDocumentCollection,
    AsyncScintireteClient,
    DocumentCollection,
    Record,
    ScintireteClient,
    ScintireteError,
    UnavailableError,
)

DB = "load"
COLLECTION = "mixed"
DIM = 32
OPS = ("upsert", "delete", "search")
WEIGHTS = (0.5, 0.15, 0.35)

#: An id's expected state: ("live", version), ("gone", 0), or ("unsure", 0) after a failed call.
State = tuple[str, int]


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPS, 0))
    violations: list[str] = field(default_factory=list)  # read-your-writes failures seen by searches
    failures: dict[str, int] = field(default_factory=dict)  # error messages, counted

    def merge(self, other: Stats) -> None:
        for op in OPS:
            self.latencies[op] += other.latencies[op]
            self.errors[op] += other.errors[op]
        self.violations += other.violations
        for message, count in other.failures.items():
            self.failures[message] = self.failures.get(message, 0) + count


@dataclass
class Report:
    seconds: float
    stats: Stats
    expected_live: int
    found: int
    mismatches: list[str]
    compactions: int

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.stats.violations

    def lines(self) -> list[str]:
        total = sum(len(v) for v in self.stats.latencies.values())
        out = [f"{total} operations in {self.seconds:.1f} s: {total / self.seconds:.0f} ops/s"]
        for op in OPS:
            values = np.asarray(self.stats.latencies[op]) * 1000
            if len(values):
                p50, p99 = np.percentile(values, [50, 99])
                out.append(
                    f"  {op:<7} {len(values):>7} ops {len(values) / self.seconds:>8.0f} ops/s   "
                    f"p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   errors {self.stats.errors[op]}"
                )
        out += [f"  {count:>5} x {message}" for message, count in sorted(self.stats.failures.items())]
        out.append(
            f"  compactions {self.compactions}; live records {self.found} (expected {self.expected_live})"
        )
        verdict = "OK: the collection holds exactly what the acknowledged operations imply"
        if not self.ok:
            verdict = f"MISMATCH: {len(self.mismatches)} ids wrong, {len(self.stats.violations)} stale reads"
        out.append(verdict)
        out += [f"    {line}" for line in (self.mismatches + self.stats.violations)[:20]]
        return out


class Worker:
    """One thread or task: owns ``ids`` string ids and keeps the ledger of its acknowledged operations."""

    def __init__(self, name: str, ids: int, seed: int) -> None:
        self.name = name
        self.ids = [f"{name}-{i}" for i in range(ids)]
        self.ledger: dict[str, State] = {}
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.version = 0
        self.stats = Stats()

    def backoff(self) -> float:
        """A short random pause after UnavailableError ("try again")."""
        return self.rng.uniform(0.005, 0.03)

    def next_op(self) -> str:
        return self.rng.choices(OPS, WEIGHTS)[0]

    def upserts(self) -> list[Record]:
        chosen = self.rng.sample(self.ids, self.rng.randint(1, 3))
        vectors = self.np_rng.standard_normal((len(chosen), DIM)).astype(np.float32)
        records = []
        for sid, vector in zip(chosen, vectors, strict=True):
            self.version += 1
            metadata = {"w": self.name, "v": self.version, "tag": self.rng.choice(["a", "b", "c"])}
            records.append(Record(sid, f"{sid} version {self.version}", vector, metadata))
        return records

    def deletes(self) -> list[str]:
        return self.rng.sample(self.ids, self.rng.randint(1, 2))

    def query(self) -> np.ndarray:
        return self.np_rng.standard_normal(DIM).astype(np.float32)

    def settle(self, op: str, outcome: Any, started: float, arg: Any) -> None:
        """Book an acknowledged (or failed) operation."""
        self.stats.latencies[op].append(time.perf_counter() - started)
        if isinstance(outcome, BaseException):
            self.stats.errors[op] += 1
            message = f"{op}: {type(outcome).__name__}: {outcome}"[:160]
            self.stats.failures[message] = self.stats.failures.get(message, 0) + 1
            if op != "search":
                for sid in [r.id for r in arg] if op == "upsert" else arg:
                    self.ledger[sid] = ("unsure", 0)
            return
        if op == "upsert":
            for record in arg:
                self.ledger[record.id] = ("live", int(record.metadata["v"]))
        elif op == "delete":
            for sid in arg:
                self.ledger[sid] = ("gone", 0)
        else:
            self.check_hits(outcome)

    def check_hits(self, hits: list[Any]) -> None:
        """A search filtered to this worker's ids must show exactly its latest acknowledged versions."""
        for hit in hits:
            record = hit.record
            state = self.ledger.get(record.id, ("gone", 0))
            if state[0] == "unsure":
                continue
            if state != ("live", record.metadata.get("v")) or record.metadata.get("w") != self.name:
                self.stats.violations.append(
                    f"search by {self.name} saw {record.id} v{record.metadata.get('v')}, expected {state}"
                )


def run_threads(docs: DocumentCollection, workers: list[Worker], deadline: float) -> None:
    def loop(worker: Worker) -> None:
        while time.monotonic() < deadline:
            op = worker.next_op()
            arg: Any = worker.upserts() if op == "upsert" else worker.deletes() if op == "delete" else None
            started = time.perf_counter()
            try:
                if op == "upsert":
                    outcome: Any = docs.upsert(arg)
                elif op == "delete":
                    outcome = docs.delete(arg)
                else:
                    outcome = docs.search(worker.query(), 5, filter={"w": worker.name})
            except ScintireteError as exc:
                outcome = exc
            worker.settle(op, outcome, started, arg)
            if isinstance(outcome, UnavailableError):
                time.sleep(worker.backoff())  # as a sane caller would, instead of spinning

    threads = [threading.Thread(target=loop, args=(w,), name=w.name) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


async def run_tasks(docs: AsyncDocumentCollection, workers: list[Worker], deadline: float) -> None:
    async def loop(worker: Worker) -> None:
        while time.monotonic() < deadline:
            op = worker.next_op()
            arg: Any = worker.upserts() if op == "upsert" else worker.deletes() if op == "delete" else None
            started = time.perf_counter()
            try:
                if op == "upsert":
                    outcome: Any = await docs.upsert(arg)
                elif op == "delete":
                    outcome = await docs.delete(arg)
                else:
                    outcome = await docs.search(worker.query(), 5, filter={"w": worker.name})
            except ScintireteError as exc:
                outcome = exc
            worker.settle(op, outcome, started, arg)
            if isinstance(outcome, UnavailableError):
                await asyncio.sleep(worker.backoff())

    await asyncio.gather(*(loop(w) for w in workers))


def verify(address: str, password: str, workers: list[Worker]) -> tuple[int, int, list[str]]:
    """Scan with a fresh client (no cached view) and compare with every worker's ledger."""
    with ScintireteClient(address, password=password, timeout=60) as client:
        stored = {r.id: r for r in DocumentCollection(COLLECTION, client, db=DB, metric="l2").scan()}
    found = len(stored)
    mismatches = []
    expected_live = 0
    for worker in workers:
        for sid in worker.ids:
            kind, version = worker.ledger.get(sid, ("gone", 0))
            record = stored.pop(sid, None)
            if kind == "unsure":
                continue
            if kind == "live":
                expected_live += 1
                if record is None:
                    mismatches.append(f"{sid}: acknowledged v{version} is missing")
                elif record.metadata.get("v") != version or record.text != f"{sid} version {version}":
                    mismatches.append(f"{sid}: holds v{record.metadata.get('v')}, acknowledged v{version}")
            elif record is not None:
                mismatches.append(f"{sid}: deleted (or never written) but holds v{record.metadata.get('v')}")
    mismatches += [f"{sid}: not written by any worker" for sid in stored]
    return expected_live, found, mismatches


def run_load(
    address: str,
    password: str,
    *,
    seconds: float = 20.0,
    threads: int = 4,
    tasks: int = 8,
    ids_per_worker: int = 50,
    compact_min_hidden: int = 1000,
    independent_views: bool = False,
    seed: int = 0,
) -> Report:
    """Run the mixed load against a server and check the result (see the module docstring)."""
    sync_client = ScintireteClient(address, password=password, timeout=60)
    async_client = AsyncScintireteClient(address, password=password, timeout=60)
    options: dict[str, Any] = {
        "db": DB,
        "metric": "l2",
        "auto_compact": compact_min_hidden > 0,
        "compact_min_hidden": compact_min_hidden,
    }
    docs = DocumentCollection(COLLECTION, sync_client, **options)
    if independent_views:
        adocs = AsyncDocumentCollection(COLLECTION, async_client, **options)
    else:
        adocs = docs.async_twin(async_client)
    docs.drop()
    docs.ensure(DIM)
    thread_workers = [Worker(f"t{i}", ids_per_worker, seed * 1000 + i) for i in range(threads)]
    task_workers = [Worker(f"a{i}", ids_per_worker, seed * 1000 + 500 + i) for i in range(tasks)]
    started = time.monotonic()
    deadline = started + seconds
    runner = threading.Thread(target=run_threads, args=(docs, thread_workers, deadline))
    runner.start()
    asyncio.run(_run_tasks_then_close(adocs, async_client, task_workers, deadline))
    runner.join()
    elapsed = time.monotonic() - started
    sync_client.close()
    workers = thread_workers + task_workers
    stats = Stats()
    for worker in workers:
        stats.merge(worker.stats)
    expected_live, found, mismatches = verify(address, password, workers)
    compactions = max(docs._core.view.switches, adocs._core.view.switches)  # rebuilds seen, in journal order
    return Report(elapsed, stats, expected_live, found, mismatches, compactions)


async def _run_tasks_then_close(
    adocs: AsyncDocumentCollection, client: AsyncScintireteClient, workers: list[Worker], deadline: float
) -> None:
    try:
        await run_tasks(adocs, workers, deadline)
    finally:
        await client.close()


@contextlib.contextmanager
def lite_process(data_dir: str | None = None) -> Iterator[tuple[str, str]]:
    """A separate ``scintirete-lite`` on a free loopback port; yields (address, password)."""
    password = secrets.token_urlsafe(16)
    command = [sys.executable, "-m", "scintirete_integrations.lite", "--port", "0", "--log-level", "WARNING"]
    if data_dir:
        command += ["--data-dir", data_dir]
    env = {**os.environ, "SCINTIRETE_PASSWORD": password, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"scintirete-lite did not start: {line!r}")
        yield line.strip().rsplit(" ", 1)[-1], password
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _machine() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"commit {commit}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to run (default 20)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads (default 4)")
    parser.add_argument("--tasks", type=int, default=8, help="asyncio tasks (default 8)")
    parser.add_argument("--ids", type=int, default=50, help="string ids owned by each worker (default 50)")
    parser.add_argument(
        "--compact-min-hidden", type=int, default=1000, help="the layer's compaction threshold; 0: off"
    )
    parser.add_argument(
        "--independent-views", action="store_true", help="tasks use their own collection object and client"
    )
    parser.add_argument("--data-dir", help="persist the Lite server here (default: in memory)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(_machine())
    print(
        f"{args.threads} threads + {args.tasks} asyncio tasks "
        f"({'independent views' if args.independent_views else 'one shared view'}), {args.ids} ids each, dim {DIM}, "
        f"ops {dict(zip(OPS, WEIGHTS, strict=True))}, {args.seconds:g} s"
    )
    with lite_process(args.data_dir) as (address, password):
        report = run_load(
            address,
            password,
            seconds=args.seconds,
            threads=args.threads,
            tasks=args.tasks,
            ids_per_worker=args.ids,
            compact_min_hidden=args.compact_min_hidden,
            independent_views=args.independent_views,
            seed=args.seed,
        )
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
