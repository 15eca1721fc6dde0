"""O(1) memory of the adjoint method: peak memory of one training step vs number of solver steps,
and the bytes its forward kept for the backward pass (the training runs' measure, `saved_mb`).

Each (steps, adjoint) point is measured by `pyode.experiments.memory_probe` in a process of its own,
so that allocator caches and earlier peaks never leak between measurements. Direct backprop keeps
every intermediate state of the rk4 steps, so its peak grows linearly with the number of steps; the
adjoint method recomputes states backwards and stays flat. The slope of a least-squares line
through (steps, peak bytes), and through (steps, saved bytes), summarises each mode.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pyode.experiments.common import ExperimentRun
from pyode.experiments.memory_probe import probe
from pyode.runtime import resolve_device

MODES = {"adjoint": 1, "backprop": 0}


def measure(steps: int, adjoint: bool, s: dict[str, Any], device: str) -> dict[str, Any]:
    """One probe's JSON record at this experiment's sizes."""
    return probe(steps, adjoint, batch=s["batch"], channels=s["channels"], size=s["size"],
                 device=device, timeout=s["timeout"])


def slope(steps: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares slope (bytes per step) and intercept (bytes)."""
    fitted_slope, intercept = np.polyfit(np.asarray(steps, float), np.asarray(values, float), 1)
    return float(fitted_slope), float(intercept)


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("memory", s, out_dir)
    device = resolve_device(s["device"]).type
    jobs = [(mode, steps) for mode in MODES for steps in s["steps"]]
    # On a GPU, concurrent probes would share the device; measure one at a time there.
    workers = 1 if device == "cuda" else s["jobs"]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        records = list(pool.map(lambda job: measure(job[1], bool(MODES[job[0]]), s, device), jobs))
    rows = [{"steps": steps, "adjoint": record["adjoint"], "mode": mode,
             "peak_bytes": float(record["peak_bytes"]),
             "peak_mb": float(record["peak_bytes"]) / 2**20,
             "saved_bytes": float(record["saved_bytes"]),
             "saved_mb": float(record["saved_bytes"]) / 2**20, "device": device}
            for (mode, steps), record in zip(jobs, records)]
    frame = pd.DataFrame(rows)
    fits = {}
    for mode in MODES:
        part = frame[frame["mode"] == mode]
        fitted, intercept = slope(part["steps"].tolist(), part["peak_bytes"].tolist())
        saved_slope, _ = slope(part["steps"].tolist(), part["saved_bytes"].tolist())
        fits[mode] = {"slope_bytes_per_step": fitted, "intercept_bytes": intercept,
                      "min_peak_bytes": float(part["peak_bytes"].min()),
                      "max_peak_bytes": float(part["peak_bytes"].max()),
                      "saved_slope_bytes_per_step": saved_slope,
                      "min_saved_bytes": float(part["saved_bytes"].min()),
                      "max_saved_bytes": float(part["saved_bytes"].max())}
    experiment.write("memory.csv", frame)
    results = {
        "slopes": {mode: fit["slope_bytes_per_step"] for mode, fit in fits.items()},
        "fits": fits,
        "memory_measure": device,
        "method": "rk4",
        "steps": s["steps"],
    }
    return experiment.finish(results, device=device)
