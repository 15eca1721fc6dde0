"""The stiff benchmark runs end to end on short spans and writes its CSV."""

from __future__ import annotations

import pandas as pd

from pyode.bench import stiff


def test_stiff_bench_writes_csv(tmp_path, capsys) -> None:
    out = tmp_path / "bench" / "stiff.csv"
    args = ["--repeats", "1", "--vdp-end", "50", "--robertson-end", "10", "--skip-dopri5",
            "--out", str(out)]  # fmt: skip
    assert stiff.main(args) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == stiff.COLUMNS
    assert set(frame["case"]) == {"vdp_mu1000", "robertson"}
    assert set(frame["solver"]) == {"pyode kvaerno5", "scipy Radau", "scipy BDF"}
    assert (frame["median_seconds"] > 0).all() and (frame["nfe"] > 0).all()
    assert (frame["error"] < 1e-3).all()
    # Newton work beside scipy's njev / nlu.
    assert (frame["jacobians"] > 0).all() and (frame["factorizations"] > 0).all()
    printed = capsys.readouterr().out
    assert "Van der Pol target" in printed and "on [0, 50] instead of the target's" in printed


def test_dopri5_does_not_finish_van_der_pol(monkeypatch) -> None:
    monkeypatch.setattr(stiff, "DOPRI5_STEPS", 500)
    assert stiff.dopri5_on_vdp().startswith("dopri5 does not finish: max_num_steps=500 exceeded")
