"""Write the provenance record of a workflow run: code version, configuration, versions, device."""

import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any


def r_version() -> str:
    """The version of the R that renders the figures and the paper, or 'unavailable'."""
    try:
        result = subprocess.run(
            ["Rscript", "--vanilla", "-e", "cat(R.version.string)"],
            capture_output=True, text=True, check=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return "unavailable"
    return result.stdout.strip()


def recorded_device(device: str) -> str:
    """What `device: auto` means on this machine; an explicit device is recorded as configured."""
    if device != "auto":
        return device
    from pyode.runtime import resolve_device

    return resolve_device(device).type


def training_devices(summaries: list[str]) -> dict[str, str]:
    """The device each training run reported, keyed by dataset/model."""
    devices = {}
    for path in summaries:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        devices[f"{summary.get('dataset')}/{summary.get('model')}"] = str(summary.get("device"))
    return devices


def provenance(config: dict[str, Any], summaries: list[str]) -> dict[str, Any]:
    import snakemake as snakemake_module

    from pyode.provenance import device_name, git_commit, versions

    device = recorded_device(config["device"])
    try:
        described = device_name(device)
    except (RuntimeError, AssertionError):  # cuda requested on a machine without a GPU
        described = device
    return {
        "git_commit": git_commit(Path.cwd()),
        "profile": config.get("profile"),
        "device": {"configured": config["device"], "resolved": device, "name": described},
        "training_devices": training_devices(summaries),
        "versions": {
            **versions(),
            "snakemake": snakemake_module.__version__,
            "R": r_version(),
        },
        "config": config,
    }


def main(smk: Any) -> None:
    from pyode.atomic import write_json

    with open(smk.log[0], "w", encoding="utf-8") as log:
        try:
            record = provenance(json.loads(smk.params.config), list(smk.input.summaries))
            write_json(smk.output[0], record)
        except Exception:
            traceback.print_exc(file=log)
            raise
        print(f"wrote {smk.output[0]}", file=log)


if __name__ == "__main__" and "snakemake" in globals():
    try:
        main(globals()["snakemake"])
    except Exception as exc:
        sys.exit(f"provenance: error: {exc}")
