"""`pyode data …`: outputs, exit codes, one-line errors and no partial files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyode.cli import main
from pyode.data.iceberg import load_records
from pyode.data.iceberg_synthetic import generate
from pyode.data.idx import write_idx


def _pyode(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyode", "data", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_generate_then_reject_a_bad_file(
    tmp_path: Path, subprocess_env: dict[str, str], repo_root: Path
) -> None:
    out = tmp_path / "synthetic" / "train.json"
    done = _pyode(["iceberg-synthetic", "--out", str(out), "--seed", "3", "--n", "12"],
                  subprocess_env, repo_root)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text()) == generate(n=12, seed=3)

    records = json.loads(out.read_text())
    records[9]["band_1"] = records[9]["band_1"][:-1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(records))
    failed = _pyode(["check", str(bad)], subprocess_env, repo_root)
    assert failed.returncode == 2 and failed.stdout == ""
    lines = failed.stderr.strip().splitlines()
    assert lines == [f"pyode data: error: {bad}: record 9 (id {records[9]['id']!r}), field "
                     f"'band_1': expected 5625 values, got 5624"]


def test_check_prints_a_summary_as_text_or_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(generate(n=20, seed=1)))
    assert main(["data", "check", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["records"] == 20 and summary["icebergs"] + summary["ships"] == 20
    assert summary["band_1_range_db"][0] < summary["band_1_range_db"][1]
    assert main(["data", "check", str(path)]) == 0
    text = capsys.readouterr().out
    assert "records: 20" in text and "inc_angle_na:" in text


def test_preview_writes_png_only_on_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(generate(n=10, seed=2)))
    png = tmp_path / "preview.png"
    assert main(["data", "preview", "iceberg", str(path), "--out", str(png), "--n", "4"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path.write_text("[]")
    other = tmp_path / "other.png"
    assert main(["data", "preview", "iceberg", str(path), "--out", str(other)]) == 2
    assert "no records" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preview.png", "train.json"]


def test_prepare_mnist_summarises_or_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "idx"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    out = tmp_path / "prepared"
    assert main(["data", "prepare-mnist", "--source", "idx", "--path", str(folder),
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["source"] == "idx"
    assert summary["counts"] == {"train": 30, "test": 10}
    assert summary["class_balance"]["test"] == [1] * 10

    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(9) % 10)  # one label short
    broken = tmp_path / "broken"
    assert main(["data", "prepare-mnist", "--source", "idx", "--path", str(folder),
                 "--out", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "9 labels for 10 images" in err and "field 'count'" in err
    assert not broken.exists() or not any(broken.iterdir())


def test_generator_arguments_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "train.json"
    assert main(["data", "iceberg-synthetic", "--out", str(out), "--seed", "0", "--n", "0"]) == 2
    assert "--n must be a positive integer" in capsys.readouterr().err
    assert not out.exists()
    assert main(["data", "iceberg-synthetic", "--out", str(out), "--seed", "0", "--n", "8"]) == 0
    assert len(load_records(out).ids) == 8


def _with_long_pixel(records: list[dict]) -> str:
    text = json.dumps(records)
    return text.replace(json.dumps(records[1]["band_1"][5]), "9" * 5000, 1)


def _with_long_angle(records: list[dict]) -> str:
    records[2]["inc_angle"] = int("7" * 400)
    return json.dumps(records)


@pytest.mark.parametrize(("make_text", "expected"), [
    (_with_long_pixel, "a number with more digits than any pixel or angle can have at line 1"),
    (_with_long_angle, "record 2 (id '{id2}'), field 'inc_angle': expected an angle in degrees"),
    (lambda _: "[" * 200_000 + "]" * 200_000, "arrays or objects nested too deeply"),
])
def test_check_refuses_numbers_and_nesting_json_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_text, expected: str
) -> None:
    records = generate(n=3, seed=0)
    path = tmp_path / "train.json"
    path.write_text(make_text(records))
    assert main(["data", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"pyode data: error: {path}: ")
    assert expected.format(id2=records[2]["id"]) in line


def test_prepare_generates_checks_and_summarises_any_registered_data_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pyode data prepare NAME --settings FILE`: the workflow's one data rule, any data set."""
    import yaml

    from pyode import registry
    from pyode.data import data_settings, resolve_paths

    for name in registry.dataset_names():
        out = tmp_path / name
        settings = resolve_paths(name, data_settings(name, None, tiny=True), str(out))
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(settings))
        assert main(["data", "prepare", name, "--settings", str(tmp_path / f"{name}.yaml"),
                     "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["dataset"] == name and summary["dataset_label"] == registry.dataset(
            name).label
        assert sum(summary["counts"].values()) > 0 and summary["description"]
    assert len(load_records(tmp_path / "iceberg" / "train.json").ids) == 120  # TINY n, generated

    missing = tmp_path / "nowhere" / "train.json.7z"
    (tmp_path / "kaggle.yaml").write_text(yaml.safe_dump({"source": "kaggle",
                                                          "path": str(missing)}))
    (tmp_path / "nopath.yaml").write_text(yaml.safe_dump({"source": "kaggle"}))
    capsys.readouterr()
    for settings, message in (("kaggle.yaml", "kaggle competitions download"),
                              ("nopath.yaml", "setting 'path' of data set 'iceberg' is required")):
        out = tmp_path / "failed"
        assert main(["data", "prepare", "iceberg", "--settings", str(tmp_path / settings),
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, err
        assert not (out / "summary.json").exists()
    assert main(["data", "prepare", "cifar", "--settings", str(tmp_path / "nopath.yaml"),
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown data set 'cifar'; choose one of mnist, iceberg" in capsys.readouterr().err


def test_every_registered_data_set_module_declares_its_table() -> None:
    """A new data set = its module (load_bundle), its models and its registry entry (settings
    table, tiny sizes)."""
    from pyode import registry
    from pyode.data import data_settings, dataset_module

    for entry in registry.DATASETS:
        assert callable(dataset_module(entry.name).load_bundle)
        assert {"source", "path", "n_train", "n_test"} <= set(entry.settings)
        tiny = data_settings(entry.name, None, tiny=True)
        assert tiny != data_settings(entry.name, None) and set(entry.tiny) <= set(tiny)
