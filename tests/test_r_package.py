"""The R package pyode (Rscripts/pyode): its testthat suite; library(pyode) in a fresh session."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_r_scripts import install_r_package

pytestmark = pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")

PACKAGE = Path("Rscripts") / "pyode"


@pytest.fixture(scope="module")
def r_library(repo_root: Path, subprocess_env: dict[str, str], tmp_path_factory) -> Path:
    """The package installed from this checkout into a temporary R library (once per session)."""
    return install_r_package(repo_root, subprocess_env, tmp_path_factory)


def r_env(env: dict[str, str], library: Path) -> dict[str, str]:
    libraries = [str(library), *filter(None, [env.get("R_LIBS")])]
    return dict(env, R_LIBS=os.pathsep.join(libraries))


def test_testthat_suite(repo_root: Path, subprocess_env: dict[str, str], r_library: Path) -> None:
    code = (
        "library(testthat); library(pyode); "
        "res <- as.data.frame(test_dir('testthat', package = 'pyode', "
        "load_package = 'installed', reporter = 'summary', stop_on_failure = TRUE)); "
        "cat(sprintf('\\ntests: %d, failed: %d, skipped: %d\\n', sum(res$nb), sum(res$failed), "
        "sum(res$skipped)))"
    )
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], cwd=repo_root / PACKAGE / "tests",
        env=r_env(subprocess_env, r_library), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "failed: 0" in result.stdout
    # every test that needs Python ran: none may be skipped where pyode's Python exists
    assert "skipped: 0" in result.stdout, result.stdout[-3000:]


def test_fresh_session_finds_the_project_python(
    repo_root: Path, subprocess_env: dict[str, str], r_library: Path, tmp_path: Path
) -> None:
    """From another folder, without RETICULATE_PYTHON: the .venv of the installing project."""
    env = r_env(subprocess_env, r_library)
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
    repo_root: Path, subprocess_env: dict[str, str], r_library: Path, tmp_path: Path
) -> None:
    """The package's R Markdown example: solve an ODE, read a solver error, train a model."""
    example = repo_root / PACKAGE / "inst" / "examples" / "pyode-from-r.Rmd"
    code = (f'rmarkdown::render("{example}", output_dir = "{tmp_path}", '
            f'intermediates_dir = "{tmp_path}", quiet = TRUE)')
    result = subprocess.run(
        ["Rscript", "--vanilla", "-e", code], cwd=tmp_path, env=r_env(subprocess_env, r_library),
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (tmp_path / "pyode-from-r.html").read_text()
    error = re.search(r"The largest difference from the exact solution is ([0-9.e-]+)\.", html)
    assert error is not None and float(error.group(1)) < 1e-6
    assert "no-such-method" in html and "test_accuracy" in html
