"""`make gpu-check`: the GPU check's steps, rehearsed on a CPU at tiny scale (no full MNIST)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from pyode import registry
from pyode.bench.gpu_check import check_profile

REHEARSAL_SECONDS = 180  # the rehearsal's budget on two CPU cores


def test_tiny_profile_reads_tiny_idx_files_in_the_output(repo_root: Path, tmp_path: Path) -> None:
    gpu_yaml = str(repo_root / "config" / "gpu.yaml")
    profile = check_profile(gpu_yaml, tmp_path, "cpu", "tiny")
    assert profile["data"]["mnist"] == {"source": "idx", "path": str(tmp_path / "mnist-tiny")}
    assert (profile["scale"], profile["device"], profile["results"]) == (
        "tiny", "cpu", str(tmp_path))
    assert profile["train"]["defaults"]["epochs"] == 1
    full = check_profile(gpu_yaml, tmp_path, "cuda", "full")
    gpu = yaml.safe_load(Path(gpu_yaml).read_text())
    assert full["data"] == gpu["data"] and full["train"] == gpu["train"]
    # Table 1's five MNIST models, one seed
    assert set(full["runs"]["mnist"]) == set(registry.model_names("mnist"))
    assert full["seeds"] == [0]


@pytest.mark.slow
def test_cpu_rehearsal_writes_every_output_and_the_workflow_finds_the_trainings_done(
    repo_root: Path, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "gpu run"
    done = subprocess.run(
        ["make", "--no-print-directory", "gpu-check", "DEVICE=cpu", "SCALE=tiny", f"OUT={out}"],
        cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((out / "gpu-check.json").read_text())
    assert record["ok"] and record["device"] == "cpu" and record["scale"] == "tiny"
    steps = {step["step"]: step for step in record["steps"]}
    models = registry.model_names("mnist")
    assert set(steps) == {"CUDA tests", "solver benchmark", "data mnist",
                          *(f"train mnist/{m}" for m in models)}
    assert all(step["returncode"] == 0 and (out / step["log"]).is_file()
               for step in steps.values())
    assert "skipped" in (out / steps["CUDA tests"]["log"]).read_text()  # no CUDA here
    bench = (out / "bench" / "solver.csv").read_text().splitlines()
    assert bench[0].startswith("case,library,median_seconds") and len(bench) > 2
    for model in models:
        run = out / "train" / "mnist" / model
        assert all((run / name).is_file() for name in registry.RUN_FILES)
        summary = json.loads((run / "summary.json").read_text())
        assert summary["device"].startswith("cpu") and summary["data_source"] == "idx"
    assert record["total_seconds"] <= REHEARSAL_SECONDS, record["total_seconds"]
    # The workflow, given the profile as the check ran it, plans no data or training job.
    plan = subprocess.run(
        ["snakemake", "-n", "--cores", "4", "--configfile", str(out / "config/gpu-check.yaml")],
        cwd=repo_root, env=subprocess_env, capture_output=True, text=True, timeout=300,
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    jobs = plan.stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    counts = dict(line.split() for line in jobs.splitlines()[3:] if len(line.split()) == 2)
    assert "train" not in counts and "data" not in counts, jobs
    assert counts.get("paper") == "1"
