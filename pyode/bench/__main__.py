"""python -m pyode.bench <name> [options]: `solver` (training steps against torchdiffeq),
`stiff` (implicit methods against scipy) or `per_sample` (per-sample steps against torchode)."""

from __future__ import annotations

import sys

from pyode.bench import per_sample, solver, stiff

BENCHMARKS = {"solver": solver.main, "stiff": stiff.main, "per_sample": per_sample.main}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in BENCHMARKS:
        print(f"usage: python -m pyode.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    return BENCHMARKS[args[0]](args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
