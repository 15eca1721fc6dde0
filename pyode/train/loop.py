"""The training loop behind `pyode train`: per-iteration and per-epoch CSVs, checkpoints, resume.

Outputs in the run folder, each replaced atomically: iterations.csv and epochs.csv (rewritten at
the end of every epoch), checkpoint.pt (every epoch), and at the end model.pt and summary.json.
On a GPU the hot loop never waits for the device: losses and correct counts stay on the device
and are copied to the host once per epoch.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from pyode import registry
from pyode.atomic import atomic_path, write_csv, write_json
from pyode.models import build_model, count_parameters, ode_blocks
from pyode.provenance import device_name, git_commit, versions
from pyode.runtime import resolve_device, seed_everything
from pyode.threads import available_cpus, set_torch_threads
from pyode.train.config import ConfigError, validate_run_config
from pyode.train.schedule import build_optimizer, build_scheduler

ITERATION_COLUMNS = list(registry.ITERATION_COLUMNS)
EPOCH_COLUMNS = list(registry.EPOCH_COLUMNS)
EVAL_BATCH = 500
AUGMENT_PADDING = {"mnist": 2, "iceberg": 4}
CHECKPOINT = "checkpoint.pt"

# Called after every optimiser step with (epoch, iteration); tests use it to interrupt a run.
_after_iteration = None


def load_data(config: dict[str, Any], data_path: str | os.PathLike[str] | None) -> Any:
    from pyode.data import load_dataset

    data = config["data"]
    return load_dataset(
        config["dataset"], source=data["source"],
        path=data_path if data_path is not None else data.get("path"),
        seed=config["seed"], n_train=data.get("n_train"), n_test=data.get("n_test"),
    )


class Objective:
    """Loss and number of correct predictions: softmax cross-entropy, or one logit + BCE."""

    def __init__(self, n_classes: int) -> None:
        self.binary = n_classes == 2

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.binary:
            logits = logits.squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
            correct = ((logits > 0).long() == y).sum()
        else:
            loss = F.cross_entropy(logits, y)
            correct = (logits.argmax(dim=1) == y).sum()
        return loss, correct


def evaluate(model: nn.Module, objective: Objective, x: torch.Tensor,
             y: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy over a split, in batches of EVAL_BATCH without gradients."""
    model.eval()
    total_loss = torch.zeros((), device=x.device)
    total_correct = torch.zeros((), dtype=torch.long, device=x.device)
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            loss, correct = objective(model(xb), yb)
            total_loss += loss * len(yb)
            total_correct += correct
    model.train()
    return total_loss.item() / len(y), total_correct.item() / len(y)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def _rng_states(shuffle: torch.Generator, augment: torch.Generator) -> dict[str, Any]:
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state(), "shuffle": shuffle.get_state(),
              "augment": augment.get_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any], shuffle: torch.Generator,
                    augment: torch.Generator) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    shuffle.set_state(states["shuffle"])
    augment.set_state(states["augment"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that must agree between a checkpoint and a resumed run."""
    return {k: v for k, v in config.items() if k not in ("quiet", "threads", "device")}


def _iteration_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=ITERATION_COLUMNS)
    frame["loss_ewm"] = frame["loss"].ewm(halflife=10).mean()
    return frame


def _nfe(blocks: list[nn.Module], kind: str) -> int:
    return int(sum(getattr(b.stats, kind) for b in blocks))


def train(
    config: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    data_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train one model as `config` (a resolved run configuration) says; return the summary.

    With `resume`, continue from `out_dir/checkpoint.pt` when it exists (same settings required),
    reproducing the metrics of an uninterrupted run.
    """
    validate_run_config(config)
    out = Path(out_dir)
    cpu_threads = set_torch_threads(config["threads"])
    device = resolve_device(config["device"])
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)

    seed_everything(config["seed"])
    bundle = load_data(config, data_path)
    train_x, train_y = bundle.train_x.to(device), bundle.train_y.to(device)
    test_x, test_y = bundle.test_x.to(device), bundle.test_y.to(device)
    n_train = len(train_y)

    seed_everything(config["seed"])  # model initialisation independent of the data loading
    model = build_model(config["dataset"], config["model"], solver=config["solver"]).to(device)
    blocks = ode_blocks(model)
    objective = Objective(bundle.n_classes)
    iters_per_epoch = -(-n_train // config["batch_size"])
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, iters_per_epoch)
    shuffle_gen = torch.Generator().manual_seed(config["seed"])
    augment_gen = torch.Generator(device=device).manual_seed(config["seed"] + 1)
    padding = AUGMENT_PADDING[config["dataset"]] if config["augment"] else 0

    iteration_rows: list[dict[str, Any]] = []
    epoch_rows: list[dict[str, Any]] = []
    start_epoch, elapsed_before = 1, 0.0
    checkpoint_path = out / CHECKPOINT
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if _comparable(state["config"]) != _comparable(config):
            raise ConfigError(f"{checkpoint_path}: the checkpoint was written with other "
                              "settings; run without --resume to start again")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_states(state["rng"], shuffle_gen, augment_gen)
        iteration_rows, epoch_rows = state["iteration_rows"], state["epoch_rows"]
        start_epoch, elapsed_before = state["epoch"] + 1, state["elapsed"]

    out.mkdir(parents=True, exist_ok=True)  # only once the data and the settings are known good
    quiet = config["quiet"] or not sys.stderr.isatty()
    started = time.perf_counter()
    model.train()
    for epoch in range(start_epoch, config["epochs"] + 1):
        epoch_start = time.perf_counter()
        order = torch.randperm(n_train, generator=shuffle_gen).to(device)
        losses: list[torch.Tensor] = []
        correct_sum = torch.zeros((), dtype=torch.long, device=device)
        rows: list[dict[str, Any]] = []
        bar = tqdm(range(iters_per_epoch), desc=f"epoch {epoch}/{config['epochs']}",
                   disable=quiet, leave=False, file=sys.stderr)
        for i in bar:
            tick = time.perf_counter()
            index = order[i * config["batch_size"]:(i + 1) * config["batch_size"]]
            xb, yb = train_x[index], train_y[index]
            if padding:
                from pyode.data.augment import random_crop

                xb = random_crop(xb, padding, augment_gen)
            lr = optimizer.param_groups[0]["lr"]
            logits = model(xb)
            nfe_forward = _nfe(blocks, "nfe_forward")
            loss, correct = objective(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nfe_backward = _nfe(blocks, "nfe_backward")
            optimizer.step()
            scheduler.step()
            losses.append(loss.detach())
            correct_sum += correct
            iteration = (epoch - 1) * iters_per_epoch + i + 1
            seen = min((i + 1) * config["batch_size"], n_train)
            rows.append({"epoch": epoch, "iteration": iteration,
                         "images_seen": (epoch - 1) * n_train + seen,
                         "lr": lr, "nfe_forward": nfe_forward, "nfe_backward": nfe_backward,
                         "seconds": time.perf_counter() - tick})
            if not quiet and (i % 10 == 0 or i == iters_per_epoch - 1):
                bar.set_postfix(loss=f"{loss.item():.3f}", nfe=nfe_forward,
                                acc=f"{correct_sum.item() / seen:.3f}")
            if _after_iteration is not None:
                _after_iteration(epoch, i + 1)
        bar.close()

        batch_losses = torch.stack(losses).cpu().tolist()
        for row, value in zip(rows, batch_losses, strict=True):
            row["loss"] = value
        sizes = [min(config["batch_size"], n_train - i * config["batch_size"])
                 for i in range(iters_per_epoch)]
        train_loss = sum(v * s for v, s in zip(batch_losses, sizes, strict=True)) / n_train
        test_loss, test_accuracy = evaluate(model, objective, test_x, test_y)
        iteration_rows.extend(rows)
        epoch_rows.append({
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": correct_sum.item() / n_train,
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "nfe_forward_mean": float(np.mean([r["nfe_forward"] for r in rows])),
            "nfe_backward_mean": float(np.mean([r["nfe_backward"] for r in rows])),
            "epoch_seconds": time.perf_counter() - epoch_start,
            "peak_memory_mb": peak_memory_mb(device),
        })
        write_csv(out / "iterations.csv", _iteration_frame(iteration_rows))
        write_csv(out / "epochs.csv", pd.DataFrame(epoch_rows, columns=EPOCH_COLUMNS))
        with atomic_path(checkpoint_path) as tmp:
            torch.save({"config": config, "epoch": epoch, "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                        "rng": _rng_states(shuffle_gen, augment_gen),
                        "iteration_rows": iteration_rows, "epoch_rows": epoch_rows,
                        "elapsed": elapsed_before + time.perf_counter() - started}, tmp)
        if not quiet:
            print(f"epoch {epoch}: train loss {train_loss:.4f}, test accuracy "
                  f"{test_accuracy:.4f}", file=sys.stderr)

    total_seconds = elapsed_before + time.perf_counter() - started
    with atomic_path(out / "model.pt") as tmp:
        torch.save(model.state_dict(), tmp)
    accuracies = [row["test_accuracy"] for row in epoch_rows]
    summary = {
        "dataset": config["dataset"],
        "model": config["model"],
        **registry.run_labels(config["dataset"], config["model"]),
        "params": count_parameters(model),
        "final_test_accuracy": accuracies[-1],
        "best_test_accuracy": max(accuracies),
        "final_test_error": 1.0 - accuracies[-1],
        "best_test_error": 1.0 - max(accuracies),
        "epochs": config["epochs"],
        "total_seconds": total_seconds,
        "device": device_name(device),
        # torch threads used, and the CPUs the process could use (jobs may share them)
        "cpu_threads": cpu_threads,
        "cpus_available": available_cpus(),
        "versions": versions(),
        "seed": config["seed"],
        "git_commit": git_commit(),
        "config": config,
        "data_source": bundle.data_source,
        "data_description": bundle.description,
        "profile": config.get("profile"),
    }
    write_json(out / "summary.json", summary)
    return summary
