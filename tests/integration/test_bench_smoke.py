"""The benchmark (``python -m bench``) still runs end to end: every workload at tiny scale (P11 and P12 on the local
PostgreSQL too), no timing judged."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = sorted(f"P{n}" for n in range(1, 13))


@pytest.mark.timeout(900)
def test_every_workload_completes_and_prints_a_figure() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"], cwd=ROOT, capture_output=True, text=True, timeout=850, check=False
    )
    assert done.returncode == 0, f"python -m bench --smoke exited {done.returncode}:\n{done.stderr[-4000:]}"
    rows = {cells[0]: cells for cells in _table_rows(done.stdout)}
    assert sorted(rows) == WORKLOADS, done.stdout
    for workload, cells in rows.items():
        assert re.search(r"\d", cells[2]), f"{workload} has no batchops figure: {cells}"
        assert cells[6] == "n/a (smoke)", f"{workload}: a smoke run judges no target: {cells}"
    for peered in ("P1", "P2", "P3", "P4", "P8", "P9", "P10", "P11", "P12"):
        assert re.search(r"\d", rows[peered][3]) and re.search(r"\d", rows[peered][4]), rows[peered]
    for operation in ("copy", "tag", "delete"):
        assert f"store ceiling for {operation}:" in done.stdout, done.stdout
    capacity = r"control plane: PostgreSQL records [\d,]+ outcomes/s; .* serves ≈ [\d.]+ such workers"
    assert re.search(capacity, done.stdout), done.stdout


def _table_rows(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if re.match(r"\| P\d+ ", line)]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
