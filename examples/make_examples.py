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
    with (HERE / "leads.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["name", "phone"])
        writer.writerows(_leads(rng))
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


if __name__ == "__main__":
    main()
