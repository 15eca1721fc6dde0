"""Drop-in interfaces of other ODE libraries, backed by pyode's solvers."""
