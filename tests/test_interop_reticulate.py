"""R -> Python through reticulate: Rscripts/reticulate_demo.R solves an ODE and trains from R."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")


def run_demo(repo_root: Path, env: dict[str, str], cwd: Path, *args: str):
    return subprocess.run(
        ["Rscript", "--vanilla", str(repo_root / "Rscripts" / "reticulate_demo.R"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.mark.slow  # R starts Python and trains a model
def test_reticulate_demo(repo_root: Path, subprocess_env: dict[str, str], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    result = run_demo(repo_root, subprocess_env, tmp_path, str(out_dir), "mlp")
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout

    # the ODE table: y(t) = 3 - exp(-t/2) at every printed time, within the solver tolerance
    rows = re.findall(r"^\s*([0-9.]+) ([0-9.]+) ([0-9.]+) ([0-9.e+-]+)$", text, re.MULTILINE)
    assert [float(r[0]) for r in rows] == [0.0, 0.5, 1.0, 2.0, 4.0]
    for t, value, _exact, _error in rows:
        assert math.isclose(float(value), 3 - math.exp(-float(t) / 2), abs_tol=1e-6)
    adjoint = re.search(r"dy\(4\)/dy\(0\) ([0-9.]+)", text)
    assert adjoint is not None
    assert math.isclose(float(adjoint.group(1)), math.exp(-2), abs_tol=1e-6)

    # the run trained from R wrote the files of `pyode train`, and its numbers are printed
    summary = json.loads((out_dir / "summary.json").read_text())
    assert (summary["dataset"], summary["model"]) == ("mnist", "mlp")
    assert (out_dir / "iterations.csv").is_file() and (out_dir / "epochs.csv").is_file()
    assert re.search(rf"mnist\s+mlp\s+{summary['params']}\s", text)
    assert "refuses to run inside reticulate" in text


def test_reticulate_demo_needs_python(
    repo_root: Path, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(subprocess_env, RETICULATE_PYTHON=str(tmp_path / "no_python"))
    result = run_demo(repo_root, env, tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        f"reticulate_demo.R: error: RETICULATE_PYTHON={tmp_path / 'no_python'} does not exist"
    )
