"""Australia's Do Not Call Register (ACMA): "wash" a list, get it back with registered numbers
identified.

How the DNCR works (reference ``registries.md`` section 5): an access seeker submits a list
(web, Quick check, or the Automated Washing Service over SFTP); the register returns it
"with all registered numbers identified" (s 19 of the Do Not Call Register Act 2006 also
allows answering with the registered or unregistered numbers only, or with the registered
ones deleted). The s 11(3) defence needs a "not registered" answer within the 30 days
ending on the day of the call. Invalid entries are charged without warning, which is why
:meth:`ConsultationRegistry.export_submission` drops numbers that are not valid Australian
numbers before they are written.

.. warning::
   **The file formats are NOT CONFIRMED.** ACMA's wash file layouts were not available.
   The guess shipped here:

   - **upload** (:meth:`DncrCodec.write_submission`): UTF-8 text, no header, one number
     per line in Australian national format with its leading ``0`` (``0212345678``,
     ``0412345678``), CRLF;
   - **return** (:meth:`DncrCodec.read_returned`): a *flagged* list, one row per submitted
     number: the number, then its answer, comma (or ``;``, tab, ``|``) separated, an
     optional header row. Answers read as registered: ``Registered``, ``Y``, ``Yes``,
     ``True``, ``1``, ``Listed``; as not registered: ``Not Registered``, ``Unregistered``,
     ``N``, ``No``, ``False``, ``0``, ``Clear`` (case-insensitive). Any other answer (such
     as ``Invalid``) makes the file unusable, with the line named. A submitted number
     missing from the file is an error (flagged lists answer for every number).

   If your subscription documents another layout, pass your own codec:
   ``au_dncr(codec=DncrCodec(status_column=2))`` or any
   :class:`optout.registries.ConsultationCodec`.
"""

from __future__ import annotations

from collections.abc import Iterable

from optout._errors import ConfigurationError
from optout._registries._base import RegistryOptions
from optout._registries._kinds import ConsultationCodec, ConsultationRegistry
from optout._registries.it import NumberListCodec

__all__ = ["DncrCodec", "au_dncr"]

LISTED_WORDS = frozenset({"registered", "y", "yes", "true", "1", "listed"})
CLEAR_WORDS = frozenset(
    {"not registered", "notregistered", "unregistered", "n", "no", "false", "0", "clear"}
)


class DncrCodec(NumberListCodec):
    """DNCR wash files (format NOT CONFIRMED; see the module docstring).

    Args:
        status_column: the returned file's column (0-based) holding the answer.
        listed_words, clear_words: the answers meaning registered / not registered
            (compared case-insensitively, spaces and ``_``/``-`` folded to one space).
        encoding, newline: as for :class:`optout._registries.it.NumberListCodec`.
    """

    def __init__(
        self,
        *,
        status_column: int = 1,
        listed_words: Iterable[str] = LISTED_WORDS,
        clear_words: Iterable[str] = CLEAR_WORDS,
        encoding: str = "utf-8-sig",
        newline: str = "\r\n",
    ) -> None:
        super().__init__("AU", delimiter=",", encoding=encoding, newline=newline)
        if status_column < 1:
            raise ConfigurationError("status_column must be after the number column (>= 1)")
        self.status_column = status_column
        self.listed_words = frozenset(_fold(w) for w in listed_words)
        self.clear_words = frozenset(_fold(w) for w in clear_words)
        if self.listed_words & self.clear_words:
            raise ConfigurationError("an answer cannot mean both registered and not registered")

    def status(self, row: list[str]) -> str | None:
        if len(row) <= self.status_column or not row[self.status_column]:
            raise ValueError("no answer for this number")
        word = _fold(row[self.status_column])
        if word in self.listed_words:
            return "listed"
        if word in self.clear_words:
            return "clear"
        raise ValueError(f"unknown answer {row[self.status_column][:40]!r}")


def _fold(word: str) -> str:
    return " ".join(word.strip().lower().replace("_", " ").replace("-", " ").split())


def au_dncr(
    *, codec: ConsultationCodec | None = None, options: RegistryOptions | None = None
) -> ConsultationRegistry:
    """Australia's Do Not Call Register, consulted by washing call lists.

    ``export_submission`` writes the upload (valid Australian numbers only, deduplicated);
    ``ingest`` records the returned list, whose every row says registered or not. The
    default codec's formats are a guess (NOT CONFIRMED): pass ``codec=`` for yours.
    """
    return ConsultationRegistry("au_dncr", codec or DncrCodec(), country="AU", options=options)
