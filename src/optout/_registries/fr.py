"""France's Bloctel: upload prospect files, receive them back "expurgés" (cleansed).

How Bloctel works (reference ``registries.md`` section 8): subscribed professionals upload
their prospect files; Bloctel returns them with the numbers of registered consumers
removed; a cleansed file is valid 30 days (operator statement) and lists should be
re-checked at least monthly. A submitted number absent from the returned file is
registered. Bloctel runs until 10 Aug 2026; from 11 Aug 2026 French law requires prior
consent instead, which the FR rule pack (not this backend) encodes with its dates.

.. warning::
   **The file formats are NOT CONFIRMED.** Bloctel's specifications are in the
   professional area only. The guess shipped here follows the one third-party open-source
   uploader found (reference section 8, unverified):

   - **upload** (:meth:`BloctelCodec.write_submission`): UTF-8 CSV, ``;`` separated, a
     header row ``Telephone;Identifiant``, then one row per number: the 10-digit French
     national number with its leading ``0`` (``0123456789``) and a running id, CRLF;
   - **return** (:meth:`BloctelCodec.read_returned`): the same layout with the registered
     numbers removed (a *cleansed* list); the number is read from the first column. A BOM,
     CRLF/LF, blank lines, the header, other separators, ``+33``/``0033`` forms and zip
     archives are tolerated.

   Plain numbers are uploaded (no evidence of hashing). If your subscription documents
   another layout, pass your own codec: ``fr_bloctel(codec=MyCodec())``.
"""

from __future__ import annotations

from collections.abc import Sequence

from optout._registries._base import RegistryOptions
from optout._registries._kinds import ConsultationCodec, ConsultationRegistry
from optout._registries.it import NumberListCodec

__all__ = ["BloctelCodec", "fr_bloctel"]


class BloctelCodec(NumberListCodec):
    """Bloctel prospect files (format NOT CONFIRMED; see the module docstring).

    Upload: ``Telephone;Identifiant`` then ``0123456789;1``, ... (CRLF).
    Return: the same rows minus registered numbers (cleansed).
    """

    #: The return is a cleansed list: an empty one means every number is registered.
    cleansed = True

    def __init__(
        self,
        *,
        header: Sequence[str] = ("Telephone", "Identifiant"),
        delimiter: str = ";",
        encoding: str = "utf-8-sig",
        newline: str = "\r\n",
    ) -> None:
        super().__init__(
            "FR",
            header=header,
            delimiter=delimiter,
            running_id=True,
            encoding=encoding,
            newline=newline,
        )


def fr_bloctel(
    *, codec: ConsultationCodec | None = None, options: RegistryOptions | None = None
) -> ConsultationRegistry:
    """France's Bloctel opposition list, consulted by uploading prospect files.

    ``export_submission`` writes the upload (French numbers only, deduplicated);
    ``ingest`` records the returned "expurgé" file. The default codec's formats are a guess
    (NOT CONFIRMED): pass ``codec=`` for the layout your subscription specifies.
    """
    return ConsultationRegistry(
        "fr_bloctel", codec or BloctelCodec(), country="FR", options=options
    )
