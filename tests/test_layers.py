"""The package's layers: each module imports only its own layer or those below, with no import
cycle, function-local and type-checking imports included; the registry, the settings checks and
the planner import no torch, nor does planning the test profile (a dry run of the workflow and a
config check stay light)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pyode"

# Bottom to top; a module belongs to the layer of the longest prefix that names it ("pyode" alone
# is the package's __init__, which re-exports the solver).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core: errors, setting tables, YAML, merging",
     ("pyode.atomic", "pyode.config_files", "pyode.setting_tables")),
    # The solver imports nothing of the rest; its plain tables (methods, tableaus, defaults) are
    # torch-free, so the registry can read them.
    ("solver", ("pyode", "pyode.solver", "pyode.compat")),
    ("registry and path layout (no torch)", ("pyode.registry", "pyode.layout", "pyode.profile")),
    ("domain owners: data, models, training, experiments, runtime",
     ("pyode.threads", "pyode.provenance", "pyode.runtime", "pyode.data", "pyode.models",
      "pyode.train", "pyode.experiments")),
    ("planner", ("pyode.planner", "pyode.settings", "pyode.workflow_plan")),
    ("entry points", ("pyode.cli", "pyode.__main__", "pyode.interop", "pyode.bench")),
)
# What the workflow's planning imports: none of it may import torch.
TORCH_FREE = ("pyode.registry", "pyode.layout", "pyode.profile", "pyode.data",
              "pyode.experiments.settings", "pyode.train.config", "pyode.planner", "pyode.settings",
              "pyode.workflow_plan")


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {target for target in found if target in modules and target != name}


def layer_of(name: str) -> int:
    best, best_length = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or (prefix != "pyode" and name.startswith(prefix + "."))
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in module_names() if layer_of(name) < 0)
    assert not missing, f"give these modules a layer in tests/test_layers.py: {missing}"


def test_no_module_imports_a_layer_above_it() -> None:
    upward = [f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} "
              f"({LAYERS[layer_of(target)][0]})"
              for name, targets in import_graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(name)]
    assert not upward, "\n".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            cycle = visit(name)
            if cycle:
                return cycle
    return None


def test_there_is_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_layers_see_function_local_imports(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("def f():\n    from pyode.planner import describe\n")
    modules = {"pyode.planner": Path(), "pyode.registry": Path()}
    assert imported("pyode.registry", module, modules) == {"pyode.planner"}
    assert layer_of("pyode.planner") > layer_of("pyode.registry")


@pytest.mark.parametrize("name", TORCH_FREE)
def test_planning_imports_no_torch(name: str) -> None:
    code = f"import sys, {name}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", f"importing {name} imports torch"


def test_planning_the_test_profile_imports_no_torch() -> None:
    """What `snakemake -n` runs (workflow/rules/common.smk): every data set's and experiment's
    settings are checked from their registry entries, not their modules."""
    code = ("import sys, yaml\n"
            "from pyode.workflow_plan import plan_workflow, workflow_profile\n"
            "config = yaml.safe_load(open('.test/config.yaml')) | {'results': 'results/x'}\n"
            "plan = plan_workflow(workflow_profile(config))\n"
            "assert plan.runs and len(plan.jobs['experiments']) > 1, plan.jobs\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "planning the test profile imports torch"
