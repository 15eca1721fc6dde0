"""Peak memory of one forward+backward pass of an ODE block (rk4, n steps), adjoint or direct, and
the bytes its forward kept for the backward pass (`pyode.train.metrics.SavedTensors`, the training
runs' `saved_mb`).

The dynamics are the ODE-Nets' own `ConvODEFunc`. On CPU the peak resident set size is read from
/proc/self/status (VmHWM) after resetting it via /proc/self/clear_refs, so the mark is this pass's
own (tracemalloc cannot see torch's C++ allocations, and ru_maxrss may carry a parent's mark across
exec). glibc is told to serve large blocks with mmap so freed tensors leave the resident set at
once. `probe` runs every measurement in a fresh process for isolation; on CUDA
`measure_step_memory` uses the allocator's peak counter in-process.

    python -m pyode.experiments.memory_probe --steps 16 --adjoint 1 [--batch 8 --channels 4 ...]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from pyode.experiments.common import ExperimentError
from pyode.models.layers import ConvODEFunc
from pyode.solver.block import ODEBlock
from pyode.train.metrics import saved_by

_M_MMAP_THRESHOLD = -3
REPO_ROOT = Path(__file__).resolve().parents[2]


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _one_pass(block: ODEBlock, y0: torch.Tensor) -> int:
    """One forward and backward pass; the bytes the forward kept for the backward pass."""
    with saved_by([block], ignore=block.parameters()) as saved:
        out = block(y0)
        kept = saved.nbytes()
    out.square().sum().backward()
    return kept


def measure_in_process(
    n_steps: int, adjoint: bool, *, batch: int, channels: int, size: int, device: str
) -> dict[str, float]:
    """Bytes above baseline at the peak of one pass (`peak_bytes`) and bytes its forward kept for
    the backward pass (`saved_bytes`). On CPU call only once per process."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    func = ConvODEFunc(channels).to(device)
    y0 = torch.randn(batch, channels, size, size, device=device)

    def block(steps: int) -> ODEBlock:
        return ODEBlock(func, method="rk4", adjoint=adjoint, options=dict(n_steps=steps)).to(device)

    _one_pass(block(1), y0)  # warm-up: kernels, thread pools, parameter gradients
    func.zero_grad(set_to_none=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        kept = _one_pass(block(n_steps), y0)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    elif _reset_peak_rss():
        base = _status_bytes("VmRSS")
        kept = _one_pass(block(n_steps), y0)
        peak = max(_status_bytes("VmHWM") - base, 0)
    else:
        # Fallback: the process-wide high-water mark (kilobytes on Linux).
        base = _status_bytes("VmRSS")
        kept = _one_pass(block(n_steps), y0)
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base, 0)
    return {"peak_bytes": float(peak), "saved_bytes": float(kept)}


def command(
    n_steps: int, adjoint: bool, *, batch: int, channels: int, size: int, device: str
) -> list[str]:
    """The command line of one probe process (the one place it is spelled)."""
    return [
        sys.executable, "-m", "pyode.experiments.memory_probe",
        "--steps", str(n_steps), "--adjoint", str(int(adjoint)),
        "--batch", str(batch), "--channels", str(channels), "--size", str(size),
        "--device", device,
    ]  # fmt: skip


def probe(
    n_steps: int,
    adjoint: bool,
    *,
    batch: int,
    channels: int,
    size: int,
    device: str,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Measure one pass in a process of its own; its JSON record, or ExperimentError."""
    cmd = command(n_steps, adjoint, batch=batch, channels=channels, size=size, device=device)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    # Started through a small shell that forks it (no exec in place): a process spawned directly
    # from this (large) one inherits its peak-RSS high-water mark, which would hide the probe's own
    # peak on CPU.
    via_shell = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    try:
        done = subprocess.run(via_shell, capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ExperimentError(f"memory probe timed out after {timeout} s: "
                              f"{' '.join(cmd[1:])}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ExperimentError(f"memory probe failed (exit {done.returncode}): "
                              f"{' '.join(cmd[1:])}: {' | '.join(tail)}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise ExperimentError(
            f"memory probe printed no JSON record: {done.stdout[-300:]!r}"
        ) from None
    missing = {"peak_bytes", "saved_bytes"} - set(record)
    if missing:
        raise ExperimentError(f"memory probe record lacks {', '.join(sorted(missing))}: "
                              f"{sorted(record)}")
    return record


def measure_step_memory(
    n_steps: int,
    adjoint: bool,
    *,
    batch: int = 8,
    channels: int = 4,
    size: int = 32,
    device: str = "cpu",
) -> float:
    """Peak bytes over baseline of one forward+backward (rk4, n_steps); CPU: in a fresh process."""
    if device.startswith("cuda"):
        return measure_in_process(
            n_steps, adjoint, batch=batch, channels=channels, size=size, device=device
        )["peak_bytes"]
    record = probe(n_steps, adjoint, batch=batch, channels=channels, size=size, device=device)
    return float(record["peak_bytes"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.experiments.memory_probe")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--adjoint", type=int, choices=(0, 1), required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if not args.device.startswith("cuda"):
        # Serve every block >= 64 KiB by mmap so frees return memory immediately.
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
    measured = measure_in_process(
        args.steps, bool(args.adjoint), batch=args.batch, channels=args.channels,
        size=args.size, device=args.device,
    )  # fmt: skip
    print(json.dumps({"steps": args.steps, "adjoint": bool(args.adjoint), **measured}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
