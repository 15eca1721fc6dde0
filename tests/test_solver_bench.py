"""The solver benchmark runs end to end at a tiny size and writes its CSV."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from pyode.bench import per_sample, solver

pytest.importorskip("torchdiffeq")


def test_bench_writes_csv(tmp_path) -> None:
    out = tmp_path / "bench" / "solver.csv"
    args = ["--repeats", "1", "--batch", "2", "--dim", "4", "--size", "3", "--mlp-batch", "4",
            "--mlp-dim", "3", "--per-sample-rows", "0", "--stiff-repeats", "0",
            "--out", str(out)]  # fmt: skip
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
    assert not (out.parent / "per_sample.csv").exists()  # --per-sample-rows 0 skips it
    assert not (out.parent / "stiff.csv").exists()  # --stiff-repeats 0 skips it


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_bench_refuses_cuda_without_a_gpu(capsys) -> None:
    with pytest.raises(SystemExit):
        solver.main(["--device", "cuda", "--repeats", "1"])
    assert "no CUDA GPU" in capsys.readouterr().err


def test_torchode_is_optional(monkeypatch) -> None:
    spiral = next(c for c in solver.CASES if c.workload == "spiral")
    monkeypatch.setattr(solver.importlib.util, "find_spec", lambda name: None)
    assert set(solver.libraries(spiral)) == {"pyode", "torchdiffeq"}


def test_solver_bench_runs_the_per_sample_and_stiff_workloads(tmp_path, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(solver.per_sample, "report", lambda *a: calls.append(a))
    monkeypatch.setattr(solver.stiff, "report", lambda args: calls.append(vars(args)))
    monkeypatch.setattr(solver, "run", lambda args, cases: [])
    out = tmp_path / "solver.csv"
    assert solver.main(["--repeats", "3", "--per-sample-rows", "5", "--stiff-repeats", "2",
                        "--out", str(out)]) == 0  # fmt: skip
    assert calls == [
        (3, 5, str(tmp_path / "per_sample.csv")),
        {"repeats": 2, "out": str(tmp_path / "stiff.csv"), "skip_dopri5": False,
         "vdp_end": solver.stiff.VDP_END, "robertson_end": solver.stiff.ROBERTSON_END},
    ]  # fmt: skip


@pytest.mark.slow
def test_per_sample_bench_writes_csv(tmp_path, capsys) -> None:
    pytest.importorskip("torchode")
    out = tmp_path / "per_sample.csv"
    assert per_sample.main(["--repeats", "1", "--rows", "2", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == per_sample.COLUMNS
    assert set(zip(frame["case"], frame["library"])) == {
        ("solve", "pyode_per_sample"), ("solve", "pyode_joint"), ("solve", "torchode"),
        ("adjoint", "pyode_per_sample"), ("adjoint", "torchode")}  # fmt: skip
    assert (frame["median_seconds"] > 0).all()
    printed = capsys.readouterr().out
    assert "pyode per_sample / torchode" in printed and "BacksolveAdjoint" in printed
