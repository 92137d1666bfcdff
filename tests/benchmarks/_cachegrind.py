"""Event totals (instructions, simulated L1 misses) of a Python child process under valgrind's
cachegrind: the benchmarks' instruction counts, which do not depend on the machine's load."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def cachegrind_totals(
    script: str, args: Sequence[str], out: Path, env: Mapping[str, str], timeout: float
) -> dict[str, int]:
    """Runs ``python script *args`` under cachegrind and returns its ``summary:`` totals by event
    name (``Ir``, ``I1mr``, ``D1mr``, …)."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        f"--cachegrind-out-file={out}",
        sys.executable,
        script,
        *args,
    ]
    subprocess.run(command, check=True, capture_output=True, env=dict(env), timeout=timeout)
    events: list[str] = []
    totals: list[int] = []
    for line in out.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(n) for n in line.split()[1:]]
    return dict(zip(events, totals, strict=True))
