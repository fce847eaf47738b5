"""Loading packs and policies, and choosing the rules that bind one call."""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import pathlib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import holidays as _holidays
import pydantic

from optout._decision import Evidence
from optout._errors import ConfigurationError, PackError
from optout._location import Location
from optout._rules._calendar import HolidayCalendar, holidays_version
from optout._rules._engine import BoundRule
from optout._rules._model import Confidence, ConsentRule, Pack
from optout._rules._policy import Policy

__all__ = ["PackError", "RuleBook", "builtin_packs", "load_pack"]


def _describe_errors(exc: pydantic.ValidationError, data: Any, where: str) -> str:
    lines = []
    rules = data.get("rules") if isinstance(data, dict) else None
    for err in exc.errors():
        loc = list(err["loc"])
        label = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            index = loc[1]
            rule_id = None
            if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
                rule_id = rules[index].get("id")
            label = f"rule {rule_id!r} (rules[{index}])" if rule_id else f"rules[{index}]"
            loc = [
                p
                for p in loc[2:]
                if p
                not in (
                    "window",
                    "blackout",
                    "cap",
                    "cooldown",
                    "consent",
                    "abandonment",
                    "registry",
                    "caller_id",
                )
            ]
        field = ".".join(str(p) for p in loc)
        message = err["msg"].removeprefix("Value error, ")
        lines.append(" ".join(x for x in (label, f"{field}:" if field else "", message) if x))
    return f"{where}: " + "; ".join(lines)


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """Parse TOML text or raise :class:`PackError` naming ``where``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{where}: not valid TOML: {exc}") from None


def load_pack(source: str | pathlib.Path, *, text: str | None = None) -> Pack:
    """Load and validate a pack file (or ``text``, with ``source`` naming it in errors)."""
    where = str(source)
    if text is None:
        try:
            # Bytes, then decoded: the TOML parser sees the file as it is (text mode would
            # turn a lone carriage return, which TOML refuses, into a line break).
            text = pathlib.Path(source).read_bytes().decode("utf-8")
        except OSError as exc:
            raise PackError(f"{where}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise PackError(f"{where}: not UTF-8 text ({exc.reason})") from None
    data = parse_toml(text, where)
    try:
        pack = Pack.model_validate(data)
    except pydantic.ValidationError as exc:
        raise PackError(_describe_errors(exc, data, where)) from None
    spec = pack.pack.holidays
    if spec is not None:
        try:
            _holidays.country_holidays(
                spec.country, subdiv=spec.subdiv, years=2026, categories=spec.categories
            )
        except (NotImplementedError, KeyError, ValueError) as exc:
            raise PackError(
                f"{where}: holiday calendar {spec.country}/{spec.subdiv}: {exc}"
            ) from None
    return pack


@functools.cache
def builtin_packs() -> Mapping[str, Pack]:
    """The packs shipped in ``optout/_rules/packs``, by jurisdiction id."""
    folder = importlib.resources.files("optout._rules") / "packs"
    packs: dict[str, Pack] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            pack = load_pack(f"optout/_rules/packs/{entry.name}", text=entry.read_text("utf-8"))
            if pack.id in packs:
                raise PackError(f"{entry.name}: pack id {pack.id} is defined twice")
            packs[pack.id] = pack
    return MappingProxyType(packs)


@dataclasses.dataclass(frozen=True, eq=False)  # hashed by identity (the rule caches key on it)
class RuleBook:
    """The packs and policies in force, and how ambiguity and unconfirmed rules are handled.

    Attributes:
        packs: jurisdiction packs by id (default: the built-in ones).
        policies: company policies; they only add rules (stricter always wins).
        include_unconfirmed: apply rules whose source is unconfirmed (the default, which is
            the strict choice). Turning it off loosens decisions and is recorded as evidence.
        disabled: rule references (``"US-TX:tx.sunday"``) switched off on purpose; a
            loosening, recorded as evidence on every decision.
        unknown_subdivision: when the state or province cannot be told from the number or
            the hints, ``"all"`` applies every subdivision pack of the country and the union
            of their holidays (strictest); ``"country"`` applies the country pack only.
        consent_lifts: honour ``lifted_by_consent`` in packs (the law's own loosenings,
            such as French hours with consent). On by default.
        unsupported: what happens to a number whose country no pack covers (or that
            belongs to no country, like ``+800``): ``"deny"`` (the default: optout cannot
            tell what the law allows there) or ``"allow"``, an explicit loosening recorded
            as evidence.
        opt_in: references of *proposed* rules (bills not shown to be law, drafts) to
            apply; a proposed rule binds no call unless named here. Recorded as evidence.
        revoke_all: honour consent rules' ``revoke_all_from`` (the FCC rule that one
            revocation ends every robocall/robotext consent of the caller, in force from
            2027-01-31 as postponed). On by default; off is a loosening recorded as evidence.
    """

    packs: Mapping[str, Pack] = dataclasses.field(default_factory=builtin_packs)
    policies: tuple[Policy, ...] = ()
    include_unconfirmed: bool = True
    disabled: frozenset[str] = frozenset()
    unknown_subdivision: Literal["all", "country"] = "all"
    consent_lifts: bool = True
    unsupported: Literal["deny", "allow"] = "deny"
    opt_in: frozenset[str] = frozenset()
    revoke_all: bool = True

    def __post_init__(self) -> None:
        misfiled = sorted(key for key, pack in self.packs.items() if key != pack.id)
        if misfiled:
            raise ConfigurationError(
                f"packs must be keyed by their own id; wrong keys: {', '.join(misfiled)}"
            )
        known = {f"{p.id}:{r.id}" for p in self.packs.values() for r in p.rules}
        unknown = sorted(set(self.disabled) - known)
        if unknown:
            raise ConfigurationError(f"cannot disable unknown rules: {', '.join(unknown)}")
        proposed = {f"{p.id}:{r.id}" for p in self.packs.values() for r in p.rules if r.proposed}
        wrong = sorted(set(self.opt_in) - proposed)
        if wrong:
            raise ConfigurationError(
                f"opt_in names rules that are not proposed rules of a pack: {', '.join(wrong)}"
            )
        if self.unsupported not in ("deny", "allow"):
            raise ConfigurationError("unsupported must be 'deny' or 'allow'")
        if self.unknown_subdivision not in ("all", "country"):
            raise ConfigurationError("unknown_subdivision must be 'all' or 'country'")

    def packs_for(self, location: Location) -> tuple[Pack, ...]:
        """The country pack and the subdivision packs that bind a call to ``location``."""
        return _packs_for(self, location.country, location.subdivisions)

    def rules_for(
        self, location: Location, *, campaign: str | None, brand: str | None
    ) -> tuple[BoundRule, ...]:
        """Every rule that may bind the call: pack rules, then matching policy rules."""
        pack_rules = _pack_rules(self, location.country, location.subdivisions)
        policy_rules = tuple(
            bound
            for policy in self.policies
            if policy.covers(campaign=campaign, brand=brand)
            for bound in policy.bound_rules()
        )
        return pack_rules + policy_rules

    def evidence(
        self, location: Location, *, campaign: str | None, brand: str | None
    ) -> list[Evidence]:
        """What the decision relied on: pack versions, policies, switches that loosen."""
        out = [
            Evidence(
                kind="rule_pack",
                id=p.id,
                source="optout",
                version=p.pack.version,
                detail=MappingProxyType(
                    {"holidays": holidays_version(), "rules": str(len(p.rules))}
                ),
            )
            for p in self.packs_for(location)
        ]
        out.extend(
            Evidence(kind="policy", id=p.name, source=p.source, version=p.version)
            for p in self.policies
            if p.covers(campaign=campaign, brand=brand)
        )
        out.append(
            Evidence(
                kind="location",
                id=location.country or "unknown",
                source=location.basis,
                detail=MappingProxyType(
                    {
                        "subdivisions": ",".join(sorted(location.subdivisions)),
                        "time_zones": ",".join(sorted(location.zones)),
                    }
                ),
            )
        )
        if self.opt_in:
            out.append(
                Evidence(
                    kind="rule_settings",
                    id="opt_in",
                    source="RuleBook",
                    detail=MappingProxyType({"opt_in": ",".join(sorted(self.opt_in))}),
                )
            )
        if (
            self.disabled
            or not self.include_unconfirmed
            or not self.consent_lifts
            or self.unsupported == "allow"
            or not self.revoke_all
            or self.unknown_subdivision != "all"
        ):
            out.append(
                Evidence(
                    kind="rule_settings",
                    id="loosened",
                    source="RuleBook",
                    detail=MappingProxyType(
                        {
                            "disabled": ",".join(sorted(self.disabled)),
                            "include_unconfirmed": str(self.include_unconfirmed),
                            "consent_lifts": str(self.consent_lifts),
                            "unsupported": self.unsupported,
                            "revoke_all": str(self.revoke_all),
                            "unknown_subdivision": self.unknown_subdivision,
                        }
                    ),
                )
            )
        return out


@functools.lru_cache(maxsize=4096)
def _packs_for(
    book: RuleBook, country: str | None, subdivisions: frozenset[str]
) -> tuple[Pack, ...]:
    if country is None:
        return ()
    found = [book.packs[country]] if country in book.packs else []
    subs = [p for p in book.packs.values() if p.country == country and p.subdivision]
    if subdivisions:
        found += [p for p in subs if p.subdivision in subdivisions]
    elif book.unknown_subdivision == "all":
        found += subs
    return tuple(found)


@functools.lru_cache(maxsize=4096)
def _pack_rules(
    book: RuleBook, country: str | None, subdivisions: frozenset[str]
) -> tuple[BoundRule, ...]:
    out: list[BoundRule] = []
    for pack in _packs_for(book, country, subdivisions):
        calendar = _calendar(book, pack, subdivisions)
        for rule in pack.rules:
            ref = f"{pack.id}:{rule.id}"
            if ref in book.disabled:
                continue
            if rule.proposed and ref not in book.opt_in:
                continue
            if rule.confidence is Confidence.UNCONFIRMED and not book.include_unconfirmed:
                continue
            if rule.lifted_by_consent and not book.consent_lifts:
                rule = rule.model_copy(update={"lifted_by_consent": frozenset()})
            if not book.revoke_all and isinstance(rule, ConsentRule) and rule.revoke_all_from:
                rule = rule.model_copy(update={"revoke_all_from": None})
            out.append(BoundRule(source=pack.id, rule=rule, calendar=calendar))
    return tuple(out)


def _calendar(book: RuleBook, pack: Pack, subdivisions: Iterable[str]) -> HolidayCalendar | None:
    spec = pack.pack.holidays
    if spec is None:
        return None
    if not spec.by_location:
        return HolidayCalendar(spec)
    subs = sorted(subdivisions)
    if not subs and book.unknown_subdivision == "all":
        subs = _official_subdivisions(spec.country)
    # Sub-state jurisdictions (New York City) have no calendar of their own.
    subs = [s for s in subs if s in _official_subdivisions(spec.country)]
    return HolidayCalendar(spec, subs or None)


@functools.cache
def _official_subdivisions(country: str) -> list[str]:
    """ISO 3166-2 subdivision codes the holidays package knows (not its city aliases)."""
    return sorted(
        s
        for s in _holidays.country_holidays(country).subdivisions
        if re.fullmatch(r"[A-Z0-9]{1,3}", s)
    )


def describe_rules(rules: Sequence[BoundRule]) -> list[str]:
    """One line per rule (for ``optout rules`` and the docs)."""
    return [f"{b.ref} [{b.rule.kind}] {b.rule.title}" for b in rules]
