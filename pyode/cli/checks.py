"""Checks of command-line paths before any work starts; each problem is a CLIError naming it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pyode.cli import CLIError


def check_out_folder(path: str | os.PathLike[str], option: str = "--out") -> None:
    """An output folder must not be a file, nor lie under one."""
    target = Path(os.path.abspath(path))
    for folder in [target, *target.parents]:
        if folder.exists() and not folder.is_dir():
            raise CLIError(f"{option} {os.fspath(path)}: {folder} is a file, not a folder")


def check_training_run(run_dir: str | os.PathLike[str]) -> None:
    """A training run folder whose summary.json is a JSON object and whose model.pt loads."""
    import torch

    folder = Path(run_dir)
    if not folder.is_dir():
        raise CLIError(f"--run-dir {folder}: no such training run folder")
    summary = folder / "summary.json"
    try:
        if not isinstance(json.loads(summary.read_text(encoding="utf-8")), dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        raise CLIError(f"{summary}: missing (train the run first)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CLIError(f"{summary}: not a JSON summary of a training run "
                       f"({type(exc).__name__})") from None
    model = folder / "model.pt"
    if not model.is_file():
        raise CLIError(f"{model}: missing (train the run first)")
    try:
        torch.load(model, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or garbage files fail in many different ways
        raise CLIError(f"{model}: unreadable model weights ({type(exc).__name__}); "
                       "train the run again") from None
