"""`pyode train --config` and `pyode experiment --config` check a profile as the workflow does: an
unknown key at any level is refused by name, in one line, with exit status 2 and no output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pyode.cli import main
from pyode.planner import load_checked_profile

# (where to put a bad key, the value, what the one-line error must say)
BAD_KEYS = [
    (("trian",), {}, "config key '<top level>': unknown key(s) 'trian'"),
    (("data", "mnist", "sorce"), "idx", "unknown setting 'sorce' of data set 'mnist'"),
    (("data", "cifar"), {}, "config key 'data.cifar': unknown data set"),
    (("runs", "cifar"), ["mlp"], "config key 'runs.cifar': unknown dataset"),
    (("train", "defaults", "epoch"), 1, "unknown setting 'train.defaults.epoch'"),
    (("train", "iceberg", "rknet"), {}, "unknown setting 'train.iceberg.rknet'"),
    (("experiments", "spiral", "n_iter"), 3, "unknown setting 'n_iter' of experiment 'spiral'"),
    (("experiments", "spirals"), {}, "config key 'experiments.spirals': unknown experiment"),
]
COMMANDS = {
    "train": ["train", "--dataset", "mnist", "--model", "mlp"],
    "experiment": ["experiment", "euler"],
}


def profile_with(repo_root: Path, tmp_path: Path, where: tuple[str, ...], value: object) -> Path:
    profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    node = profile
    for key in where[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[where[-1]] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("where", "value", "message"), BAD_KEYS)
def test_an_unknown_key_at_any_level_is_refused_by_name(repo_root, tmp_path, capsys, command,
                                                        where, value, message) -> None:
    path = profile_with(repo_root, tmp_path, where, value)
    out = tmp_path / "out"
    code = main([*COMMANDS[command], "--config", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"pyode {command}: error: {path}: "), err
    assert message in err, err
    assert not out.exists()


def test_every_top_level_problem_is_named_in_one_line(repo_root, tmp_path, capsys) -> None:
    profile = yaml.safe_load((repo_root / ".test/config.yaml").read_text())
    profile.update({"trian": {}, "device": "gpu"})
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    code = main(["train", "--config", str(path), "--dataset", "mnist", "--model", "mlp",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "unknown key(s) 'trian'" in err
    assert "config key 'device': expected one of auto, cpu, cuda, got 'gpu'" in err


@pytest.mark.parametrize("profile", ["config/config.yaml", "config/paper.yaml", "config/gpu.yaml",
                                     ".test/config.yaml"])
def test_the_shipped_profiles_pass_the_check(repo_root, profile) -> None:
    assert load_checked_profile(repo_root / profile)["profile"]
