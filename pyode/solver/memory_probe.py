"""Peak memory of one forward+backward pass of an ODE block (rk4, n steps), adjoint or direct.

On CPU the peak resident set size is read from /proc/self/status (VmHWM) after resetting it via
/proc/self/clear_refs, so the mark is this pass's own (tracemalloc cannot see torch's C++
allocations, and ru_maxrss may carry a parent's mark across exec). glibc is told to serve large
blocks with mmap so freed tensors leave the resident set at once. measure_step_memory still runs
every CPU measurement in a fresh process for isolation. On CUDA the allocator's peak counter is
used in-process.

    python -m pyode.solver.memory_probe --steps 16 --adjoint 1 [--batch 8 --channels 4 --size 32]
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

import torch
from torch import nn

from pyode.solver.block import ODEBlock

_M_MMAP_THRESHOLD = -3


class ConvDynamics(nn.Module):
    """GroupNorm -> ReLU -> conv -> GroupNorm -> ReLU -> conv on a (batch, C, H, W) state."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        groups = min(4, channels)
        self.net = nn.Sequential(
            nn.GroupNorm(groups, channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(groups, channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(y)


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


def _one_pass(block: ODEBlock, y0: torch.Tensor) -> None:
    block(y0).square().sum().backward()


def measure_in_process(
    n_steps: int, adjoint: bool, *, batch: int, channels: int, size: int, device: str
) -> float:
    """Bytes above baseline at the peak of one pass. On CPU call only once per process."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    func = ConvDynamics(channels).to(device)
    y0 = torch.randn(batch, channels, size, size, device=device)

    def block(steps: int) -> ODEBlock:
        return ODEBlock(func, method="rk4", adjoint=adjoint, options=dict(n_steps=steps)).to(device)

    _one_pass(block(1), y0)  # warm-up: kernels, thread pools, parameter gradients
    func.zero_grad(set_to_none=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        _one_pass(block(n_steps), y0)
        torch.cuda.synchronize()
        return float(torch.cuda.max_memory_allocated() - base)
    if _reset_peak_rss():
        base = _status_bytes("VmRSS")
        _one_pass(block(n_steps), y0)
        return float(max(_status_bytes("VmHWM") - base, 0))
    # Fallback: the process-wide high-water mark (kilobytes on Linux).
    base = _status_bytes("VmRSS")
    _one_pass(block(n_steps), y0)
    return float(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base, 0))


def measure_step_memory(
    n_steps: int,
    adjoint: bool,
    *,
    batch: int = 8,
    channels: int = 4,
    size: int = 32,
    device: str = "cpu",
) -> float:
    """Peak bytes over baseline of one forward+backward (rk4, n_steps), each run isolated."""
    if device.startswith("cuda"):
        return measure_in_process(
            n_steps, adjoint, batch=batch, channels=channels, size=size, device=device
        )
    cmd = [
        sys.executable, "-m", "pyode.solver.memory_probe", "--steps", str(n_steps),
        "--adjoint", str(int(adjoint)), "--batch", str(batch), "--channels", str(channels),
        "--size", str(size), "--device", device,
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip()[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_bytes"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.solver.memory_probe")
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
    peak = measure_in_process(
        args.steps, bool(args.adjoint), batch=args.batch, channels=args.channels,
        size=args.size, device=args.device,
    )  # fmt: skip
    print(json.dumps({"steps": args.steps, "adjoint": bool(args.adjoint), "peak_bytes": peak}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
