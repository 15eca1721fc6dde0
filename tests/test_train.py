"""Training on tiny data: output files and columns, NFE columns, determinism, kill and resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from pyode import registry
from pyode.cli import main
from pyode.models import build_model
from pyode.settings import write_settings
from pyode.train import resolve_config, train
from pyode.train.loop import EPOCH_COLUMNS, ITERATION_COLUMNS
from pyode.train.run_folder import RunFolder

TIMING_COLUMNS = {"seconds", "epoch_seconds", "peak_memory_mb"}
SUMMARY_KEYS = {"dataset", "model", "params", "final_test_accuracy", "best_test_accuracy",
                "final_test_error", "best_test_error", "epochs", "total_seconds", "device",
                "versions", "seed", "git_commit", "config", "data_source", "data_description",
                "profile", "cpu_threads", "cpus_available", "model_label", "model_rank",
                "continuous_depth", "dataset_label", "dataset_rank", "n_test"}


def without_timing(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in frame.columns if c in TIMING_COLUMNS])


def assert_frame_equal_untimed(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(without_timing(left), without_timing(right))


def read_run(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return (pd.read_csv(out / "iterations.csv"), pd.read_csv(out / "epochs.csv"),
            json.loads((out / "summary.json").read_text()))


@pytest.mark.parametrize(("dataset", "model"), [
    ("mnist", "mlp"), ("mnist", "resnet"), ("mnist", "odenet"), ("mnist", "rknet"),
    ("iceberg", "mlp"), ("iceberg", "resnet"), ("iceberg", "odenet"),
])
def test_tiny_training_writes_every_output(dataset, model, tiny_profile, tmp_path) -> None:
    config = resolve_config(tiny_profile(), dataset, model)
    summary = train(config, tmp_path)
    iterations, epochs, stored = read_run(tmp_path)
    assert list(iterations.columns) == ITERATION_COLUMNS
    assert list(epochs.columns) == EPOCH_COLUMNS
    assert set(stored) == SUMMARY_KEYS and stored["model"] == model
    # the registry's facts the R side reads instead of a list of its own
    assert stored["model_label"] == registry.model(model).label
    assert stored["model_rank"] == registry.model_names().index(model)
    assert stored["continuous_depth"] is (model in ("odenet", "rknet"))
    assert stored["dataset_label"] == {"mnist": "MNIST", "iceberg": "Iceberg"}[dataset]
    assert stored["dataset_rank"] == registry.dataset_names().index(dataset)
    assert 1 <= stored["cpu_threads"] <= stored["cpus_available"]
    assert stored["final_test_accuracy"] == summary["final_test_accuracy"]
    assert stored["final_test_error"] == pytest.approx(1 - stored["final_test_accuracy"])
    assert stored["n_test"] == config["data"]["n_test"]
    n_train = config["data"]["n_train"]
    assert iterations["images_seen"].iloc[-1] == n_train
    assert iterations["iteration"].tolist() == list(range(1, len(iterations) + 1))
    assert iterations["loss"].notna().all() and (iterations["lr"] > 0).all()
    assert 0 <= epochs["test_accuracy"].iloc[0] <= 1
    assert epochs["peak_memory_mb"].iloc[0] > 0
    assert stored["device"].startswith("cpu") and stored["config"] == config
    # the allocator's peak per step is a CUDA measure
    assert iterations["cuda_peak_mb"].isna().all() and epochs["cuda_peak_mb_mean"].isna().all()
    if model in ("odenet", "rknet"):
        assert (iterations["nfe_forward"] > 0).all() and (iterations["nfe_backward"] > 0).all()
        assert epochs["nfe_forward_mean"].iloc[0] > 0
        assert (iterations["saved_mb"] > 0).all()
        assert epochs["saved_mb_mean"].iloc[0] == pytest.approx(iterations["saved_mb"].mean())
    else:
        assert (iterations[["nfe_forward", "nfe_backward"]] == 0).all().all()
        assert epochs["nfe_backward_mean"].iloc[0] == 0
        # no ODE block, nothing of one to measure
        assert iterations["saved_mb"].isna().all() and epochs["saved_mb_mean"].isna().all()
    fresh = build_model(dataset, model, solver=config["solver"])
    fresh.load_state_dict(torch.load(tmp_path / "model.pt", weights_only=True))
    # only an interrupted run keeps a checkpoint, and the staging folder is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(registry.RUN_FILES)
    assert not RunFolder(tmp_path).staging.exists()


KILLER = """
import os, signal, sys
from pyode.train import load_profile, resolve_config, train

def die(epoch, iteration):
    if epoch == 2 and iteration == 1:
        os.kill(os.getpid(), signal.SIGKILL)

profile, dataset, model, out = sys.argv[1:]
train(resolve_config(load_profile(profile), dataset, model), out, on_iteration=die)
"""


@pytest.mark.slow  # four trainings of three epochs, one in a subprocess
def test_determinism_and_resume_after_sigkill(tiny_profile, tmp_path, subprocess_env) -> None:
    profile = tiny_profile()
    profile["train"]["defaults"].update(epochs=3, batch_size=8, augment=True)
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    args = ["train", "--config", str(path), "--dataset", "iceberg", "--model", "odenet"]

    # two uninterrupted runs, from the profile and from the run settings file the workflow
    # writes: identical apart from time and memory
    settings = tmp_path / "settings.yaml"
    write_settings(settings, resolve_config(profile, "iceberg", "odenet"))
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "--settings", str(settings), "--out", str(tmp_path / "b")]) == 0
    runs = {name: read_run(tmp_path / name) for name in ("a", "b")}
    for table in (0, 1):
        pd.testing.assert_frame_equal(without_timing(runs["a"][table]),
                                      without_timing(runs["b"][table]))
    assert runs["a"][2]["final_test_accuracy"] == runs["b"][2]["final_test_accuracy"]

    # killed with SIGKILL in the middle of epoch 2 (after 1 of its 2 iterations), then resumed
    killed = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILLER, str(path), "iceberg", "odenet",
                           str(killed)], env=subprocess_env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    staging = RunFolder(killed).staging
    assert len(pd.read_csv(staging / "epochs.csv")) == 1
    assert not killed.exists() and not (staging / "summary.json").exists()
    # a checkpoint of other settings is not silently continued
    assert main([*args, "--out", str(killed), "--resume", "--set", "lr=0.5"]) == 2
    assert main([*args, "--out", str(killed), "--resume"]) == 0
    iterations, epochs, summary = read_run(killed)
    pd.testing.assert_frame_equal(without_timing(iterations), without_timing(runs["a"][0]))
    pd.testing.assert_frame_equal(without_timing(epochs), without_timing(runs["a"][1]))
    assert summary["final_test_accuracy"] == runs["a"][2]["final_test_accuracy"]
    # a finished run keeps no checkpoint: resuming it again trains afresh to the same numbers
    assert main([*args, "--out", str(killed), "--resume"]) == 0
    assert_frame_equal_untimed(read_run(killed)[1], runs["a"][1])
