"""python -m pyode.bench <name> [options]: `solver` (training steps against torchdiffeq) or
`stiff` (implicit methods against scipy)."""

from __future__ import annotations

import sys

from pyode.bench import solver, stiff

BENCHMARKS = {"solver": solver.main, "stiff": stiff.main}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in BENCHMARKS:
        print(f"usage: python -m pyode.bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        return 2
    return BENCHMARKS[args[0]](args[1:])


if __name__ == "__main__":
    raise SystemExit(main())
