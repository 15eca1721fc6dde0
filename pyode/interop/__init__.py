"""Python -> R: the R package pyode (its readers and figures) through rpy2.

rpy2 (and so R) is imported only when one of these functions runs, so `import pyode` never needs R.
Run them in a plain Python process: R embedded by rpy2 cannot be nested in an R session that
reached Python through reticulate.
"""

from pyode.interop.rbridge import (
    TRAINING_FIGURES,
    InteropError,
    call_r,
    from_r_dataframe,
    make_training_figure,
    plot_training,
    r_package,
    read_runs,
    to_r_dataframe,
)

__all__ = [
    "TRAINING_FIGURES",
    "InteropError",
    "call_r",
    "from_r_dataframe",
    "make_training_figure",
    "plot_training",
    "r_package",
    "read_runs",
    "to_r_dataframe",
]
