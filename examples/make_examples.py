"""Regenerate the example data in this folder (deterministic; fictional numbers only).

The numbers come from ranges set aside for drama and examples where one exists (US
555-01xx, UK 020 7946 0xxx, Australia 0491 570 xxx, France 01 99 00 xx xx) and from
made-up subscriber numbers elsewhere. None belongs to a real person on purpose.

    python examples/make_examples.py
"""

from __future__ import annotations

import csv
import pathlib
import random

HERE = pathlib.Path(__file__).resolve().parent


def _leads(rng: random.Random) -> list[tuple[str, str]]:
    numbers: list[str] = []
    numbers += [f"+1 202 555 01{i:02d}" for i in rng.sample(range(100), 8)]
    numbers += [f"(312) 555-01{i:02d}" for i in rng.sample(range(100), 4)]  # national, US
    numbers += [f"+44 20 7946 0{i:03d}" for i in rng.sample(range(1000), 5)]
    numbers += [f"+61 491 570 {i:03d}" for i in rng.sample(range(6, 160), 4)]
    numbers += [
        f"+33 1 99 00 {i:02d} {j:02d}"
        for i, j in zip(rng.sample(range(100), 4), rng.sample(range(100), 4), strict=True)
    ]
    numbers += [f"+39 06 1234 5{i:03d}" for i in rng.sample(range(1000), 6)]
    numbers += ["+39 06 1234 5678", "+39 06-1234-5678"]  # the same number twice
    numbers += ["not a number", "", "+1 202 555", "+1 202 555 0123 ext. 7"]
    rng.shuffle(numbers)
    return [(f"Lead {i:03d}", n) for i, n in enumerate(numbers, start=1)]


def main() -> None:
    rng = random.Random(20261123)
    leads = _leads(rng)
    with (HERE / "leads.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["name", "phone"])
        writer.writerows(leads)
    _registries(leads)
    with (HERE / "suppressions.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["number", "prefix", "reason", "scope", "scope_value", "expires_at"])
        writer.writerows(
            [
                ["+39 06 1234 5678", "", "customer_request", "", "", ""],
                ["+1 202 555 0163", "", "dnc_request", "", "", ""],
                ["+44 20 7946 0670", "", "complaint", "", "", ""],
                ["", "+6149157", "test range block", "", "", ""],
                [
                    "+1 202 555 0171",
                    "",
                    "callback_requested",
                    "campaign",
                    "winter-promo",
                    "2027-01-31T00:00:00+00:00",
                ],
            ]
        )


def _registries(leads: list[tuple[str, str]]) -> None:
    """Example registry data for the main job: lists that name some of the leads."""
    import phonenumbers  # noqa: PLC0415 - only the generator needs it

    folder = HERE / "registries"
    folder.mkdir(exist_ok=True)
    numbers: dict[str, list[str]] = {"US": [], "GB": [], "IT": [], "AU": []}
    for _, raw in leads:
        try:
            parsed = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            continue
        region = phonenumbers.region_code_for_number(parsed)
        if phonenumbers.is_valid_number(parsed) and region in numbers and not parsed.extension:
            national = phonenumbers.national_significant_number(parsed)
            if national not in numbers[region]:
                numbers[region].append(national)
    us = numbers["US"]
    # US National DNC full list, "NPA,NXXXXXX" per line: every third US lead is registered.
    (folder / "us_dnc_full.txt").write_text(
        "".join(f"{n[:3]},{n[3:]}\r\n" for n in us[::3]) + "2025550100\r\n", encoding="ascii"
    )
    # UK TPS, fixed width (code left-justified in 5, the rest right-justified in 7).
    gb = ["0" + n for n in numbers["GB"]]
    (folder / "gb_tps.txt").write_text(
        "".join(f"{n[:4]:<5}{n[4:]:>7}\r\n" for n in gb[::2]), encoding="ascii"
    )
    (folder / "gb_ctps.txt").write_text("02079460999\r\n", encoding="ascii")
    # Italy RPO: the list submitted, and the cleansed list returned (registered removed).
    it = ["0" + n if not n.startswith("0") else n for n in numbers["IT"]]
    (folder / "it_rpo_submitted.txt").write_text("".join(f"{n}\r\n" for n in it))
    (folder / "it_rpo_returned.txt").write_text("".join(f"{n}\r\n" for n in it[1:]))
    # Australia DNCR wash: every number with its answer.
    au = ["0" + n for n in numbers["AU"]]
    (folder / "au_dncr_submitted.txt").write_text("".join(f"{n}\r\n" for n in au))
    answers = ["Registered" if i == 0 else "Not Registered" for i in range(len(au))]
    (folder / "au_dncr_returned.csv").write_text(
        "number,answer\r\n" + "".join(f"{n},{a}\r\n" for n, a in zip(au, answers, strict=True))
    )


if __name__ == "__main__":
    main()
