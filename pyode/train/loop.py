"""The training loop behind `pyode train`: per-iteration and per-epoch CSVs, checkpoints, resume.

`train` reads like the algorithm: check the run folder, set up (device, data, model, optimiser),
resume or start afresh, run the epochs, publish. While it runs, the outputs live in the run
folder's staging folder (`pyode.train.run_folder`): iterations.csv and epochs.csv and checkpoint.pt
rewritten after every epoch; model.pt and summary.json at the end; then the finished run replaces
the run folder in one step. On a GPU the hot loop never waits for the device: losses and correct
counts stay on the device and are copied to the host once per epoch, where a non-finite loss
stops the run.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from pyode import registry
from pyode.atomic import atomic_path, write_csv, write_json
from pyode.models import build_model, count_parameters, ode_blocks
from pyode.provenance import device_name, git_commit, versions
from pyode.runtime import resolve_device, seed_everything
from pyode.threads import available_cpus, set_torch_threads
from pyode.train.batches import shuffled_batches
from pyode.train.checkpoint import load_checkpoint, rng_states, save_checkpoint, set_rng_states
from pyode.train.config import ConfigError, validate_run_config
from pyode.train.errors import TrainingDivergedError
from pyode.train.metrics import (
    Objective,
    SavedTensors,
    evaluate,
    evaluation_counts,
    peak_memory_mb,
    saved_by,
)
from pyode.train.run_folder import RunFolder
from pyode.train.schedule import build_optimizer, build_scheduler

ITERATION_COLUMNS = list(registry.ITERATION_COLUMNS)
EPOCH_COLUMNS = list(registry.EPOCH_COLUMNS)
# Called after every optimiser step with (epoch, iteration within the epoch).
OnIteration = Callable[[int, int], None]


def load_data(config: dict[str, Any], data_path: str | os.PathLike[str] | None) -> Any:
    from pyode.data import load_dataset

    data = config["data"]
    return load_dataset(
        config["dataset"], source=data["source"],
        path=data_path if data_path is not None else data.get("path"),
        seed=config["seed"], n_train=data.get("n_train"), n_test=data.get("n_test"),
    )


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that must agree between a checkpoint and a resumed run."""
    return {k: v for k, v in config.items() if k not in ("quiet", "threads", "device")}


def _iteration_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=ITERATION_COLUMNS)
    frame["loss_ewm"] = frame["loss"].ewm(halflife=10).mean()
    return frame


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """With `enabled`, torch's deterministic kernels for the duration of the run (restored after,
    so that a process training several models is not changed for good)."""
    if not enabled:
        yield
        return
    # cuBLAS reads this when its first handle is created, i.e. before any CUDA work of the run.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


@dataclass
class Session:
    """Everything one run trains with: settings, device, data, model, optimiser, generators."""

    config: dict[str, Any]
    device: torch.device
    cpu_threads: int
    bundle: Any
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    model: nn.Module
    blocks: list[nn.Module]
    objective: Objective
    optimizer: torch.optim.Optimizer
    scheduler: Any
    shuffle_gen: torch.Generator
    augment_gen: torch.Generator
    padding: int
    # CUDA: the allocator's peak before the current step's reset (each step measures its own)
    run_peak_bytes: int = 0

    @property
    def n_train(self) -> int:
        return len(self.train_y)

    @property
    def batch_size(self) -> int:
        return int(self.config["batch_size"])

    @property
    def iters_per_epoch(self) -> int:
        return -(-self.n_train // self.batch_size)


@dataclass
class Progress:
    """The rows written so far, the next epoch and the training time of earlier attempts."""

    iteration_rows: list[dict[str, Any]] = field(default_factory=list)
    epoch_rows: list[dict[str, Any]] = field(default_factory=list)
    next_epoch: int = 1
    elapsed_before: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started


def set_up(config: dict[str, Any], data_path: str | os.PathLike[str] | None) -> Session:
    cpu_threads = set_torch_threads(config["threads"])
    device = resolve_device(config["device"])
    if device.type == "cuda":
        # autotuned kernels differ from run to run
        torch.backends.cudnn.benchmark = not config["deterministic"]
        torch.cuda.reset_peak_memory_stats(device)

    seed_everything(config["seed"])
    bundle = load_data(config, data_path)
    seed_everything(config["seed"])  # model initialisation independent of the data loading
    model = build_model(config["dataset"], config["model"], solver=config["solver"]).to(device)
    optimizer = build_optimizer(model, config)
    n_train = len(bundle.train_y)
    scheduler = build_scheduler(optimizer, config, -(-n_train // config["batch_size"]))
    return Session(
        config=config, device=device, cpu_threads=cpu_threads, bundle=bundle,
        train_x=bundle.train_x.to(device), train_y=bundle.train_y.to(device),
        test_x=bundle.test_x.to(device), test_y=bundle.test_y.to(device),
        model=model, blocks=ode_blocks(model), objective=Objective(bundle.n_classes),
        optimizer=optimizer, scheduler=scheduler,
        shuffle_gen=torch.Generator().manual_seed(config["seed"]),
        augment_gen=torch.Generator(device=device).manual_seed(config["seed"] + 1),
        padding=bundle.augment_padding if config["augment"] else 0,
    )


def resume_or_start(folder: RunFolder, session: Session, resume: bool) -> Progress:
    """With `resume`, the progress of the interrupted run in the staging folder (same settings
    required); otherwise, or when its checkpoint cannot be read, a fresh start."""
    if resume and folder.checkpoint.exists():
        state, problem = load_checkpoint(folder.checkpoint, session.device)
        if state is not None:
            if _comparable(state["config"]) != _comparable(session.config):
                raise ConfigError(f"{folder.checkpoint}: the checkpoint was written with other "
                                  "settings; run without --resume to start again")
            session.model.load_state_dict(state["model"])
            session.optimizer.load_state_dict(state["optimizer"])
            session.scheduler.load_state_dict(state["scheduler"])
            set_rng_states(state["rng"], session.shuffle_gen, session.augment_gen)
            return Progress(state["iteration_rows"], state["epoch_rows"], state["epoch"] + 1,
                            state["elapsed"])
        print(f"pyode train: warning: {folder.checkpoint}: {problem}; starting afresh",
              file=sys.stderr)
    folder.start_afresh()
    return Progress()


@dataclass
class Step:
    """What one optimiser step measured."""

    loss: torch.Tensor
    correct: torch.Tensor
    nfe_forward: int
    nfe_backward: int
    saved_mb: float
    cuda_peak_mb: float


def train_step(session: Session, saved: SavedTensors, xb: torch.Tensor, yb: torch.Tensor) -> Step:
    """Forward, backward and optimiser step on one batch. `saved` measures the ODE blocks'
    forwards; on CUDA the allocator's peak is this step's own (the run's peak kept aside)."""
    device, model, optimizer = session.device, session.model, session.optimizer
    cuda = device.type == "cuda"
    if cuda:
        session.run_peak_bytes = max(session.run_peak_bytes,
                                     torch.cuda.max_memory_allocated(device))
        torch.cuda.reset_peak_memory_stats(device)
    logits = model(xb)
    nfe_forward = evaluation_counts(session.blocks).nfe_forward
    # read before the backward pass frees what it measures
    saved_mb = saved.nbytes() / 2**20 if session.blocks else math.nan
    saved.clear()
    loss, correct = session.objective(logits, yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nfe_backward = evaluation_counts(session.blocks).nfe_backward
    cuda_peak_mb = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else math.nan
    optimizer.step()
    session.scheduler.step()
    return Step(loss.detach(), correct, nfe_forward, nfe_backward, saved_mb, cuda_peak_mb)


def run_peak_mb(session: Session) -> float:
    """The run's peak memory so far: the allocator's on CUDA, the process's resident set else."""
    if session.device.type == "cuda":
        return max(session.run_peak_bytes,
                   torch.cuda.max_memory_allocated(session.device)) / 2**20
    return peak_memory_mb(session.device)


def run_epoch(session: Session, epoch: int, quiet: bool,
              on_iteration: OnIteration | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One pass over the shuffled training data; its iteration rows and its epoch row."""
    config, device = session.config, session.device
    batch_size, n_train, iters = session.batch_size, session.n_train, session.iters_per_epoch
    epoch_start = time.perf_counter()
    batches = shuffled_batches(n_train, batch_size, session.shuffle_gen, device=device)
    losses: list[torch.Tensor] = []
    correct_sum = torch.zeros((), dtype=torch.long, device=device)
    rows: list[dict[str, Any]] = []
    bar = tqdm(range(iters), desc=f"epoch {epoch}/{config['epochs']}",
               disable=quiet, leave=False, file=sys.stderr)
    with saved_by(session.blocks, ignore=session.model.parameters()) as saved:
        for i in bar:
            tick = time.perf_counter()
            index = batches[i]
            xb, yb = session.train_x[index], session.train_y[index]
            if session.padding:
                from pyode.data.augment import random_crop

                xb = random_crop(xb, session.padding, session.augment_gen)
            lr = session.optimizer.param_groups[0]["lr"]
            step = train_step(session, saved, xb, yb)
            losses.append(step.loss)
            correct_sum += step.correct
            seen = min((i + 1) * batch_size, n_train)
            rows.append({"epoch": epoch, "iteration": (epoch - 1) * iters + i + 1,
                         "images_seen": (epoch - 1) * n_train + seen, "lr": lr,
                         "nfe_forward": step.nfe_forward, "nfe_backward": step.nfe_backward,
                         "saved_mb": step.saved_mb, "cuda_peak_mb": step.cuda_peak_mb,
                         "seconds": time.perf_counter() - tick})
            if not quiet and (i % 10 == 0 or i == iters - 1):
                bar.set_postfix(loss=f"{step.loss.item():.3f}", nfe=step.nfe_forward,
                                acc=f"{correct_sum.item() / seen:.3f}")
            if on_iteration is not None:
                on_iteration(epoch, i + 1)
    bar.close()

    batch_losses = torch.stack(losses).cpu().tolist()
    for row, value in zip(rows, batch_losses, strict=True):
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"epoch {epoch}, iteration {row['iteration']}: the training loss is {value}; "
                f"lower the learning rate (lr {config['lr']}) or check the data")
        row["loss"] = value
    sizes = [min(batch_size, n_train - i * batch_size) for i in range(iters)]
    train_loss = sum(v * s for v, s in zip(batch_losses, sizes, strict=True)) / n_train
    test_loss, test_accuracy = evaluate(session.model, session.objective, session.test_x,
                                        session.test_y)
    epoch_row = {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_accuracy": correct_sum.item() / n_train,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "nfe_forward_mean": float(np.mean([r["nfe_forward"] for r in rows])),
        "nfe_backward_mean": float(np.mean([r["nfe_backward"] for r in rows])),
        "saved_mb_mean": float(np.mean([r["saved_mb"] for r in rows])),
        "cuda_peak_mb_mean": float(np.mean([r["cuda_peak_mb"] for r in rows])),
        "epoch_seconds": time.perf_counter() - epoch_start,
        "peak_memory_mb": run_peak_mb(session),
    }
    if not math.isfinite(test_loss):
        raise TrainingDivergedError(f"epoch {epoch}: the test loss is {test_loss}")
    return rows, epoch_row


def save_progress(folder: RunFolder, session: Session, progress: Progress, epoch: int) -> None:
    """The CSVs so far and a checkpoint to resume from, in the staging folder."""
    write_csv(folder.staging / "iterations.csv", _iteration_frame(progress.iteration_rows))
    write_csv(folder.staging / "epochs.csv",
              pd.DataFrame(progress.epoch_rows, columns=EPOCH_COLUMNS))
    save_checkpoint(folder.checkpoint, {
        "config": session.config, "epoch": epoch, "model": session.model.state_dict(),
        "optimizer": session.optimizer.state_dict(),
        "scheduler": session.scheduler.state_dict(),
        "rng": rng_states(session.shuffle_gen, session.augment_gen),
        "iteration_rows": progress.iteration_rows, "epoch_rows": progress.epoch_rows,
        "elapsed": progress.elapsed()})


def summarise(session: Session, progress: Progress) -> dict[str, Any]:
    config = session.config
    accuracies = [row["test_accuracy"] for row in progress.epoch_rows]
    return {
        "dataset": config["dataset"],
        "model": config["model"],
        **registry.run_labels(config["dataset"], config["model"]),
        "params": count_parameters(session.model),
        "final_test_accuracy": accuracies[-1],
        "best_test_accuracy": max(accuracies),
        "final_test_error": 1.0 - accuracies[-1],
        "best_test_error": 1.0 - max(accuracies),
        # the number of test examples the accuracies were measured on (the paper's intervals)
        "n_test": int(session.test_y.shape[0]),
        "epochs": config["epochs"],
        "total_seconds": progress.elapsed(),
        "device": device_name(session.device),
        # torch threads used, and the CPUs the process could use (jobs may share them)
        "cpu_threads": session.cpu_threads,
        "cpus_available": available_cpus(),
        "versions": versions(),
        "seed": config["seed"],
        "git_commit": git_commit(),
        "config": config,
        "data_source": session.bundle.data_source,
        "data_description": session.bundle.description,
        "profile": config.get("profile"),
    }


def finish(folder: RunFolder, session: Session, progress: Progress) -> dict[str, Any]:
    """Weights and summary into the staging folder, then publish the whole run at once."""
    with atomic_path(folder.staging / "model.pt") as tmp:
        torch.save(session.model.state_dict(), tmp)
    summary = summarise(session, progress)
    write_json(folder.staging / "summary.json", summary)
    folder.publish()
    return summary


def train(
    config: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    data_path: str | os.PathLike[str] | None = None,
    on_iteration: OnIteration | None = None,
) -> dict[str, Any]:
    """Train one model as `config` (a resolved run configuration) says; return the summary.

    With `resume`, continue an interrupted run from its checkpoint when there is one (same
    settings required), reproducing the metrics of an uninterrupted run. `on_iteration` is called
    after every optimiser step with (epoch, iteration within the epoch).
    """
    validate_run_config(config)
    folder = RunFolder(out_dir)
    folder.check_writable()  # before the data are loaded: a bad --out fails at once
    quiet = config["quiet"] or not sys.stderr.isatty()
    with deterministic_algorithms(config["deterministic"]):
        session = set_up(config, data_path)
        progress = resume_or_start(folder, session, resume)
        session.model.train()
        for epoch in range(progress.next_epoch, config["epochs"] + 1):
            rows, epoch_row = run_epoch(session, epoch, quiet, on_iteration)
            progress.iteration_rows.extend(rows)
            progress.epoch_rows.append(epoch_row)
            save_progress(folder, session, progress, epoch)
            if not quiet:
                print(f"epoch {epoch}: train loss {epoch_row['train_loss']:.4f}, test accuracy "
                      f"{epoch_row['test_accuracy']:.4f}", file=sys.stderr)
        return finish(folder, session, progress)
