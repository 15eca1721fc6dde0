"""The R package pyode (Rscripts/pyode): its testthat suite; library(pyode) in a fresh session."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

# Each test is an R session of tens of seconds (testthat, R Markdown, reticulate).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")]

def test_testthat_suite(r_package_dir: Path, r_env: dict[str, str]) -> None:
    code = (
        "library(testthat); library(pyode); "
        "res <- as.data.frame(test_dir('testthat', package = 'pyode', "
        "load_package = 'installed', reporter = 'summary', stop_on_failure = TRUE)); "
        "cat(sprintf('\\ntests: %d, failed: %d, skipped: %d\\n', sum(res$nb), sum(res$failed), "
        "sum(res$skipped)))"
    )
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], cwd=r_package_dir / "tests", env=r_env,
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "failed: 0" in result.stdout
    # every test that needs Python ran: none may be skipped where pyode's Python exists
    assert "skipped: 0" in result.stdout, result.stdout[-3000:]


def test_fresh_session_finds_the_project_python(r_env: dict[str, str], tmp_path: Path) -> None:
    """From another folder, without RETICULATE_PYTHON: the .venv of the installing project."""
    env = dict(r_env)
    env.pop("RETICULATE_PYTHON", None)
    code = (
        "library(pyode); s <- ode_solve(function(t, y) -y, c(1, 2), seq(0, 1, by = 0.25)); "
        "err <- max(abs(as.matrix(s[, -1]) - outer(exp(-s$time), c(1, 2)))); "
        "cat(sprintf('max error %.3g\\n', err)); stopifnot(is.data.frame(s), err < 1e-5)"
    )
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "max error" in result.stdout


def test_r_markdown_example_renders(
    r_package_dir: Path, r_env: dict[str, str], tmp_path: Path
) -> None:
    """The package's R Markdown example: solve an ODE, read a solver error, train a model."""
    example = r_package_dir / "inst" / "examples" / "pyode-from-r.Rmd"
    code = (f'rmarkdown::render("{example}", output_dir = "{tmp_path}", '
            f'intermediates_dir = "{tmp_path}", quiet = TRUE)')
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], cwd=tmp_path, env=r_env,
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (tmp_path / "pyode-from-r.html").read_text()
    error = re.search(r"The largest difference from the exact solution is ([0-9.e-]+)\.", html)
    assert error is not None and float(error.group(1)) < 1e-6
    assert "no-such-method" in html and "test_accuracy" in html
