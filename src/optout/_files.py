"""Files: reading text inputs and writing outputs atomically."""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import tempfile
from collections.abc import Iterator
from typing import IO

from optout._errors import ConfigurationError

__all__ = ["atomic_text_file", "open_text"]


@contextlib.contextmanager
def open_text(source: str | os.PathLike[str] | IO[str]) -> Iterator[IO[str]]:
    """Open a path as UTF-8 text (a BOM is tolerated), or pass an open text stream through.

    Undecodable bytes become a :class:`ConfigurationError` naming the file.
    """
    if not isinstance(source, (str, os.PathLike)):
        yield source
        return
    name = os.fspath(source)
    try:
        handle = open(source, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}: {exc.strerror}") from None
    try:
        yield handle
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{name} is not valid UTF-8 text (byte {exc.start}); convert it to UTF-8"
        ) from None
    finally:
        handle.close()


class atomic_text_file:
    """Write a text file atomically: a temporary file in the same folder, fsynced, renamed.

    If the body raises (or the process dies), the target is left as it was.
    """

    def __init__(self, path: pathlib.Path, *, newline: str = "") -> None:
        self._path = path
        self._newline = newline
        self._tmp: pathlib.Path | None = None
        self._handle: IO[str] | None = None

    def __enter__(self) -> IO[str]:
        folder = self._path.resolve().parent
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {self._path}: {exc.strerror}") from None
        self._tmp = pathlib.Path(name)
        self._handle = io.open(fd, "w", encoding="utf-8", newline=self._newline)  # noqa: UP020
        return self._handle

    def __exit__(self, exc_type: object, *rest: object) -> None:
        assert self._handle is not None
        assert self._tmp is not None
        try:
            if exc_type is None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            self._handle.close()
            if exc_type is None:
                os.replace(self._tmp, self._path)
                _fsync_dir(self._path.resolve().parent)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


def _fsync_dir(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform can open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
