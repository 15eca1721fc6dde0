"""Where a result came from: code version, library versions and device."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any


def git_commit(cwd: str | Path | None = None) -> str:
    """The commit of the working tree (with '-dirty' when it has changes), or 'unknown'."""
    cwd = cwd or Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def device_name(device: Any) -> str:
    """A human-readable description of a torch device."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def versions() -> dict[str, str]:
    """Versions of the interpreter and the numerical libraries."""
    import numpy
    import torch

    from pyode import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pyode": __version__,
        "platform": platform.platform(),
    }
