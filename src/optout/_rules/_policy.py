"""Company policies: retry schedules, stricter windows and extra caps, as data.

A policy only ever adds rules, so composing it with the law can only make a decision
stricter. It can be written in Python (:meth:`Policy.from_dict`) or in a TOML file::

    [policy]
    name = "acme-outbound"
    version = "4"
    campaigns = ["winter-promo"]      # optional: only these campaigns (default: all)

    [retry]                           # wait after an attempt ended with this outcome
    busy = "30m"
    no_answer = "3h"
    answering_machine = "1d"

    [retry.max_attempts]              # at most N attempts per number in a rolling period
    count = 6
    period = "30d"

    [[rules]]                         # any pack rule shape; citation/confidence optional
    id = "acme.hours"
    kind = "window"
    title = "Acme calls 10:00-18:00 on weekdays"
    purposes = ["marketing", "sales"]
    schedule = { "mon-fri" = ["10:00-18:00"], "sat-sun" = [] }
"""

from __future__ import annotations

import functools
import importlib.resources
import pathlib
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from optout._errors import ConfigurationError
from optout._rules._engine import BoundRule
from optout._rules._model import (
    CapRule,
    Confidence,
    CooldownRule,
    Duration,
    Rule,
    ScopeKey,
    WindowRule,
)
from optout._vocab import Outcome, Purpose

__all__ = ["Policy", "builtin_policy"]

_ALL_PURPOSES = [p.value for p in Purpose]


class _MaxAttempts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    count: int = Field(ge=1, le=10_000)
    period: Duration


class _Retry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    max_attempts: _MaxAttempts | None = None
    delays: dict[Outcome, Duration] = Field(default_factory=dict)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        delays = {k: data.pop(k) for k in list(data) if k not in ("max_attempts", "delays")}
        data.setdefault("delays", {}).update(delays)
        return data


class _Header(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)
    version: str = "1"
    campaigns: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    description: str | None = None


class _PolicyFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    policy: _Header
    retry: _Retry | None = None
    rules: tuple[Rule, ...] = ()


class Policy:
    """A company or campaign policy. Build it with :meth:`from_dict`, :meth:`load` or
    :func:`builtin_policy`; it is immutable afterwards."""

    def __init__(self, data: _PolicyFile, *, source: str) -> None:
        self._data = data
        self.source = source

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "python") -> Policy:
        """Validate a policy given as a dict (the TOML layout)."""
        from optout._rules._book import PackError, _describe_errors  # noqa: PLC0415

        prepared = _with_defaults(data)
        try:
            model = _PolicyFile.model_validate(prepared)
        except pydantic.ValidationError as exc:
            raise PackError(_describe_errors(exc, prepared, source)) from None
        ids = [r.id for r in model.rules]
        if model.retry is not None:
            ids += [f"retry.{o.value}" for o in model.retry.delays]
            ids += ["retry.max_attempts"] if model.retry.max_attempts else []
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise PackError(f"{source}: rule id used twice: {', '.join(twice)}")
        if any(
            isinstance(r, WindowRule)
            and (r.schedule.holiday is not None or r.schedule.pre_holiday is not None)
            for r in model.rules
        ):
            raise PackError(
                f"{source}: policy windows cannot use holiday classes; packs "
                "carry the holiday calendars"
            )
        if any(r.lifted_by_consent for r in model.rules):
            raise PackError(
                f"{source}: a policy cannot be lifted by consent: only the law loosens, in its pack"
            )
        return cls(model, source=source)

    @classmethod
    def load(cls, path: str | pathlib.Path) -> Policy:
        """Load a policy from a TOML file."""
        from optout._rules._book import PackError, parse_toml  # noqa: PLC0415

        try:
            # Bytes, then decoded, as load_pack does: no newline translation.
            text = pathlib.Path(path).read_bytes().decode("utf-8")
        except OSError as exc:
            raise PackError(f"{path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise PackError(f"{path}: not UTF-8 text ({exc.reason})") from None
        return cls.from_dict(parse_toml(text, str(path)), source=str(path))

    @property
    def name(self) -> str:
        return self._data.policy.name

    @property
    def version(self) -> str:
        return self._data.policy.version

    def covers(self, *, campaign: str | None, brand: str | None) -> bool:
        """Whether the policy binds a call for this campaign and brand.

        A call that names no campaign (or brand) is bound by every policy limited to
        campaigns (or brands): it might belong to one of them.
        """
        header = self._data.policy
        if header.campaigns and campaign is not None and campaign not in header.campaigns:
            return False
        return not (header.brands and brand is not None and brand not in header.brands)

    def bound_rules(self) -> tuple[BoundRule, ...]:
        return _bound(self)

    def rules(self) -> tuple[Rule, ...]:
        """Every rule of the policy, the retry schedule included."""
        return tuple(b.rule for b in self.bound_rules())

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, version={self.version!r}, rules={len(self.rules())})"


@functools.lru_cache(maxsize=256)
def _bound(policy: Policy) -> tuple[BoundRule, ...]:
    data = policy._data
    source = f"policy:{data.policy.name}"
    citation = f"company policy {data.policy.name} v{data.policy.version}"
    rules: list[Rule] = []
    retry = data.retry
    if retry is not None:
        for outcome, delay in sorted(retry.delays.items()):
            rules.append(
                CooldownRule(
                    kind="cooldown",
                    id=f"retry.{outcome.value}",
                    title=f"retry delay after {outcome}",
                    purposes=frozenset(Purpose),
                    after=frozenset({outcome}),
                    duration=delay,
                    scope=frozenset({ScopeKey.NUMBER}),
                    confidence=Confidence.PRIMARY,
                    citation=citation,
                )
            )
        if retry.max_attempts is not None:
            rules.append(
                CapRule(
                    kind="cap",
                    id="retry.max_attempts",
                    title="maximum attempts per number",
                    purposes=frozenset(Purpose),
                    max_attempts=retry.max_attempts.count,
                    period=retry.max_attempts.period,
                    scope=frozenset({ScopeKey.NUMBER}),
                    confidence=Confidence.PRIMARY,
                    citation=citation,
                )
            )
    rules.extend(data.rules)
    return tuple(BoundRule(source=source, rule=r) for r in rules)


def _with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigurationError("a policy must be a table/dict")
    raw_header = data.get("policy")
    header: dict[str, Any] = raw_header if isinstance(raw_header, dict) else {}
    name = header.get("name", "policy")
    version = header.get("version", "1")
    out = dict(data)
    rules = []
    for rule in data.get("rules", []) or []:
        if isinstance(rule, dict):
            rule = {
                "confidence": "primary",
                "citation": f"company policy {name} v{version}",
                "purposes": _ALL_PURPOSES,
                **rule,
            }
        rules.append(rule)
    out["rules"] = rules
    return out


@functools.cache
def builtin_policy(name: str) -> Policy:
    """A policy shipped with optout, e.g. ``"industry-recycle"`` (opt-in, not law)."""
    folder = importlib.resources.files("optout._rules") / "policies"
    entry = folder / f"{name}.toml"
    if not entry.is_file():
        available = sorted(
            e.name.removesuffix(".toml") for e in folder.iterdir() if e.name.endswith(".toml")
        )
        raise ConfigurationError(f"no built-in policy {name!r}; available: {available}")
    from optout._rules._book import parse_toml  # noqa: PLC0415

    where = f"optout/_rules/policies/{entry.name}"
    return Policy.from_dict(parse_toml(entry.read_text("utf-8"), where), source=where)
