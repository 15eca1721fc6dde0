"""The solver benchmark runs end to end at a tiny size and writes its CSV."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pyode.bench import solver

pytest.importorskip("torchdiffeq")


def test_bench_writes_csv(tmp_path) -> None:
    out = tmp_path / "bench" / "solver.csv"
    args = ["--repeats", "1", "--batch", "2", "--dim", "4", "--size", "3", "--mlp-batch", "4",
            "--mlp-dim", "3", "--out", str(out)]  # fmt: skip
    assert solver.main(args) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == solver.COLUMNS
    assert set(frame["case"]) == {c.name for c in solver.CASES}
    assert {"pyode", "torchdiffeq"} <= set(frame["library"])
    assert (frame["median_seconds"] > 0).all() and (frame["nfe_forward"] > 0).all()
    assert (frame["nfe_backward"] > 0).all()
    pyode_rows = frame[frame["library"] == "pyode"]
    assert (pyode_rows["steps_per_second"] > 0).all()
    assert (pyode_rows["syncs_per_step"] > 0).all()
    assert not list(out.parent.glob(".*.tmp"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_bench_refuses_cuda_without_a_gpu(capsys) -> None:
    with pytest.raises(SystemExit):
        solver.main(["--device", "cuda", "--repeats", "1"])
    assert "no CUDA GPU" in capsys.readouterr().err


def test_torchode_is_optional(monkeypatch) -> None:
    spiral = next(c for c in solver.CASES if c.workload == "spiral")
    monkeypatch.setattr(solver.importlib.util, "find_spec", lambda name: None)
    assert set(solver.libraries(spiral)) == {"pyode", "torchdiffeq"}
