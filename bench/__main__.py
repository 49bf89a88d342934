"""Side-by-side benchmark: batchops against s5cmd, a boto3 thread pool and ``wc -l``, on one SeaweedFS.

    python -m bench [--scale 1.0] [--only P1,P2] [--smoke] [--keep]

Prints one table (a batchops figure, the peer's figure on the same store in the same run, the ratio
batchops / peer, the target, and whether it was met) and, per store operation, the store's ceiling: the
best rate any client reached in this run, and batchops' share of it. Ratios, not absolute times, are the
point: the machines are noisy. ``--smoke`` runs every workload tiny and judges no target; it exits 0
when every workload completed and produced a figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    p1_copy,
    p2_tagging,
    p3_delete,
    p4_manifest,
    p5_create_to_active,
    p6_engine_overhead,
    p7_describe_latency,
    p8_small_jobs,
    p9_big_objects,
    p10_big_job,
    p11_scale_out,
    p12_control_plane,
)
from bench.harness import Bench, Row

WORKLOADS: dict[str, Callable[[Bench], Row]] = {
    module.ID: module.run
    for module in (
        p1_copy,
        p2_tagging,
        p3_delete,
        p4_manifest,
        p5_create_to_active,
        p6_engine_overhead,
        p8_small_jobs,  # before P7, which reads the latencies probed during P8
        p7_describe_latency,
        p9_big_objects,
        p10_big_job,
        p11_scale_out,
        p12_control_plane,
    )
}
HEADER = ("id", "workload", "batchops", "peer (same run, same store)", "ratio", "target", "met?")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's size (default 1.0)")
    parser.add_argument("--only", default="", help="comma-separated ids, e.g. P1,P2 (default: all)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no timing targets judged")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (server logs, data)")
    args = parser.parse_args(argv)
    wanted = [part.strip().upper() for part in args.only.split(",") if part.strip()] or list(WORKLOADS)
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        parser.error(f"--only: unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    args.wanted = wanted
    return args


def run_all(bench: Bench, wanted: list[str]) -> tuple[list[Row], bool]:
    rows, ok = [], True
    for id_ in wanted:
        started = time.perf_counter()
        print(f"running {id_} …", file=sys.stderr, flush=True)
        try:
            rows.append(WORKLOADS[id_](bench))
        except Exception:
            ok = False
            traceback.print_exc()
            rows.append(Row(id_, "(failed: see the error above)", "ERROR", "—", "—", "—", False))
        print(f"{id_} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return rows, ok


def table(rows: list[Row], smoke: bool) -> str:
    def met(row: Row) -> str:
        if row.met is None:
            return "n/a (smoke)" if smoke else "—"
        return "yes" if row.met else "NO"

    lines = [HEADER, tuple("---" for _ in HEADER)]
    ordered = sorted(rows, key=lambda r: int(r.id[1:]))
    lines += [(r.id, r.workload, r.ours, r.peer, r.ratio, r.target, met(r)) for r in ordered]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def ceilings(bench: Bench) -> str:
    lines = []
    for operation in dict.fromkeys(rate.operation for rate in bench.rates):
        rates = [rate for rate in bench.rates if rate.operation == operation]
        best = max(rates, key=lambda rate: rate.per_second)
        ours = max((r.per_second for r in rates if r.client == "batchops"), default=0.0)
        lines.append(
            f"store ceiling for {operation}: {best.per_second:,.0f} objects/s ({best.client}); "
            f"batchops {ours:,.0f} objects/s = {ours / best.per_second:.0%} of it"
        )
    return "\n".join(lines)


def depends_on() -> str:
    """What the figures depend on besides the load: the code, the CPU, the interpreter, the stores' versions."""
    def output(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except OSError:
            return "?"

    commit = output("git", "rev-parse", "--short", "HEAD") or "?"
    dirty = " (uncommitted changes)" if output("git", "status", "--porcelain", "--untracked-files=no") else ""
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    return (
        f"batchops {commit}{dirty}; CPU {cpu}; {sys.implementation.name} {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; weed {output(weed_binary(), 'version').split(chr(10))[0] or '?'}"
    )


def weed_binary() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    return str(beside_python) if beside_python.exists() else (shutil.which("weed") or "weed")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="batchops-bench-"))
    bench = Bench(work, scale=args.scale, smoke=args.smoke)
    load_before = os.getloadavg()
    try:
        bench.start()
        rows, ok = run_all(bench, args.wanted)
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    mode = "smoke (tiny, not timed)" if args.smoke else f"scale {args.scale:g}"
    print(f"\nbatchops benchmark, {mode}; {os.cpu_count()} cores; load average {load_before[0]:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end; ratio = batchops / peer (times) or batchops / floor (rates)\n")
    print(f"depends on: {depends_on()}\n")
    print(table(rows, args.smoke))
    print()
    print(ceilings(bench))
    if "capacity" in bench.shared:
        print(bench.shared["capacity"])
    if args.keep:
        print(f"\nwork directory kept: {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
