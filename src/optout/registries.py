"""Registry backends: the interface, the three kinds, and choosing one by name or URL.

>>> import optout.registries as reg
>>> "it_rpo" in reg.available()
True

See ``docs/registries.md``.
"""

from optout._registries._base import Registry, RegistryFact, RegistryKind, RegistryOptions
from optout._registries._catalog import ENTRY_POINT_GROUP, available, create, defaults
from optout._registries._kinds import (
    MIN_FULL_LIST,
    ConsultationCodec,
    ConsultationRegistry,
    ConsultationReport,
    ExportReport,
    ParsedChunk,
    RemoteRegistry,
    SnapshotCodec,
    SnapshotRegistry,
)
from optout._registries._store import Answer, RegistryStore, SnapshotInfo
from optout._registries.generic import LinesCodec, file_registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "MIN_FULL_LIST",
    "Answer",
    "ConsultationCodec",
    "ConsultationRegistry",
    "ConsultationReport",
    "ExportReport",
    "LinesCodec",
    "ParsedChunk",
    "Registry",
    "RegistryFact",
    "RegistryKind",
    "RegistryOptions",
    "RegistryStore",
    "RemoteRegistry",
    "SnapshotCodec",
    "SnapshotInfo",
    "SnapshotRegistry",
    "available",
    "create",
    "defaults",
    "file_registry",
]
