"""Benchmarks: `python -m pyode.bench solver` compares pyode's solver with torchdiffeq."""
