"""Snakemake's HTML report (`snakemake --report`) of the tiny `.test` profile: every figure and the
paper are inside it, as the files the workflow wrote. Reuses the results of
test_workflow_e2e.py when it ran earlier in the same session; otherwise runs the DAG once."""

from __future__ import annotations

import base64
import re

import pytest
import test_workflow_e2e as e2e
from test_workflow import snakemake

from pyode import registry

pytestmark = pytest.mark.slow

# Snakemake embeds every report() file as data:MIME;charset=...;filename=NAME;base64,CONTENT
DATA_URI = re.compile(
    r"data:[a-z]+/[a-z.+-]+(?:;charset=[^;,\"]+)?;filename=([^;,\"]+);base64,([A-Za-z0-9+/=]+)"
)


@pytest.fixture(scope="module")
def tiny_results(repo_root, subprocess_env, tmp_path_factory):
    if e2e.TINY_RUNS:
        return e2e.TINY_RUNS[-1]
    results, args, _ = e2e.run_tiny_workflow(repo_root, subprocess_env,
                                             tmp_path_factory.mktemp("workflow-report"))
    return results, args


def test_html_report_holds_every_figure_and_the_paper(tiny_results, repo_root, subprocess_env):
    results, args = tiny_results
    report = results / "report" / "report.html"
    report.unlink(missing_ok=True)
    built = snakemake(repo_root, subprocess_env, *args, "--report", str(report))
    assert built.returncode == 0, built.stdout[-5000:]
    text = report.read_text(errors="replace")
    # the files themselves, byte for byte as the workflow wrote them
    embedded = {name: base64.b64decode(data) for name, data in DATA_URI.findall(text)}
    stems = [*registry.TRAINING_FIGURES, *(f"experiment_{n}" for n in registry.experiment_names())]
    for stem in stems:
        for ext in ("pdf", "png"):
            path = results / "figures" / f"{stem}.{ext}"
            assert embedded.get(path.name) == path.read_bytes(), path.name
    paper = (results / "report" / "paper.pdf").read_bytes()
    assert paper[:5] == b"%PDF-"
    assert embedded.get("paper.pdf") == paper
    # the captions of the figure rules are rendered into the report
    assert "Wilson intervals" in text
