"""Write the validated workflow configuration as the YAML file every pyode job reads (--config)."""

import sys
import traceback
from typing import Any

import yaml

HEADER = "# Written by the workflow (rule resolved_config); edit config/*.yaml.\n"


def write_config(config: dict[str, Any], path: str) -> None:
    from pyode.atomic import atomic_open

    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(HEADER)
        yaml.safe_dump(config, handle, sort_keys=False, default_flow_style=False)


def main(smk: Any) -> None:
    with open(smk.log[0], "w", encoding="utf-8") as log:
        try:
            write_config(dict(smk.params.config), smk.output[0])
        except Exception:
            traceback.print_exc(file=log)
            raise
        print(f"wrote {smk.output[0]}", file=log)


if __name__ == "__main__" and "snakemake" in globals():
    try:
        main(globals()["snakemake"])
    except Exception as exc:
        sys.exit(f"write_config: error: {exc}")
