"""Benchmarks: `python -m pyode.bench solver` compares pyode's solver with torchdiffeq (and
torchode), `python -m pyode.bench per_sample` its per-sample steps with torchode's."""
