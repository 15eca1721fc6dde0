"""Snakemake's HTML report (`snakemake --report`) of the tiny `.test` profile: every figure and the
paper are inside it, as the files the workflow wrote (the session's `tiny_dag`, which
test_workflow_e2e.py checks)."""

from __future__ import annotations

import base64
import re

import pytest

from pyode import registry

pytestmark = pytest.mark.slow

# Snakemake embeds every report() file as data:MIME;charset=...;filename=NAME;base64,CONTENT
DATA_URI = re.compile(
    r"data:[a-z]+/[a-z.+-]+(?:;charset=[^;,\"]+)?;filename=([^;,\"]+);base64,([A-Za-z0-9+/=]+)"
)


def test_html_report_holds_every_figure_and_the_paper(tiny_dag, snakemake):
    results, args = tiny_dag.results, tiny_dag.args
    report = results / "report" / "report.html"
    report.unlink(missing_ok=True)
    built = snakemake(*args, "--report", str(report))
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
