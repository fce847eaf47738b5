"""An on-disk cache for numbering-plan tables derived from libphonenumber's data.

Building the NANP tables of the batch path (the +1 lane and the geocoder's states) takes
most of a second of CPU at every start; they depend only on the installed phonenumbers and
numpy and on optout's own code. They are kept as ``.npz`` files under a cache folder,
named by a digest of all of that, so an upgrade or a code change builds them anew:

- the folder is ``$OPTOUT_CACHE_DIR``, else ``$XDG_CACHE_HOME/optout``, else
  ``~/.cache/optout``; ``OPTOUT_CACHE_DIR=off`` turns the cache off;
- a file that is missing, unreadable or not what was expected is rebuilt; a folder that
  cannot be written is left alone (the tables are then built in memory, as without a cache);
- files are written atomically (a temporary file, then a rename).

The tables hold no phone numbers of anyone: only prefixes and codes from the numbering plan.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import tempfile
import zipfile
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
import phonenumbers

__all__ = ["cache_folder", "cached_arrays"]

_log = logging.getLogger("optout.cache")
_OFF = ("off", "0", "no", "false")
_SOURCES = ("_fastnum.py", "_location.py", "_prefixtable.py", "_tablecache.py")


def cache_folder() -> pathlib.Path | None:
    """Where the tables are kept, or ``None`` when the cache is off."""
    given = os.environ.get("OPTOUT_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in (*_OFF, "") else pathlib.Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "optout"


def _digest(name: str) -> str:
    """What the tables depend on: the library versions and optout's own code."""
    h = hashlib.sha256()
    h.update(f"{name}|{phonenumbers.__version__}|{np.__version__}".encode())
    here = pathlib.Path(__file__).parent
    for source in _SOURCES:
        try:
            h.update((here / source).read_bytes())
        except OSError:  # pragma: no cover - an installation without its sources
            h.update(b"?")
    return h.hexdigest()[:24]


def cached_arrays(
    name: str,
    build: Callable[[], Mapping[str, npt.NDArray[np.generic]]],
    valid: Callable[[Mapping[str, npt.NDArray[np.generic]]], bool],
) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays ``build()`` returns, read from the cache when it holds arrays that pass
    ``valid`` (shapes and types), else built and stored."""
    folder = cache_folder()
    if folder is None:
        return dict(build())
    path = folder / f"{name}-{_digest(name)}.npz"
    try:
        with np.load(path, allow_pickle=False) as stored:
            found = {key: stored[key] for key in stored.files}
        if valid(found):
            return found
        _log.debug("table cache %s does not hold the expected tables; rebuilding it", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        _log.debug("table cache %s unreadable (%s); rebuilding it", path, exc)
    arrays = dict(build())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
            os.replace(temp, path)
        except BaseException:
            pathlib.Path(temp).unlink(missing_ok=True)
            raise
        for old in folder.glob(f"{name}-*.npz"):  # tables of other versions
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        _log.debug("table cache %s not written (%s)", path, exc)
    return arrays
