"""A run folder that holds either the old complete run or the new complete run, never a mix.

A run is written into a staging folder beside the run folder (`STAGING/NAME.partial`): the CSVs
after every epoch, the checkpoint, then model.pt and summary.json. Only a finished run is
published, by two renames: run folder -> `STAGING/NAME.old`, staging folder -> run folder; then
the old one is removed. A process killed between the renames leaves the old run in
`STAGING/NAME.old`, which the next start puts back. The checkpoint therefore exists only for an
interrupted run: a finished one has none, so a forced rerun always trains afresh and writes every
output. STAGING is one level deeper than the run folders, so that readers looking for
DATASET/MODEL folders that hold run files never take a staging folder for a run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from pyode import registry
from pyode.config_files import ConfigError

CHECKPOINT = "checkpoint.pt"
STAGING = ".staging"
# What a run folder may hold besides the run's own files: publishing replaces the whole folder,
# so a folder with anything else in it is refused rather than lost.
RUN_FOLDER_FILES = frozenset({*registry.RUN_FILES, CHECKPOINT})


def _belongs_to_run(name: str) -> bool:
    """A run file, or the temporary file of an interrupted atomic write of one."""
    return name in RUN_FOLDER_FILES or any(
        name.startswith(f".{run_file}.") and name.endswith(".tmp") for run_file in RUN_FOLDER_FILES)


class RunFolder:
    """The run folder `out`, its staging folder and the publishing of a finished run."""

    def __init__(self, out: str | os.PathLike[str]) -> None:
        self.out = Path(os.path.abspath(out))
        if not self.out.name or self.out == Path(self.out.anchor):
            raise ConfigError(f"--out {os.fspath(out)!r}: not a run folder (give a folder name)")
        # beside the run folder: on the same filesystem, so that renames are atomic
        self.staging = self.out.parent / STAGING / f"{self.out.name}.partial"
        self.old = self.out.parent / STAGING / f"{self.out.name}.old"

    @property
    def checkpoint(self) -> Path:
        return self.staging / CHECKPOINT

    def check_writable(self) -> None:
        """Before any data is loaded: recover an interrupted publish, refuse a run folder that is
        a file, lies under a file, holds other files, or cannot be written."""
        for parent in [self.out, *self.out.parents]:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"--out {self.out}: {parent} is a file, not a folder")
        if self.old.is_dir() and not self.out.exists():
            os.replace(self.old, self.out)  # killed between the two renames of `publish`
        shutil.rmtree(self.old, ignore_errors=True)
        if self.out.is_dir():
            foreign = sorted(p.name for p in self.out.iterdir() if not _belongs_to_run(p.name))
            if foreign:
                raise ConfigError(f"--out {self.out}: holds files that are not a training run's "
                                  f"({', '.join(foreign[:3])}); choose an empty or run folder")
        try:
            self.staging.mkdir(parents=True, exist_ok=True)
            probe = self.staging / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"--out {self.out}: cannot write there "
                              f"({exc.strerror or exc})") from None

    def start_afresh(self) -> None:
        """Empty the staging folder (a new run, or a checkpoint that cannot be continued)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True, exist_ok=True)

    def publish(self) -> None:
        """Replace the run folder by the finished staging folder (without its checkpoint)."""
        self.checkpoint.unlink(missing_ok=True)
        if self.out.exists():
            os.replace(self.out, self.old)
        os.replace(self.staging, self.out)
        shutil.rmtree(self.old, ignore_errors=True)
        with contextlib.suppress(OSError):  # other runs may be staging beside it
            self.staging.parent.rmdir()


def describe_os_error(exc: OSError) -> str:
    """One line for a failed write: the file and the reason (a full disk said in words)."""
    reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{reason}"
