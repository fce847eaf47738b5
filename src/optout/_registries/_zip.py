"""What can go wrong inside a zip archive, in one place (found by fuzzing).

Opening or reading a damaged, encrypted or oddly built archive raises a zoo of exceptions
(``BadZipFile``, ``zlib.error``, ``EOFError``, ``NotImplementedError`` for unsupported
methods, ``RuntimeError`` for encrypted members, ``OSError`` for bad offsets,
``lzma.LZMAError``, ``UnicodeDecodeError`` for a member name flagged UTF-8 that is not);
every registry reader turns them into one ``RegistryFormatError``.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib

__all__ = ["ZIP_ERRORS", "is_member_dir"]

ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    OSError,
    lzma.LZMAError,
    UnicodeDecodeError,
)


def is_member_dir(info: zipfile.ZipInfo) -> bool:
    """Whether a member is a folder (``ZipInfo.is_dir`` fails on an empty name)."""
    return info.filename.endswith("/") or not info.filename
