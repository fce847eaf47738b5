"""Base classes for the three kinds of registry backend.

Concrete backends (``us_dnc``, ``it_rpo``, ``es_robinson``, ...) subclass one of these and
supply a codec (file formats) or a ``query`` method (remote APIs).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pathlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from optout._consents import _text
from optout._errors import (
    ConfigurationError,
    OptoutError,
    RegistryError,
    RegistryFormatError,
    RegistryUnavailableError,
)
from optout._files import atomic_text_file
from optout._registries._base import (
    Codes,
    RegistryFact,
    RegistryKind,
    RegistryOptions,
    codes_of,
    unavailable,
)
from optout._registries._snapshot import EPOCH, Days, Keys, e164_keys, open_index
from optout._registries._store import Answer, RegistryStore, SnapshotInfo, supersedes
from optout._timeutil import instant, utcnow

#: The fewest distinct numbers a full-list import may hold unless the caller says it is a
#: full list on purpose (``import_files(..., full_list=True)``, ``--full-list``): fewer
#: are taken for a partial list, which as a snapshot would make every other number clear.
MIN_FULL_LIST = 1_000
#: How far in the future a recorded answer's ``checked_at`` may be (clock skew).
_SKEW = dt.timedelta(minutes=5)

__all__ = [
    "MIN_FULL_LIST",
    "ConsultationCodec",
    "ConsultationRegistry",
    "ConsultationReport",
    "ExportReport",
    "ParsedChunk",
    "RemoteRegistry",
    "SnapshotCodec",
    "SnapshotRegistry",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedChunk:
    """A piece of a parsed registry file.

    ``keys`` are E.164 digits as integers; ``days`` registration days since 1970 when the
    format carries dates; ``deletes`` keys a change list removes; ``rejected`` lines that
    could not be used, with up to a few ``(line, why)`` samples.
    """

    keys: Keys
    days: Days | None = None
    deletes: Keys | None = None
    rejected: int = 0
    samples: tuple[tuple[int, str], ...] = ()


class SnapshotCodec(Protocol):
    """Reads one registry file format (it may accept several variants)."""

    def read(self, path: pathlib.Path) -> Iterator[ParsedChunk]: ...


def _answer_fact(registry: str, a: Answer, options: RegistryOptions) -> RegistryFact:
    """A stored answer as a fact."""
    return RegistryFact(
        registry=registry,
        status="listed" if a.status == "listed" else "clear",
        checked_at=a.checked_at,
        registered_at=a.registered_at,
        valid_until=a.valid_until,
        evidence=a.evidence,
        source=a.source,
        fail_open=options.fail_open,
        validity=options.validity,
    )


def _supersedes(a: Answer, fact: RegistryFact) -> bool:
    """Whether a stored answer replaces a snapshot's: it is newer, or as old and listed
    where the snapshot says clear. A snapshot that could not be read stays unavailable."""
    if fact.status == "unknown":
        return True
    if fact.status not in ("listed", "clear") or fact.checked_at is None:
        return False
    return supersedes(a.checked_at, a.status, fact.checked_at, fact.status)


class _Bound:
    _store: RegistryStore | None = None

    @property
    def store(self) -> RegistryStore:
        if self._store is None:
            raise ConfigurationError(
                f"registry {getattr(self, 'id', '?')} is not bound to a database; pass it to "
                "Compliance(registries=[...]) or call bind(client.registry_store)"
            )
        return self._store

    def bind(self, store: RegistryStore) -> None:
        self._store = store

    def _facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        raise NotImplementedError

    def facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        """One fact per number; a failing database or data file gives ``unavailable``."""
        try:
            return self._facts(numbers, at)
        except (OptoutError, OSError) as exc:
            return unavailable(
                getattr(self, "id", "?"),
                numbers,
                f"{type(exc).__name__}: {exc}",
                fail_open=self._options().fail_open,
            )

    def _options(self) -> RegistryOptions:
        options = getattr(self, "options", None)
        return options if isinstance(options, RegistryOptions) else RegistryOptions()

    def record_answer(
        self,
        number: str,
        listed: bool,
        *,
        checked_at: dt.datetime,
        source: str,
        reference: str | None = None,
        registered_at: dt.datetime | None = None,
        region: str | None = None,
    ) -> Answer:
        """Store what this registry said about one number at ``checked_at``, with its
        provenance, and return the stored answer.

        For numbers looked up one by one (the FTC's interactive search, a TPS screening
        bureau, an offline Robinson consultation): only ``number`` gets the answer; every
        other number keeps what the registry's data says (the snapshot in force, its
        consultations), or stays not consulted. The newest answer for a number wins; of a
        snapshot and an answer of the same instant, ``listed`` wins.

        Args:
            listed: whether the registry said the number is registered.
            checked_at: when the registry answered (timezone-aware; not in the future).
            source: who or what answered (``"FTC interactive search"``), at most 200
                characters.
            reference: the registry's or the bureau's reference for the look-up.
            registered_at: the registration date the registry gave, for a listed number.
            region: the region of a number written without a country code.

        Raises:
            NaiveDatetimeError: ``checked_at`` or ``registered_at`` has no time zone.
            ConfigurationError: ``checked_at`` in the future, a registration date for a
                number not listed or after the answer, an empty ``source``, or a backend
                not bound to a database.
            InvalidNumberError: ``number`` is not a valid phone number.
        """
        from optout._numbers import normalize  # noqa: PLC0415

        if not isinstance(listed, bool):
            raise ConfigurationError(f"listed must be True or False, got {listed!r}")
        checked = instant(checked_at, name="checked_at")
        if checked > utcnow() + _SKEW:
            raise ConfigurationError(
                f"checked_at {checked.isoformat()} is in the future: record an answer once given"
            )
        since = None if registered_at is None else instant(registered_at, name="registered_at")
        if since is not None and not listed:
            raise ConfigurationError("registered_at is only for a number the registry lists")
        if since is not None and since > checked:
            raise ConfigurationError("registered_at must not be after checked_at")
        said = _text(source, "source")
        if said is None:
            raise ConfigurationError("source is required: who or what answered")
        ref = _text(reference, "reference")
        e164 = normalize(number, region or getattr(self, "country", None)).e164
        registry = getattr(self, "id", "?")
        proof = (
            f"{registry} answer {ref or 'recorded'} of {checked:%Y-%m-%d}: "
            f"{'listed' if listed else 'not listed'} per {said}"
        )
        answer = Answer(
            registry=registry,
            number=e164,
            status="listed" if listed else "clear",
            checked_at=checked,
            registered_at=since,
            evidence=proof,
            source=f"recorded: {said}"[:200],
        )
        self.store.save_answers([answer])
        return answer


class SnapshotRegistry(_Bound):
    """A registry kept whole on this host, as a memory-mapped index (see ``_snapshot``).

    Args:
        id: the registry id the packs name (``"us_dnc"``).
        codec: reads the registry's files.
        options: fail-open and validity settings.
        max_rejected: the share of unusable lines above which an import is refused (the
            snapshot in force stays). Rejected lines are always counted and reported.
        min_numbers: the fewest distinct numbers a full-list import may hold without
            ``full_list=True`` (default :data:`MIN_FULL_LIST`; 0 for a list that is
            small by nature, such as a short customer list).

    Answers recorded one by one (:meth:`record_answer`) complete the snapshot: a number
    with one gets the newer of the two answers (``listed`` on the same instant).
    """

    kind = RegistryKind.SNAPSHOT

    def __init__(
        self,
        id: str,
        codec: SnapshotCodec,
        *,
        options: RegistryOptions | None = None,
        max_rejected: float = 0.01,
        min_numbers: int = MIN_FULL_LIST,
    ) -> None:
        self.id = id
        self.codec = codec
        self.options = options or RegistryOptions()
        self.max_rejected = max_rejected
        self.min_numbers = min_numbers

    def _facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        if not numbers:
            return []
        codes, facts = self._fact_codes(e164_keys(list(numbers)), at)
        return [facts[c] for c in codes.tolist()]

    def fact_codes(self, keys: Keys, at: dt.datetime) -> tuple[Codes, list[RegistryFact]]:
        """:meth:`facts` for E.164 keys (``+12025550123`` is ``12025550123``), vectorized:
        each key's answer as an index into a list of distinct answers."""
        try:
            return self._fact_codes(np.asarray(keys, dtype=np.uint64), at)
        except (OptoutError, OSError) as exc:
            fact = unavailable(
                self.id, ["?"], f"{type(exc).__name__}: {exc}", fail_open=self.options.fail_open
            )[0]
            return np.zeros(len(keys), dtype=np.int32), [fact]

    def prepare(self) -> None:
        """Map the active snapshot's index and build its search fence now (see
        ``SnapshotIndex.prepare``), for a run about to look up many numbers; a failure is
        left for the look-ups to report."""
        try:
            info = self.store.active_snapshot(self.id)
            if info is not None:
                open_index(info.path, info.checksum).prepare()
        except (OptoutError, OSError):
            return

    def _fact_codes(self, keys: Keys, at: dt.datetime) -> tuple[Codes, list[RegistryFact]]:
        codes, facts = self._snapshot_codes(keys, at)
        if not len(keys) or not self.store.has_answers(self.id):
            return codes, facts
        return self._with_answers(keys, codes, facts)

    def _with_answers(
        self, keys: Keys, codes: Codes, facts: list[RegistryFact]
    ) -> tuple[Codes, list[RegistryFact]]:
        """The snapshot's answers, each replaced by a recorded answer that supersedes it
        (one query for the numbers of ``keys``)."""
        numbers = [f"+{k}" for k in np.asarray(keys).tolist()]
        answers = self.store.latest_answers(self.id, numbers)
        if not answers:
            return codes, facts
        out = codes.copy()
        index = {f: i for i, f in enumerate(facts)}
        for i, number in enumerate(numbers):
            a = answers.get(number)
            if a is not None and _supersedes(a, facts[int(codes[i])]):
                out[i] = index.setdefault(_answer_fact(self.id, a, self.options), len(index))
        return out, list(index)

    def _snapshot_codes(self, keys: Keys, at: dt.datetime) -> tuple[Codes, list[RegistryFact]]:
        zeros = np.zeros(len(keys), dtype=np.int32)
        info = self.store.active_snapshot(self.id)
        if info is None:
            fact = RegistryFact(
                registry=self.id,
                status="unknown",
                detail="no snapshot imported",
                fail_open=self.options.fail_open,
            )
            return zeros, [fact]
        try:
            index = open_index(info.path, info.checksum)
        except RegistryError as exc:
            fact = RegistryFact(
                registry=self.id,
                status="unavailable",
                detail=str(exc),
                fail_open=self.options.fail_open,
            )
            return zeros, [fact]
        pos, found = index.positions(keys)
        proof = f"{self.id} snapshot {info.version} ({info.count} numbers, {info.checksum[:16]})"
        clear = RegistryFact(
            registry=self.id,
            status="clear",
            checked_at=info.taken_at,
            evidence=proof,
            source=info.source[:200],
            fail_open=self.options.fail_open,
            validity=self.options.validity,
        )
        listed = dataclasses.replace(clear, status="listed")
        codes = found.astype(np.int32)
        if index.days is None or not found.any():
            return codes, [clear, listed]
        days, which = np.unique(np.asarray(index.days[pos[found]]), return_inverse=True)
        codes[found] = 1 + which.astype(np.int32)
        facts = [clear] + [
            dataclasses.replace(
                listed,
                registered_at=dt.datetime.combine(
                    EPOCH + dt.timedelta(days=int(d)), dt.time(), tzinfo=dt.UTC
                ),
            )
            for d in days.tolist()
        ]
        return codes, facts

    def _parse(
        self, paths: Iterable[str | os.PathLike[str]]
    ) -> tuple[list[Keys], list[Days], list[Keys], int, list[tuple[int, str]], int, list[str]]:
        keys: list[Keys] = []
        days: list[Days] = []
        deletes: list[Keys] = []
        rejected, total = 0, 0
        samples: list[tuple[int, str]] = []
        names: list[str] = []
        dated: bool | None = None
        for raw in paths:
            path = pathlib.Path(raw)
            names.append(path.name)
            if not path.is_file():
                raise RegistryFormatError("no such file", path=str(path))
            for chunk in self.codec.read(path):
                keys.append(chunk.keys)
                if chunk.days is not None:
                    days.append(chunk.days)
                if dated is None and len(chunk.keys):
                    dated = chunk.days is not None
                if chunk.deletes is not None:
                    deletes.append(chunk.deletes)
                rejected += chunk.rejected
                total += (
                    len(chunk.keys)
                    + chunk.rejected
                    + (0 if chunk.deletes is None else len(chunk.deletes))
                )
                samples.extend(chunk.samples[: max(0, 5 - len(samples))])
        return keys, days, deletes, rejected, samples, total, names

    def _check_rejections(
        self, rejected: int, total: int, samples: list[tuple[int, str]], names: list[str]
    ) -> None:
        if total == 0:
            raise RegistryFormatError("no numbers found", path=", ".join(names))
        if rejected and rejected / total > self.max_rejected:
            first = "; ".join(f"line {line}: {why}" for line, why in samples[:3])
            raise RegistryFormatError(
                f"{rejected} of {total} lines rejected (more than {self.max_rejected:.1%}); "
                f"the snapshot in force is unchanged. First: {first}",
                path=", ".join(names),
                rejected=rejected,
            )

    def import_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        taken_at: dt.datetime,
        full_list: bool = False,
    ) -> SnapshotInfo:
        """Import full-list files as a new snapshot version and put it in force.

        ``taken_at`` is the date of the list (its download date). The previous version
        stays in force until the new one is complete. Every number not in the files is
        clear from then on, so files with fewer than :attr:`min_numbers` distinct numbers
        are refused as a partial list unless ``full_list`` says they are the whole list;
        record answers for single numbers with :meth:`record_answer` instead.

        Raises:
            RegistryFormatError: unreadable files, too many rejected lines, a change
                list (deletions) given as a full list, or too few numbers for a full list.
        """
        keys, days, deletes, rejected, samples, total, names = self._parse(paths)
        if deletes:
            raise RegistryFormatError(
                "these are change lists (they delete numbers): use apply_changes / --changes",
                path=", ".join(names),
            )
        self._check_rejections(rejected, total, samples, names)
        all_keys = np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)
        if not full_list:
            self._check_full(all_keys, names)
        all_days = np.concatenate(days) if days and len(days) == len(keys) else None
        keys.clear()  # free the chunks before the index is sorted and written
        days.clear()
        return self.store.activate(
            self.id,
            all_keys,
            all_days,
            taken_at=taken_at,
            source=f"full: {', '.join(names)}",
            rejected=rejected,
        )

    def _check_full(self, keys: Keys, names: list[str]) -> None:
        """Refuse what looks like a partial list given as a full one."""
        small = len(keys) < self.min_numbers
        if not small and len(keys) < 4 * self.min_numbers:
            small = len(np.unique(keys)) < self.min_numbers
        if small:
            raise RegistryFormatError(
                f"{self.id}: fewer than {self.min_numbers} distinct numbers: this looks like a "
                "partial list, and as a full-list snapshot it would make every other number "
                "clear. Record single answers with record_answer() "
                "(Compliance.record_registry_answer, 'optout registry record'); import a "
                "list that really is the whole registry with full_list=True (--full-list)",
                path=", ".join(names),
            )

    def apply_changes(
        self, paths: Iterable[str | os.PathLike[str]], *, taken_at: dt.datetime
    ) -> SnapshotInfo:
        """Apply change lists (additions and deletions) to the snapshot in force, file by
        file in the order given; registration days are kept. An addition without a date
        gets the day of the snapshot it is applied to: the number was not listed then, so
        that is the earliest it can have registered (the strict start of a grace period;
        the change list's own day would lengthen it)."""
        info = self.store.active_snapshot(self.id)
        if info is None:
            raise ConfigurationError(f"{self.id}: import a full list before change lists")
        index = open_index(info.path, info.checksum)
        keys = np.array(index.all_keys(), dtype=np.uint64)
        days = None if index.days is None else np.array(index.days, dtype=np.uint32)
        instant(taken_at, name="taken_at")
        today = np.uint32((info.taken_at.astimezone(dt.UTC).date() - EPOCH).days)
        rejected = total = 0
        samples: list[tuple[int, str]] = []
        names: list[str] = []
        for raw in paths:
            k, d, dels, rej, smp, tot, nm = self._parse([raw])
            rejected, total = rejected + rej, total + tot
            samples.extend(smp[: max(0, 5 - len(samples))])
            names.extend(nm)
            if k:
                adds = np.concatenate(k)
                keys = np.concatenate([keys, adds])
                if days is not None:
                    add_days = (
                        np.concatenate(d)
                        if d and len(d) == len(k)
                        else np.full(len(adds), today, dtype=np.uint32)
                    )
                    days = np.concatenate([days, add_days])
            gone = np.sort(np.concatenate(dels)) if dels else np.empty(0, dtype=np.uint64)
            if len(gone) and len(keys):
                # Search the (small) sorted deletions, not the whole list: np.isin would
                # sort all the keys.
                hit = np.minimum(np.searchsorted(gone, keys), len(gone) - 1)
                keep = gone[hit] != keys
                keys = keys[keep]
                days = None if days is None else days[keep]
        self._check_rejections(rejected, total, samples, names)
        return self.store.activate(
            self.id,
            keys,
            days,
            taken_at=taken_at,
            source=f"changes: {', '.join(names)} on {info.version}",
            rejected=rejected,
        )

    def export(self, path: str | os.PathLike[str]) -> int:
        """Write the numbers of the snapshot in force, one E.164 number per line."""
        info = self.store.active_snapshot(self.id)
        if info is None:
            raise ConfigurationError(f"{self.id}: no snapshot imported")
        keys = open_index(info.path, info.checksum).all_keys()
        with atomic_text_file(pathlib.Path(path), newline="\n") as out:
            for start in range(0, len(keys), 1_000_000):
                block = keys[start : start + 1_000_000]
                out.write("".join(f"+{int(k)}\n" for k in block))
        return len(keys)


@dataclasses.dataclass(frozen=True, slots=True)
class ExportReport:
    """What a submission file holds: unique numbers (what the registry bills), skipped."""

    path: str
    unique: int
    duplicates: int
    skipped_other_country: int
    invalid: int


@dataclasses.dataclass(frozen=True, slots=True)
class ConsultationReport:
    """The result of ingesting a returned list."""

    reference: str
    submitted: int
    listed: int
    clear: int
    checked_at: dt.datetime


class ConsultationCodec(Protocol):
    """The upload and return formats of a submit-and-receive registry.

    ``write_submission`` writes E.164 numbers in the upload format. ``read_returned`` yields
    ``(e164, status)`` for each number in the returned file, where status is ``"listed"``,
    ``"clear"``, or ``None`` for a *cleansed* list (a number present in it is clear; a
    submitted number missing from it is listed).
    """

    def write_submission(self, numbers: Sequence[str], out: pathlib.Path) -> None: ...

    def read_returned(self, path: pathlib.Path) -> Iterator[tuple[str, str | None]]: ...


class ConsultationRegistry(_Bound):
    """A submit-and-receive registry: export the list, ingest what comes back."""

    kind = RegistryKind.CONSULTATION

    def __init__(
        self,
        id: str,
        codec: ConsultationCodec,
        *,
        country: str,
        options: RegistryOptions | None = None,
    ) -> None:
        self.id = id
        self.codec = codec
        self.country = country
        self.options = options or RegistryOptions()

    def fact_codes(self, keys: Keys, at: dt.datetime) -> tuple[Codes, list[RegistryFact]]:
        """:meth:`facts` for E.164 keys: each key's answer as an index into distinct answers
        (all ``unknown`` at once when this registry was never consulted)."""
        try:
            if not self.store.has_answers(self.id):
                fact = RegistryFact(
                    registry=self.id, status="unknown", fail_open=self.options.fail_open
                )
                return np.zeros(len(keys), dtype=np.int32), [fact]
            return codes_of(self._facts([f"+{k}" for k in np.asarray(keys).tolist()], at))
        except (OptoutError, OSError) as exc:
            fact = unavailable(
                self.id, ["?"], f"{type(exc).__name__}: {exc}", fail_open=self.options.fail_open
            )[0]
            return np.zeros(len(keys), dtype=np.int32), [fact]

    def _facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        answers = self.store.latest_answers(self.id, numbers) if numbers else {}
        out = []
        for n in numbers:
            a = answers.get(n)
            if a is None:
                out.append(
                    RegistryFact(
                        registry=self.id, status="unknown", fail_open=self.options.fail_open
                    )
                )
            else:
                out.append(_answer_fact(self.id, a, self.options))
        return out

    def prepare(self, numbers: Iterable[str]) -> tuple[list[str], ExportReport]:
        """Normalize, keep this registry's country only, and deduplicate."""
        from optout._errors import InvalidNumberError  # noqa: PLC0415
        from optout._numbers import normalize  # noqa: PLC0415

        seen: dict[str, None] = {}
        duplicates = other = invalid = 0
        for raw in numbers:
            try:
                phone = normalize(raw, self.country)
            except InvalidNumberError:
                invalid += 1
                continue
            if phone.region != self.country:
                other += 1
            elif phone.e164 in seen:
                duplicates += 1
            else:
                seen[phone.e164] = None
        return list(seen), ExportReport(
            path="",
            unique=len(seen),
            duplicates=duplicates,
            skipped_other_country=other,
            invalid=invalid,
        )

    def export_submission(
        self, numbers: Iterable[str], path: str | os.PathLike[str]
    ) -> ExportReport:
        """Write the upload file for ``numbers`` (deduplicated, this country only).

        Registries such as Italy's bill per unique number: ``ExportReport.unique`` is that
        count. The file holds clear numbers (the registry needs them in clear).
        """
        unique, report = self.prepare(numbers)
        target = pathlib.Path(path)
        self.codec.write_submission(unique, target)
        return dataclasses.replace(report, path=str(target))

    def ingest(
        self,
        submitted: Iterable[str],
        returned: str | os.PathLike[str],
        *,
        reference: str,
        checked_at: dt.datetime,
        submitted_at: dt.datetime | None = None,
    ) -> ConsultationReport:
        """Record a consultation from the submitted numbers and the returned file.

        Raises:
            RegistryFormatError: the returned file names a number that was not submitted
                (it does not belong to this submission), or is unreadable. Nothing is
                stored then.
        """
        checked = instant(checked_at, name="checked_at")
        if not reference.strip():
            raise ConfigurationError("a consultation needs its reference (id)")
        sent, _ = self.prepare(submitted)
        sent_set = set(sent)
        path = pathlib.Path(returned)
        statuses: dict[str, str] = {}
        # A codec that returns cleansed lists says so (an empty return then means "every
        # number is registered"); otherwise a row without a status marks a cleansed list.
        cleansed = bool(getattr(self.codec, "cleansed", False))
        for number, status in self.codec.read_returned(path):
            if number not in sent_set:
                raise RegistryFormatError(
                    f"the returned file has {number}, which was not submitted: it does not "
                    "match this submission",
                    path=str(path),
                )
            if status is None:
                cleansed = True
                statuses[number] = "clear"
            else:
                statuses[number] = status
        if cleansed:
            for number in sent:
                statuses.setdefault(number, "listed")
        missing = [n for n in sent if n not in statuses]
        if missing:
            raise RegistryFormatError(
                f"{len(missing)} submitted numbers have no answer in the returned file",
                path=str(path),
            )
        proof = f"{self.id} consultation {reference.strip()} of {checked:%Y-%m-%d}"
        answers = [
            Answer(
                registry=self.id,
                number=n,
                status=statuses[n],
                checked_at=checked,
                evidence=proof,
                source=path.name[:200],
            )
            for n in sent
        ]
        listed = sum(a.status == "listed" for a in answers)
        self.store.record_consultation(
            self.id,
            reference.strip(),
            checked_at=checked,
            submitted_at=submitted_at,
            submitted=len(sent),
            listed=listed,
            clear=len(sent) - listed,
            source=str(path),
            answers=answers,
        )
        return ConsultationReport(
            reference=reference.strip(),
            submitted=len(sent),
            listed=listed,
            clear=len(sent) - listed,
            checked_at=checked,
        )


class RemoteRegistry(_Bound):
    """A per-record API registry; answers are cached with their proof.

    Subclasses implement :meth:`query`. Cached answers younger than ``cache_for`` are
    reused; the rest are queried in one call per batch. An unreachable API gives
    ``unavailable`` facts (and so denials), never allowances.
    """

    kind = RegistryKind.REMOTE

    def __init__(
        self,
        id: str,
        *,
        cache_for: dt.timedelta,
        options: RegistryOptions | None = None,
    ) -> None:
        self.id = id
        self.cache_for = cache_for
        self.options = options or RegistryOptions()

    def query(self, numbers: Sequence[str], at: dt.datetime) -> list[Answer]:
        """Ask the registry about ``numbers``; return one answer per number."""
        raise NotImplementedError

    def _facts(self, numbers: Sequence[str], at: dt.datetime) -> list[RegistryFact]:
        if not numbers:
            return []
        cached = self.store.latest_answers(self.id, numbers)
        fresh = {n: a for n, a in cached.items() if at < a.checked_at + self.cache_for}
        missing = [n for n in dict.fromkeys(numbers) if n not in fresh]
        failure: str | None = None
        if missing:
            try:
                answers = self.query(missing, at)
            except RegistryUnavailableError as exc:
                failure = str(exc)
            else:
                self.store.save_answers(answers)
                fresh.update({a.number: a for a in answers})
        out = []
        for n in numbers:
            a = fresh.get(n)
            if a is None:
                out.append(
                    RegistryFact(
                        registry=self.id,
                        status="unavailable",
                        detail=failure or "no answer",
                        fail_open=self.options.fail_open,
                        validity=self.options.validity,
                    )
                )
            else:
                out.append(_answer_fact(self.id, a, self.options))
        return out
