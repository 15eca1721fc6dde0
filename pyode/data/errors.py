"""The one exception type of the data layer: bad or missing input, named down to the field."""

from __future__ import annotations

import os


class DataError(Exception):
    """Invalid or missing input data.

    `str()` is a single line naming the file, the record index and id and the field, e.g.
    ``train.json: record 17 (id 'abc123'), field 'band_1': expected 5625 values, got 5624``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike[str] | None = None,
        record: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = " ".join(str(message).split())  # always one line
        self.file = None if file is None else os.fspath(file)
        self.record = record
        self.record_id = record_id
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where: list[str] = []
        if self.record is not None:
            where.append(f"record {self.record}")
        if self.record_id is not None:
            if where:
                where[-1] += f" (id {self.record_id!r})"
            else:
                where.append(f"id {self.record_id!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        location = ", ".join(where)
        prefix = ": ".join(p for p in (self.file, location) if p)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __str__(self) -> str:
        return self._format()


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A required data file is absent; the message says how to obtain it."""


def shorten(text: str, limit: int = 160) -> str:
    """One line of at most `limit` characters, for quoting third-party error messages."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
