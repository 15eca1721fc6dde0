"""The rpy2 bridge: pandas frames to R data frames, and the R figure functions called from Python.

The training figures are drawn by the same R code as `Rscripts/plot_training.R` (helpers.R and
figures.R, sourced into the embedded R); only the reading of the CSVs is done here, with pandas.
Conversions use a local converter context, never rpy2's global pandas activation, so other code
in the process sees rpy2's defaults.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from pyode.registry import (
    EPOCH_COLUMNS,
    ITERATION_COLUMNS,
    SUMMARY_FLAGS,
    SUMMARY_NUMBERS,
    SUMMARY_TEXTS,
    TRAINING_FIGURES,
)

# The files read_runs() needs (model.pt is not read); the columns and keys are the registry's,
# which helpers.R checks too (a test compares them), so both readers accept the same runs.
RUN_FILES = ("iterations.csv", "epochs.csv", "summary.json")
# The registry's facts every summary carries; copied onto each row of the run's tables.
REGISTRY_KEYS = ("model_label", "model_rank", "continuous_depth", "dataset_label", "dataset_rank")

# R-side wrapper: returns list(ok, value | message) so an R error becomes one Python exception
# instead of R's console output followed by a traceback.
_R_TRY = """
function(f, ...) tryCatch(
  list(ok = TRUE, value = f(...)),
  error = function(e) list(ok = FALSE, message = conditionMessage(e))
)
"""

_sourced: dict[str, Any] = {}


class InteropError(ValueError):
    """Bad input for a figure, or an error raised by the R code; the message names the cause."""


def rscripts_dir() -> Path:
    """The folder with helpers.R and figures.R: $PYODE_RSCRIPTS, else the checkout's Rscripts/."""
    from_env = os.environ.get("PYODE_RSCRIPTS")
    if from_env:
        return Path(from_env)
    return Path(__file__).resolve().parents[2] / "Rscripts"


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


def source_rscripts(directory: str | os.PathLike[str] | None = None) -> Any:
    """Source helpers.R and figures.R into the embedded R once; returns R's global environment."""
    _check_not_in_reticulate()
    folder = Path(directory) if directory is not None else rscripts_dir()
    key = str(folder.resolve())
    if key in _sourced:
        return _sourced[key]
    for name in ("helpers.R", "figures.R"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"R script not found: {folder / name}")
    import rpy2.robjects as ro

    ro.r["Sys.setenv"](PYODE_RSCRIPTS=key)
    r_try = ro.r(_R_TRY)
    for name in ("helpers.R", "figures.R"):
        _call_r(r_try, ro.r["source"], str(folder / name))
    ro.globalenv[".pyode_try"] = r_try
    _sourced.clear()
    _sourced[key] = ro.globalenv
    return ro.globalenv


def _call_r(r_try: Any, function: Any, *args: Any) -> Any:
    result = r_try(function, *args)
    if not result.rx2("ok")[0]:
        raise InteropError(str(result.rx2("message")[0]))
    return result.rx2("value")


def _r(name: str, *args: Any) -> Any:
    """Call R function `name` from the sourced scripts; an R error becomes InteropError."""
    env = source_rscripts()
    return _call_r(env[".pyode_try"], env[name], *args)


# ---- reading runs (the pandas twin of read_runs() in helpers.R) ----------------------------------


def _read_run_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise InteropError(f"missing file: {path}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InteropError(f"{path} lacks column{plural} " + ", ".join(f"'{c}'" for c in missing))
    if frame.empty:  # a run cut short: say which, instead of leaving it out of the figures
        raise InteropError(f"{path}: only a header, no rows; this run is broken, train it again")
    for column in frame.columns:
        text = frame[column]
        empty = text.isin(["", "NA", "nan", "NaN"])
        numbers = pd.to_numeric(text.where(~empty), errors="coerce")
        bad = numbers.isna() & ~empty
        if column in columns and bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InteropError(
                f"{path}: column '{column}' row {row + 1}: "
                f"expected a number, got '{text.iloc[row]}'"
            )
        if not bad.any():
            frame[column] = numbers.astype(float)
    return frame


def _summary_row(path: Path, dataset: str, model: str, epochs: pd.DataFrame) -> dict[str, Any]:
    if not path.is_file():
        raise InteropError(f"missing file: {path}")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InteropError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise InteropError(f"{path} is not a JSON object")
    missing = [k for k in SUMMARY_NUMBERS if k not in summary]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InteropError(f"{path} lacks key{plural} " + ", ".join(f"'{k}'" for k in missing))
    row: dict[str, Any] = {"dataset": dataset, "model": model}
    for key in SUMMARY_NUMBERS:
        value = summary[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InteropError(f"{path}: key '{key}' must be a number")
        row[key] = float("nan") if value is None else float(value)
    memory = epochs["peak_memory_mb"].dropna()
    row["peak_memory_mb"] = float(memory.max()) if len(memory) else float("nan")
    for key in SUMMARY_TEXTS:
        row[key] = None if summary.get(key) is None else str(summary[key])
    for key in SUMMARY_FLAGS:
        row[key] = bool(summary.get(key))
    # helpers.R's column order: the run's own numbers and texts, then the registry's facts
    own = [k for k in row if k not in REGISTRY_KEYS]
    return {k: row[k] for k in (*own, *REGISTRY_KEYS)}


def read_runs(train_dir: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """All runs under train_dir/{dataset}/{model}/: frames `iterations`, `epochs`, `summary`."""
    root = Path(train_dir)
    if not root.is_dir():
        raise InteropError(f"training folder not found: {root}")
    run_dirs = sorted(
        d for d in root.glob("*/*") if d.is_dir() and any((d / f).exists() for f in RUN_FILES)
    )
    if not run_dirs:
        expected = f"{root}/DATASET/MODEL/{{{','.join(RUN_FILES)}}}"
        raise InteropError(f"no training runs under {root} (expected {expected})")
    iterations, epochs, summaries = [], [], []
    for run_dir in run_dirs:
        dataset, model = run_dir.parent.name, run_dir.name
        run_iterations = _read_run_csv(run_dir / "iterations.csv", ITERATION_COLUMNS)
        run_epochs = _read_run_csv(run_dir / "epochs.csv", EPOCH_COLUMNS)
        summary = _summary_row(run_dir / "summary.json", dataset, model, run_epochs)
        summaries.append(summary)
        for frame, tables in ((run_iterations, iterations), (run_epochs, epochs)):
            for position, key in enumerate(("dataset", "model", *REGISTRY_KEYS)):
                frame.insert(position, key, summary[key])
            tables.append(frame)
    return {
        "iterations": pd.concat(iterations, ignore_index=True),
        "epochs": pd.concat(epochs, ignore_index=True),
        "summary": pd.DataFrame(summaries),
    }


# ---- figures ------------------------------------------------------------------------------------


def _figure_spec(figure: str) -> tuple[str, tuple[float, float]]:
    """(table of read_runs it draws, (width, height) in inches), as figures.R defines them."""
    if figure not in TRAINING_FIGURES:
        raise InteropError(
            f"unknown figure '{figure}' (expected one of {', '.join(TRAINING_FIGURES)})"
        )
    spec = _r("training_figure_spec", figure)
    width, height = (float(x) for x in spec.rx2("size"))
    return str(spec.rx2("table")[0]), (width, height)


def make_training_figure(figure: str, runs: dict[str, pd.DataFrame]) -> Any:
    """The ggplot object of `figure` (R's figure_<name>) drawn from frames as read_runs returns."""
    table, _ = _figure_spec(figure)
    if table not in runs:
        raise InteropError(f"figure '{figure}' needs the '{table}' table")
    return _r(f"figure_{figure}", to_r_dataframe(runs[table]))


def plot_training(
    figure: str, train_dir: str | os.PathLike[str], out_stem: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write out_stem.pdf and out_stem.png of one training figure; returns both paths."""
    _, (width, height) = _figure_spec(figure)
    plot = make_training_figure(figure, read_runs(train_dir))
    stem = Path(out_stem)
    _r("save_figure", plot, str(stem), width, height)
    return stem.with_name(stem.name + ".pdf"), stem.with_name(stem.name + ".png")
