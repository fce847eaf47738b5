"""Every built-in pack is structurally sound, and broken packs and policies fail clearly.

These tests check shape, not law: the legal content of each pack is tested in
``tests/packs/``.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import pathlib

import pytest

from optout._errors import ConfigurationError
from optout._rules._book import PackError, RuleBook, builtin_packs, load_pack
from optout._rules._model import (
    CapRule,
    Confidence,
    CooldownRule,
    ScopeKey,
    WindowRule,
)
from optout._rules._policy import Policy, builtin_policy
from optout._vocab import Outcome, Purpose

PACK_FILES = sorted(
    (
        entry.name
        for entry in (importlib.resources.files("optout._rules") / "packs").iterdir()
        if entry.name.endswith(".toml")
    ),
)


# -- the built-in packs ---------------------------------------------------------------------


def test_there_are_built_in_packs() -> None:
    assert PACK_FILES
    assert len(builtin_packs()) == len(PACK_FILES)


@pytest.mark.parametrize("name", PACK_FILES)
def test_each_pack_file_loads_and_is_named_after_its_id(name: str) -> None:
    path = pathlib.Path(str(importlib.resources.files("optout._rules") / "packs" / name))
    pack = load_pack(path)
    assert name == f"{pack.id.lower()}.toml"
    assert builtin_packs()[pack.id] == pack


@pytest.mark.parametrize("pack_id", sorted(builtin_packs()))
def test_every_rule_is_sourced(pack_id: str) -> None:
    for rule in builtin_packs()[pack_id].rules:
        ref = f"{pack_id}:{rule.id}"
        assert rule.citation.strip(), f"{ref} has no citation"
        assert isinstance(rule.confidence, Confidence), ref
        assert (rule.url or "").strip() or (rule.note or "").strip(), f"{ref}: no URL or note"
        if rule.url:
            assert rule.url.startswith(("https://", "http://")), f"{ref}: odd URL {rule.url}"


def test_rule_ids_are_unique_across_packs() -> None:
    owners: dict[str, str] = {}
    for pack in builtin_packs().values():
        for rule in pack.rules:
            assert rule.id not in owners, f"{rule.id} is in {owners.get(rule.id)} and {pack.id}"
            owners[rule.id] = pack.id


@pytest.mark.parametrize("pack_id", sorted(builtin_packs()))
def test_holiday_classes_have_a_calendar(pack_id: str) -> None:
    pack = builtin_packs()[pack_id]
    for rule in pack.rules:
        if isinstance(rule, WindowRule) and (
            rule.schedule.holiday is not None or rule.schedule.pre_holiday is not None
        ):
            assert pack.pack.holidays is not None, f"{pack_id}:{rule.id}"


@pytest.mark.parametrize("pack_id", sorted(p for p in builtin_packs() if "-" in p))
def test_every_subdivision_pack_has_its_country_pack(pack_id: str) -> None:
    pack = builtin_packs()[pack_id]
    assert pack.subdivision
    assert pack.country in builtin_packs(), f"{pack_id} has no {pack.country} pack"


def test_the_default_rule_book_accepts_every_pack() -> None:
    refs = frozenset(f"{p.id}:{r.id}" for p in builtin_packs().values() for r in p.rules)
    RuleBook(disabled=refs)  # every rule can be named, hence switched off


# -- clear errors for broken packs ----------------------------------------------------------

HEAD = '[pack]\nid = "ZZ"\nname = "Zedland"\nversion = "1"\n'
CALENDAR = '[pack.holidays]\ncountry = "FR"\n'


def _rule(kind: str, body: str, rule_id: str = "zz.broken", purposes: str = '["marketing"]') -> str:
    return (
        f'\n[[rules]]\nid = "{rule_id}"\nkind = "{kind}"\ntitle = "a rule"\n'
        f'purposes = {purposes}\nconfidence = "primary"\ncitation = "Zedland Act s. 1"\n{body}\n'
    )


def _window(schedule: str) -> str:
    return _rule("window", "[rules.schedule]\n" + schedule)


def _cap(period: str = "1d", purposes: str = '["marketing"]') -> str:
    return _rule(
        "cap", f'max_attempts = 3\nperiod = "{period}"\nscope = ["number"]', purposes=purposes
    )


def _blackout(rule_id: str = "zz.broken", extra: str = "") -> str:
    return _rule("blackout", "dates = [2026-01-01]\n" + extra, rule_id=rule_id)


def test_a_good_pack_loads_from_a_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "zz.toml"
    path.write_text(
        HEAD + CALENDAR + _window('"mon-sun" = ["09:00-20:00"]\nholiday = []\n'), encoding="utf-8"
    )
    pack = load_pack(path)
    assert pack.id == "ZZ"
    assert [r.id for r in pack.rules] == ["zz.broken"]


def test_a_missing_file_is_named(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(PackError, match=r"missing\.toml: cannot read"):
        load_pack(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(HEAD + _rule("curfew", ""), "'curfew'", id="unknown-kind"),
        pytest.param(
            HEAD + _window('"mon-fri" = ["20:00-09:00"]\nsat-sun = []\n'),
            "'20:00-09:00' is inverted",
            id="inverted-window",
        ),
        pytest.param(
            HEAD + _window('"mon-fri" = ["09:00-12:00", "11:00-20:00"]\nsat-sun = []\n'),
            "ranges 09:00-12:00 and 11:00-20:00 overlap",
            id="overlapping-windows",
        ),
        pytest.param(
            HEAD + _window('"mon-fri" = ["09:00-20:00"]\nsat = []\n'),
            "does not say what happens on sun",
            id="forgotten-weekday",
        ),
        pytest.param(
            HEAD + _window('"mon-fri" = ["9-20"]\nsat-sun = []\n'),
            "'9-20' is not a time range",
            id="bad-range",
        ),
        pytest.param(
            HEAD + _window('"mon-sun" = ["09:00-20:00"]\nfri = []\n'),
            "fri is given twice",
            id="day-twice",
        ),
        pytest.param(
            HEAD + _window('"mon-sun" = ["09:00-20:00"]\nweekend = []\n'),
            "unknown day 'weekend'",
            id="unknown-day",
        ),
        pytest.param(
            HEAD + _cap(period="0d"),
            "period: duration '0d' must be longer than zero",
            id="zero-period",
        ),
        pytest.param(
            HEAD + _cap(period="1 day"), "period: '1 day' is not a duration", id="bad-duration"
        ),
        pytest.param(HEAD + _cap(purposes='["spam"]'), "purposes", id="unknown-purpose"),
        pytest.param(
            HEAD + _blackout(extra="effective_from = 2025-01-01\neffective_to = 2024-01-01"),
            "effective_to must be after effective_from",
            id="dates-inverted",
        ),
        pytest.param(
            HEAD + _blackout(extra="effective_from = 2025-01-01\neffective_to = 2025-01-01"),
            "effective_to must be after effective_from",
            id="dates-empty",
        ),
        pytest.param(HEAD + _blackout(extra='colour = "red"'), "colour", id="unknown-field"),
        pytest.param(
            HEAD + _rule("blackout", ""),
            "needs dates, ranges or declared kinds",
            id="empty-blackout",
        ),
        pytest.param(
            HEAD + _blackout() + _blackout(), "'zz.broken' is used twice", id="duplicate-id"
        ),
        pytest.param(
            HEAD + _window('"mon-sun" = ["09:00-20:00"]\nholiday = []\n'),
            "uses holidays but the pack has no [pack.holidays] calendar",
            id="holiday-without-calendar",
        ),
        pytest.param(
            HEAD + _window('"mon-sun" = ["09:00-20:00"]\npre_holiday = []\n'),
            "uses holidays but the pack has no [pack.holidays] calendar",
            id="pre-holiday-without-calendar",
        ),
    ],
)
def test_rule_errors_name_the_file_the_rule_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack("zz-broken.toml", text=text)
    message = str(caught.value)
    assert message.startswith("zz-broken.toml: "), message
    assert "zz.broken" in message, message
    assert problem in message, message


def test_the_bad_rule_is_named_among_good_ones() -> None:
    text = HEAD + _blackout("zz.good") + _cap(period="0d").replace("zz.broken", "zz.bad")
    with pytest.raises(PackError, match=r"rule 'zz\.bad' \(rules\[1\]\) period"):
        load_pack("zz.toml", text=text)


def test_malformed_toml_names_the_file() -> None:
    with pytest.raises(PackError, match=r"^zz\.toml: not valid TOML: "):
        load_pack("zz.toml", text=HEAD + "[[rules]\nid = 'x'\n")


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ('[pack]\nid = "Zedland"\nname = "Zedland"\nversion = "1"\n', "pack.id"),
        ('[pack]\nid = "ZZ"\nname = "Zedland"\n', "pack.version"),
        (HEAD + '[pack.holidays]\ncountry = "QQ"\n', "holiday calendar QQ"),
        (HEAD + '[pack.holidays]\ncountry = "FR"\nsubdiv = "XX"\n', "holiday calendar FR/XX"),
    ],
    ids=["bad-id", "no-version", "unknown-holiday-country", "unknown-holiday-subdiv"],
)
def test_header_errors_name_the_file_and_the_problem(header: str, problem: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack("zz.toml", text=header)
    assert str(caught.value).startswith("zz.toml: "), str(caught.value)
    assert problem in str(caught.value), str(caught.value)


# -- policies -------------------------------------------------------------------------------

RETRY = {
    "policy": {"name": "acme", "version": "4"},
    "retry": {"busy": "30m", "no_answer": "3h", "max_attempts": {"count": 6, "period": "30d"}},
}


def test_a_retry_schedule_becomes_cooldowns_and_a_cap() -> None:
    policy = Policy.from_dict(RETRY)
    rules = {r.id: r for r in policy.rules()}
    assert set(rules) == {"retry.busy", "retry.no_answer", "retry.max_attempts"}
    busy, no_answer, cap = (
        rules["retry.busy"],
        rules["retry.no_answer"],
        rules["retry.max_attempts"],
    )
    assert isinstance(busy, CooldownRule)
    assert busy.after == {Outcome.BUSY}
    assert busy.duration == dt.timedelta(minutes=30)
    assert busy.scope == {ScopeKey.NUMBER}
    assert isinstance(no_answer, CooldownRule)
    assert no_answer.duration == dt.timedelta(hours=3)
    assert isinstance(cap, CapRule)
    assert (cap.max_attempts, cap.period) == (6, dt.timedelta(days=30))
    assert cap.scope == {ScopeKey.NUMBER}
    for rule in rules.values():
        assert rule.purposes == frozenset(Purpose)
        assert rule.confidence is Confidence.PRIMARY
        assert rule.citation == "company policy acme v4"
        assert not rule.lifted_by_consent
    assert {b.ref for b in policy.bound_rules()} == {f"policy:acme:{i}" for i in rules}
    assert (policy.name, policy.version, policy.source) == ("acme", "4", "python")


def test_policy_rules_get_defaults() -> None:
    policy = Policy.from_dict(
        {
            "policy": {"name": "acme", "version": "2"},
            "rules": [
                {
                    "id": "acme.hours",
                    "kind": "window",
                    "title": "Acme hours",
                    "schedule": {"mon-fri": ["10:00-18:00"], "sat-sun": []},
                }
            ],
        }
    )
    (rule,) = policy.rules()
    assert isinstance(rule, WindowRule)
    assert rule.purposes == frozenset(Purpose)
    assert rule.citation == "company policy acme v2"
    assert rule.confidence is Confidence.PRIMARY


def test_campaign_limited_policies_bind_calls_that_name_no_campaign() -> None:
    policy = Policy.from_dict({"policy": {"name": "promo", "campaigns": ["winter"]}})
    assert policy.covers(campaign="winter", brand=None)
    assert policy.covers(campaign=None, brand=None)
    assert not policy.covers(campaign="summer", brand=None)


def test_a_policy_cannot_be_lifted_by_consent() -> None:
    data = {
        "policy": {"name": "acme"},
        "rules": [
            {
                "id": "acme.hours",
                "kind": "window",
                "title": "Acme hours",
                "lifted_by_consent": ["express"],
                "schedule": {"mon-sun": ["09:00-20:00"]},
            }
        ],
    }
    with pytest.raises(PackError, match="cannot be lifted by consent"):
        Policy.from_dict(data)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"policy": {"name": "acme"}, "retry": {"busy": "soon"}}, "retry.delays.busy"),
        (
            {"policy": {"name": "acme"}, "retry": {"max_attempts": {"count": 6, "period": "0d"}}},
            "retry.max_attempts.period",
        ),
        (
            {
                "policy": {"name": "acme"},
                "rules": [
                    {
                        "id": "acme.cool",
                        "kind": "cooldown",
                        "title": "cool down",
                        "after": ["busy"],
                        "duration": "forever",
                        "scope": ["number"],
                    }
                ],
            },
            "rule 'acme.cool' (rules[0]) duration",
        ),
    ],
    ids=["retry-delay", "retry-period", "rule-duration"],
)
def test_bad_durations_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(PackError) as caught:
        Policy.from_dict(data, source="acme.toml")
    message = str(caught.value)
    assert message.startswith("acme.toml: "), message
    assert field in message, message
    assert "duration" in message, message


def test_an_unknown_retry_outcome_is_an_error() -> None:
    with pytest.raises(PackError, match="bussy"):
        Policy.from_dict({"policy": {"name": "acme"}, "retry": {"bussy": "1h"}})


def test_a_policy_rule_id_cannot_repeat() -> None:
    rule = {
        "id": "acme.cap",
        "kind": "cap",
        "title": "a cap",
        "max_attempts": 1,
        "period": "1d",
        "scope": ["number"],
    }
    with pytest.raises(PackError, match="used twice"):
        Policy.from_dict({"policy": {"name": "acme"}, "rules": [rule, rule]})


def test_a_policy_window_cannot_ban_holidays() -> None:
    data = {
        "policy": {"name": "acme"},
        "rules": [
            {
                "id": "acme.hours",
                "kind": "window",
                "title": "Acme hours",
                "schedule": {"mon-sun": ["09:00-20:00"], "holiday": []},
            }
        ],
    }
    with pytest.raises(PackError, match="holiday"):
        Policy.from_dict(data)


def test_a_policy_window_cannot_use_holiday_hours() -> None:
    data = {
        "policy": {"name": "acme"},
        "rules": [
            {
                "id": "acme.hours",
                "kind": "window",
                "title": "Acme hours",
                "schedule": {"mon-sun": ["09:00-20:00"], "holiday": ["10:00-12:00"]},
            }
        ],
    }
    with pytest.raises(PackError, match="cannot use holiday classes"):
        Policy.from_dict(data)


def test_policy_load_names_the_file(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "acme.toml"
    good.write_text(
        '[policy]\nname = "acme"\nversion = "7"\n\n[retry]\nbusy = "30m"\n'
        '\n[retry.max_attempts]\ncount = 4\nperiod = "7d"\n',
        encoding="utf-8",
    )
    policy = Policy.load(good)
    assert policy.source == str(good)
    assert {r.id for r in policy.rules()} == {"retry.busy", "retry.max_attempts"}

    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nname = "acme"\n\n[retry]\nbusy = "half an hour"\n', encoding="utf-8")
    with pytest.raises(PackError, match=r"bad\.toml: retry\.delays\.busy: 'half an hour'"):
        Policy.load(bad)

    broken = tmp_path / "broken.toml"
    broken.write_text("[policy\n", encoding="utf-8")
    with pytest.raises(PackError, match=r"broken\.toml: not valid TOML"):
        Policy.load(broken)

    with pytest.raises(PackError, match=r"missing\.toml: cannot read"):
        Policy.load(tmp_path / "missing.toml")


def test_the_builtin_recycle_policy_loads() -> None:
    policy = builtin_policy("industry-recycle")
    assert policy.name == "industry-recycle"
    rules = {r.id: r for r in policy.rules()}
    assert {"retry.busy", "retry.no_answer", "retry.max_attempts", "recycle.daily"} <= set(rules)
    assert all(not r.lifted_by_consent for r in rules.values())
    assert all(b.ref.startswith("policy:industry-recycle:") for b in policy.bound_rules())


def test_an_unknown_builtin_policy_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match=r"no built-in policy 'nope'.*industry-recycle"):
        builtin_policy("nope")
