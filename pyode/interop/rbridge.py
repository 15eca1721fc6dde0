"""The rpy2 bridge: Python calls the R package pyode (`importr("pyode")`) and gets pandas back.

The runs are read by the package's `read_runs()` and the figures drawn by its `plot_training()`
and written by its `write_figure()`, the same functions the workflow's figure rules call, so
Python and R read the run files one way. Conversions use a local converter context, never rpy2's
global pandas activation, so other code in the process sees rpy2's defaults.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pyode.registry import TRAINING_FIGURES

# R-side wrapper: returns list(ok, value | message) so an R error becomes one Python exception
# instead of R's console output followed by a traceback.
_R_TRY = """
function(f, ...) tryCatch(
  list(ok = TRUE, value = f(...)),
  error = function(e) list(ok = FALSE, message = conditionMessage(e))
)
"""

_loaded: dict[str, Any] = {}

# The tables of read_runs() that are data frames.
RUN_TABLES = ("iterations", "epochs", "summary")


class InteropError(ValueError):
    """Bad input for a figure, or an error raised by the R code; the message names the cause."""


def _check_not_in_reticulate() -> None:
    # reticulate loads its `rpytools` helpers into the Python it embeds; starting rpy2's own R
    # there would nest two R sessions in one process.
    if "rpytools" in sys.modules:
        raise InteropError(
            "rpy2 cannot run inside an R session that uses reticulate; "
            "call pyode.interop from a separate Python process (e.g. `pyode plot`)"
        )


def _converter() -> Any:
    from rpy2.robjects import default_converter, pandas2ri

    return default_converter + pandas2ri.converter


def to_r_dataframe(frame: pd.DataFrame) -> Any:
    """Convert a pandas DataFrame to an R data.frame (rpy2 object); NaN stays NA-like in R."""
    _check_not_in_reticulate()
    from rpy2.robjects.conversion import localconverter

    if not isinstance(frame, pd.DataFrame):
        raise InteropError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    with localconverter(_converter()) as converter:
        return converter.py2rpy(frame.reset_index(drop=True))


def from_r_dataframe(r_frame: Any) -> pd.DataFrame:
    """Convert an R data.frame back to pandas, with a fresh 0..n-1 index."""
    _check_not_in_reticulate()
    from rpy2.robjects.conversion import localconverter

    with localconverter(_converter()) as converter:
        frame = converter.rpy2py(r_frame)
    if not isinstance(frame, pd.DataFrame):
        raise InteropError(f"expected an R data.frame, got {type(r_frame).__name__}")
    return frame.reset_index(drop=True)


def r_package() -> Any:
    """The installed R package pyode (`importr("pyode")`), loaded once per process."""
    _check_not_in_reticulate()
    if "package" not in _loaded:
        from rpy2.robjects import r
        from rpy2.robjects.packages import PackageNotInstalledError, importr

        try:
            _loaded["package"] = importr("pyode")
        except PackageNotInstalledError:
            raise InteropError(
                "the R package pyode is not installed: run `make setup` (or "
                "`R CMD INSTALL Rscripts/pyode`)"
            ) from None
        _loaded["try"] = r(_R_TRY)
    return _loaded["package"]


def call_r(name: str, *args: Any) -> Any:
    """Call the R package's function `name`; an R error becomes InteropError with its message."""
    package = r_package()
    result = _loaded["try"](getattr(package, name.replace(".", "_")), *args)
    if not result.rx2("ok")[0]:
        raise InteropError(str(result.rx2("message")[0]))
    return result.rx2("value")


def read_runs(train_dir: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The R package's read_runs(): frames `iterations`, `epochs`, `summary` of every run."""
    runs = call_r("read_runs", str(train_dir))
    return {table: from_r_dataframe(runs.rx2(table)) for table in RUN_TABLES}


def _check_figure(figure: str) -> None:
    if figure not in TRAINING_FIGURES:
        raise InteropError(
            f"unknown figure '{figure}' (expected one of {', '.join(TRAINING_FIGURES)})"
        )


def make_training_figure(figure: str, runs: dict[str, pd.DataFrame]) -> Any:
    """The ggplot of `figure` (the package's plot_training) from frames as read_runs gives."""
    _check_figure(figure)
    from rpy2.robjects import ListVector

    missing = [table for table in RUN_TABLES if table not in runs]
    if missing:
        raise InteropError(f"the runs lack the table(s) {', '.join(missing)}")
    r_runs = ListVector({table: to_r_dataframe(runs[table]) for table in RUN_TABLES})
    return call_r("plot_training", figure, r_runs)


def plot_training(
    figure: str, train_dir: str | os.PathLike[str], out_stem: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write out_stem.pdf and out_stem.png of one training figure; returns both paths."""
    _check_figure(figure)
    written = call_r("write_figure", "training", figure, str(train_dir), str(out_stem))
    pdf, png = (Path(str(path)) for path in written)
    return pdf, png
