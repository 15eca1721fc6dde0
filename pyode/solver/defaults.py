"""The solver's defaults, spelled once: every entry point and every settings table reads them.

Experiments whose tolerances differ on purpose (spiral, cnf, latent) keep their own values;
torchdiffeq's defaults (pyode.compat.torchdiffeq) are torchdiffeq's, not these.
"""

from __future__ import annotations

METHOD = "dopri5"
RTOL = 1e-3
ATOL = 1e-3
# Step-size controller: h_new = h * clip(SAFETY * error_ratio^(-1/(q+1)), DFACTOR, IFACTOR).
SAFETY = 0.9
IFACTOR = 10.0
DFACTOR = 0.2
# Steps (tried, adaptive; on the grid, fixed) before a solve stops with ODESolverError.
MAX_NUM_STEPS = 10_000
