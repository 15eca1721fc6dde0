"""O(1) memory of the adjoint method: peak memory of one training step vs number of solver steps.

Each (steps, adjoint) point is measured by `python -m pyode.solver.memory_probe` in a process of
its own, so that allocator caches and earlier peaks never leak between measurements. Direct backprop
keeps every intermediate state of the rk4 steps, so its peak grows linearly with the number of
steps; the adjoint method recomputes states backwards and stays flat. The slope of a least-squares
line through (steps, peak bytes) summarises each mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pyode.atomic import write_csv
from pyode.experiments.common import (
    ExperimentError,
    Stopwatch,
    resolve_device,
    seed_everything,
    write_summary,
)

MODES = {"adjoint": 1, "backprop": 0}
PEAK_KEYS = ("peak_bytes", "peak_memory_bytes", "bytes")
REPO_ROOT = Path(__file__).resolve().parents[2]


def probe_command(steps: int, adjoint: bool, s: dict[str, Any], device: str) -> list[str]:
    return [
        sys.executable, "-m", "pyode.solver.memory_probe",
        "--steps", str(steps), "--adjoint", str(int(adjoint)),
        "--batch", str(s["batch"]), "--channels", str(s["channels"]), "--size", str(s["size"]),
        "--device", device,
    ]


def measure(steps: int, adjoint: bool, s: dict[str, Any], device: str) -> dict[str, Any]:
    """Run one probe process and return its JSON record."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    command = probe_command(steps, adjoint, s, device)
    # Started through a small shell that forks it (no exec in place): a process spawned directly
    # from this (large) one inherits its peak-RSS high-water mark, which would hide the probe's own
    # peak on CPU.
    via_shell = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *command]
    try:
        done = subprocess.run(via_shell, capture_output=True, text=True, env=env,
                              timeout=s["timeout"], check=False)
    except subprocess.TimeoutExpired:
        raise ExperimentError(f"memory probe timed out after {s['timeout']} s: "
                              f"{' '.join(command[1:])}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ExperimentError(f"memory probe failed (exit {done.returncode}): "
                              f"{' '.join(command[1:])}: {' | '.join(tail)}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise ExperimentError(
            f"memory probe printed no JSON record: {done.stdout[-300:]!r}"
        ) from None
    if not any(key in record for key in PEAK_KEYS):
        raise ExperimentError(f"memory probe record has none of {PEAK_KEYS}: {sorted(record)}")
    return record


def peak_bytes(record: dict[str, Any]) -> float:
    return float(next(record[key] for key in PEAK_KEYS if key in record))


def slope(steps: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares slope (bytes per step) and intercept (bytes)."""
    fitted_slope, intercept = np.polyfit(np.asarray(steps, float), np.asarray(values, float), 1)
    return float(fitted_slope), float(intercept)


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    seed_everything(s["seed"])
    clock = Stopwatch()
    device = resolve_device(s["device"]).type
    jobs = [(mode, steps) for mode in MODES for steps in s["steps"]]
    # On a GPU, concurrent probes would share the device; measure one at a time there.
    workers = 1 if device == "cuda" else s["jobs"]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        records = list(pool.map(lambda job: measure(job[1], bool(MODES[job[0]]), s, device), jobs))
    rows = []
    for (mode, steps), record in zip(jobs, records):
        extra = {k: v for k, v in record.items()
                 if k not in PEAK_KEYS and isinstance(v, (int, float, str, bool))}
        rows.append({**extra, "mode": mode, "steps": steps, "peak_bytes": peak_bytes(record),
                     "peak_mb": peak_bytes(record) / 2**20, "device": device})
    frame = pd.DataFrame(rows)
    fits = {}
    for mode in MODES:
        part = frame[frame["mode"] == mode]
        fitted, intercept = slope(part["steps"].tolist(), part["peak_bytes"].tolist())
        fits[mode] = {"slope_bytes_per_step": fitted, "intercept_bytes": intercept,
                      "min_peak_bytes": float(part["peak_bytes"].min()),
                      "max_peak_bytes": float(part["peak_bytes"].max())}
    write_csv(out_dir / "memory.csv", frame)
    results = {
        "slopes": {mode: fit["slope_bytes_per_step"] for mode, fit in fits.items()},
        "fits": fits,
        "memory_measure": str(frame["measure"].iloc[0]) if "measure" in frame else device,
        "method": "rk4",
        "steps": s["steps"],
    }
    return write_summary(out_dir, "memory", s, results, seconds=clock(), device=device)
