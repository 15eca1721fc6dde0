"""Python -> R through rpy2: frame conversion, the R package's reader and figures, `pyode plot`.

The embedded R loads the package installed from this checkout into a temporary library."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pyode import registry

pytest.importorskip("rpy2")
pytestmark = pytest.mark.skipif(shutil.which("R") is None, reason="R is not installed")


@pytest.fixture(scope="module", autouse=True)
def embedded_r_library(r_library: Path) -> Path:
    """This checkout's package first on the embedded R's library path, before it is loaded."""
    import rpy2.robjects as ro

    assert not ro.r("'pyode' %in% loadedNamespaces()")[0], "a pyode package is already loaded"
    ro.r[".libPaths"](ro.StrVector([str(r_library), *ro.r[".libPaths"]()]))
    return r_library


def test_frame_round_trip() -> None:
    import rpy2.robjects as ro

    from pyode.interop import from_r_dataframe, to_r_dataframe

    frame = pd.DataFrame(
        {
            "model": ["mlp", "odenet", "rknet"],
            "loss": [0.5, np.nan, 1.25],
            "iteration": np.array([1, 2, 3], dtype=np.int64),
        },
        index=[10, 11, 12],
    )
    r_frame = to_r_dataframe(frame)
    assert list(ro.r["class"](r_frame)) == ["data.frame"]
    assert list(ro.r["sapply"](r_frame, "class")) == ["character", "numeric", "integer"]
    assert list(ro.r["is.na"](r_frame.rx2("loss"))) == [False, True, False]
    assert ro.r["sum"](r_frame.rx2("iteration"))[0] == 6

    back = from_r_dataframe(r_frame)
    assert list(back.index) == [0, 1, 2]
    assert list(back.columns) == ["model", "loss", "iteration"]
    assert back["model"].tolist() == frame["model"].tolist()
    np.testing.assert_array_equal(back["loss"].to_numpy(), frame["loss"].to_numpy())
    assert back["iteration"].tolist() == [1, 2, 3]
    # no global activation: outside the bridge rpy2 keeps its default (no pandas) conversion
    with pytest.raises(NotImplementedError):
        ro.conversion.get_conversion().py2rpy(frame)


def test_read_runs_is_the_r_package_reader(tmp_path: Path, r_library: Path,
                                           write_fake_runs) -> None:
    import rpy2.robjects as ro

    from pyode.interop import InteropError, r_package, read_runs

    write_fake_runs(tmp_path)
    runs = read_runs(tmp_path)
    assert str(ro.r["find.package"]("pyode")[0]) == str(r_library / "pyode")
    assert r_package().__rname__ == "pyode"
    assert list(runs) == ["iterations", "epochs", "summary"]
    summary = runs["summary"]
    assert len(summary) == 7
    assert set(registry.run_labels("mnist", "odenet")) <= set(summary.columns)
    assert list(runs["epochs"].columns[-len(registry.EPOCH_COLUMNS):]) == list(
        registry.EPOCH_COLUMNS)
    # peak memory of a run = its largest epoch value (fake: 110 + run index, odenet runs 3 and 6)
    odenet = summary.set_index("model").loc["odenet", "peak_memory_mb"]
    assert sorted(odenet.tolist()) == [113.0, 116.0]
    epochs = tmp_path / "mnist" / "mlp" / "epochs.csv"
    epochs.write_text(",".join(registry.EPOCH_COLUMNS) + "\n")
    with pytest.raises(InteropError, match=f"{epochs} has a header but no rows"):
        read_runs(tmp_path)


def test_figure_from_pandas_frames(tmp_path: Path, write_fake_runs) -> None:
    import rpy2.robjects as ro

    from pyode.interop import InteropError, make_training_figure, read_runs

    write_fake_runs(tmp_path)
    plot = make_training_figure("params", read_runs(tmp_path))
    assert "ggplot" in list(ro.r["class"](plot))
    with pytest.raises(InteropError, match="unknown figure 'loss'"):
        make_training_figure("loss", {})


def test_pyode_plot_writes_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  write_fake_runs) -> None:
    from pyode.cli import main

    write_fake_runs(tmp_path / "train")
    stem = tmp_path / "figures" / "losses"
    assert main(["plot", "losses", "--train-dir", str(tmp_path / "train"), "--out", str(stem)]) == 0
    assert capsys.readouterr().out.split() == ["wrote", f"{stem}.pdf", "wrote", f"{stem}.png"]
    assert (tmp_path / "figures" / "losses.pdf").read_bytes()[:4] == b"%PDF"
    assert (tmp_path / "figures" / "losses.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in stem.parent.iterdir()) == ["losses.pdf", "losses.png"]


def test_pyode_plot_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              write_fake_runs) -> None:
    from pyode.cli import main

    train = tmp_path / "train"
    write_fake_runs(train, runs=(("mnist", "mlp"),))
    csv = train / "mnist" / "mlp" / "iterations.csv"
    pd.read_csv(csv).drop(columns="loss_ewm").to_csv(csv, index=False)
    stem = tmp_path / "figures" / "losses"
    assert main(["plot", "losses", "--train-dir", str(train), "--out", str(stem)]) == 2
    assert capsys.readouterr().err == f"pyode plot: error: {csv} lacks column 'loss_ewm'\n"
    # the R side's errors come back the same way: the NFE figure needs an ODE model
    csv.unlink()
    write_fake_runs(train, runs=(("mnist", "mlp"),))
    assert main(["plot", "nfe", "--train-dir", str(train), "--out", str(stem)]) == 2
    assert "no continuous-depth runs" in capsys.readouterr().err
    assert not stem.parent.exists()


def test_refuses_to_start_r_inside_reticulate(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyode.interop import InteropError, to_r_dataframe

    monkeypatch.setitem(sys.modules, "rpytools", object())
    with pytest.raises(InteropError, match="reticulate"):
        to_r_dataframe(pd.DataFrame({"x": [1.0]}))
