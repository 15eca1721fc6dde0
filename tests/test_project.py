"""Project hygiene: dependencies agree, code is ruff clean, the CI entry point runs make test."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml

# conda-forge names that differ from the PyPI names
CONDA_NAMES = {"torch": "pytorch"}
NOT_PYTHON = re.compile(r"^(python|pip|r-.*|pandoc|texlive-.*)$")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_names_the_python_dependencies_of_pyproject(repo_root: Path) -> None:
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    expected = {CONDA_NAMES.get(_name(r), _name(r)) for r in wanted}

    env = yaml.safe_load((repo_root / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    assert {n for n in conda if not NOT_PYTHON.match(n)} == expected
    assert {"r-base", "r-ggplot2", "r-rmarkdown", "r-knitr", "r-reticulate", "pandoc"} <= conda


def _constraints(repo_root: Path) -> dict[str, str]:
    lines = (repo_root / "constraints.txt").read_text().splitlines()
    pins = [line.split("#")[0].strip() for line in lines]
    return {_name(p): p.split("==")[1] for p in pins if p}


def test_pinned_versions_agree(repo_root: Path) -> None:
    """The tested pins (constraints.txt, which `make setup` uses) are environment.yml's, and
    every exact pin left in pyproject.toml is one of them."""
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    tested = _constraints(repo_root)
    assert {"torch", "torchvision"} <= set(tested)
    env_text = (repo_root / "environment.yml").read_text()
    for name, version in tested.items():
        assert f"{CONDA_NAMES.get(name, name)}={version}" in env_text
    for requirement in project["dependencies"]:
        if "==" in requirement:
            assert tested[_name(requirement)] == requirement.split("==")[1]
    assert "-c constraints.txt" in (repo_root / "Makefile").read_text()


def test_built_metadata_declares_a_torch_range(repo_root: Path, tmp_path: Path) -> None:
    """The wheel's metadata (built offline by setuptools' PEP 517 hook, from a copy of the
    project's metadata files) lets pyode install beside another torch: a range, not one version,
    which contains the tested one."""
    source = tmp_path / "src"
    (source / "pyode").mkdir(parents=True)
    (source / "pyode" / "__init__.py").write_text("")
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_text((repo_root / name).read_text())
    out = tmp_path / "meta"
    out.mkdir()
    hook = ("import sys, setuptools.build_meta as b; "
            "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", hook, str(out)], cwd=source,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    metadata = (out / done.stdout.split()[-1] / "METADATA").read_text()
    requires = {
        _name(line.split(":", 1)[1]): line.split(":", 1)[1].strip()
        for line in metadata.splitlines() if line.startswith("Requires-Dist:")
    }
    tested = _constraints(repo_root)
    for name in ("torch", "torchvision"):
        spec = requires[name].split(";")[0]
        assert "==" not in spec and ">=" in spec and "<" in spec.replace(">=", ""), spec
        lower = re.search(r">=\s*([\d.]+)", spec).group(1)
        upper = re.search(r"<\s*([\d.]+)", spec.replace(">=", "")).group(1)
        version = tuple(int(x) for x in tested[name].split("."))
        assert tuple(int(x) for x in lower.split(".")) <= version
        assert version < tuple(int(x) for x in upper.split("."))


def test_ruff_clean(repo_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(repo_root)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command(repo_root: Path) -> None:
    assert "make test" in (repo_root / ".ci" / "run").read_text()
    readme = (repo_root / "README.md").read_text()
    assert "make test" in readme and "\nmake\n" in readme


def test_results_are_not_committed(repo_root: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "results"], cwd=repo_root, capture_output=True, text=True
    ).stdout.split()
    assert tracked in ([], ["results/README.md"])


def test_no_test_module_imports_another(repo_root: Path) -> None:
    """Shared helpers are fixtures of tests/conftest.py: a test file imports neither another test
    module nor conftest, so each runs alone and none depends on another's import."""
    tests = repo_root / "tests"
    local = {path.stem for path in tests.glob("*.py")}
    imports = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = ["." * node.level + (node.module or "")]
            else:
                continue
            imports += [f"{path.name}: {name}" for name in names
                        if name.startswith(".") or name.split(".")[0] in local]
    assert imports == []
