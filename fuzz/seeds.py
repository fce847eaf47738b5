"""Write the seed corpora (``python fuzz/seeds.py``): small valid examples per target.

The files are checked in under ``fuzz/corpus/TARGET/seed-*``; this script documents where
they come from and rewrites them (it never touches the other corpus files).
"""

from __future__ import annotations

import hashlib
import io
import pathlib
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PACKS = ROOT / "src" / "optout" / "_rules" / "packs"
POLICIES = ROOT / "src" / "optout" / "_rules" / "policies"


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members:
            archive.writestr(name, body)
    return buffer.getvalue()


def _n(region: int, strict: bool, text: str) -> bytes:
    """A number-target input: region index, flags, then the number as typed."""
    return bytes([region, 0 if strict else 1]) + text.encode()


NUMBERS = [
    _n(0, True, "+1 202-555-0123"),
    _n(1, True, "(202) 555-0123"),
    _n(2, True, "06 1234 5678"),
    _n(3, True, "020 7946 0123 ext. 12"),
    _n(4, False, "01 23 45 67 89"),
    _n(5, True, "0412 345 678"),
    _n(0, True, "+800 1234 5678"),
    _n(6, True, "+1-416-555-0199"),
    _n(7, True, "(11) 91234-5678"),
    _n(1, False, "0039 06 1234 5678"),
    _n(8, True, "030 123456"),
    _n(9, True, "+34 912 345 678"),
]

SEEDS: dict[str, list[bytes]] = {
    "normalize": NUMBERS,
    "can_call": NUMBERS,
    "us": [
        b"2025550123\n2025550124\n2025550125\n",
        b"\xef\xbb\xbfPhoneNumber\r\n202,5550123\r\n12025550124\r\n\r\n202 555 0125\r",
        b"2025550123,A\n202,5550124,D\nD,20250101,2025550125\n",
        b"<DNC><Record><AreaCode>202</AreaCode><PhoneNumber>5550123</PhoneNumber>"
        b"<Date>2024-01-05</Date></Record><Record><PhoneNumber>2025550124</PhoneNumber>"
        b"</Record></DNC>",
        b'<list><ac val="202"><ph val="5550123"/><ph val="5550124" action="D"/></ac></list>',
        b"ZIP:2025550123\n\x00--member--\x00202,5550124\n",
        _zip(("a.txt", b"2025550123\n"), ("b.txt", b"2025550124,A\n")),
    ],
    "ca": [
        b"416,5550199\n416,5550198\n",
        b"npa,number,date\n416,5550199,2024-01-05\n604,5550100,20240106\n",
        b"<list type='full' level='all' val=''><ac val='416'><ph val='5550199' "
        b"date='2024-01-05'/><ph val='5550198' action='D'/></ac></list>",
        b"ZIP:4165550199\n",
    ],
    "uk": [
        b"0207 3787244\r\n01635 506160\r\n02073787244 \r\n",
        b"TPS FILE\n07700 900123\n0113 4960000\n",
        b"ZIP:0207 3787244\r\n\x00--member--\x0001635 506160\r\n",
    ],
    "generic": [
        b"phone\n+12025550123\n2025550124\n",
        b'id;phone;name\n1;(202) 555-0125;Ada\n2;"+1 202 555 0126";Bob\n',
        b"2025550123\r\n+44 20 7946 0123\r\n",
        b"ZIP:phone\n2025550123\n",
        _zip(("list.csv", b"phone\n2025550123\n")),
    ],
    "it": [
        b"0612345678\r\n3123456789\r\n+39 06 1234 5679\r\n",
        b"numero;id\n0612345678;1\n0039 02 1234 5678;2\n",
        b"ZIP:0612345678\r\n",
        _zip(("ritorno.txt", b"0612345678\r\n"), ("__MACOSX/x", b"junk")),
    ],
    "fr": [
        b"Telephone;Identifiant\r\n0123456789;1\r\n0033612345678;2\r\n+33 1 23 45 67 88;3\r\n",
        b"\xef\xbb\xbfTelephone,Identifiant\n0612345678,1\n",
        b"ZIP:Telephone;Identifiant\r\n0123456789;1\r\n",
    ],
    "au": [
        b"number,status\r\n0212345678,Registered\r\n0412345678,Not Registered\r\n",
        b"0212345678;Y\n0412345679;no\n+61 3 9123 4567;clear\n",
        b"ZIP:0212345678,listed\r\n",
    ],
    "scrub_csv": [
        b"name,phone\nAda,+1 202 555 0123\nBob,(202) 555-0124\nCy,not a number\n",
        b'"name";"mobile";"phone"\n"Ada";"+39 06 1234 5678";"+44 20 7946 0123"\n',
        b"id\tphone\n1\t2025550123\n2\t\n",
        b'phone,note\n"+1 202 555 0123","multi\nline"\n',
    ],
    "scrub_jsonl": [
        b'{"name": "Ada", "phone": "+12025550123"}\n{"phone": 2025550124}\n',
        b'\xef\xbb\xbf{"mobile": "+39 06 1234 5678", "tags": ["a"]}\n\n{"mobile": null}\n',
        b'{"phone": "+44 20 7946 0123", "extra": {"k": 1.5}}\n',
    ],
    "pack": [
        (PACKS / "us-mi.toml").read_bytes(),
        (PACKS / "us-tx.toml").read_bytes(),
        (PACKS / "br-al.toml").read_bytes(),
    ],
    "policy": [
        (POLICIES / "industry-recycle.toml").read_bytes(),
        b'[policy]\nname = "acme-outbound"\nversion = "4"\ncampaigns = ["winter-promo"]\n\n'
        b'[retry]\nbusy = "30m"\nno_answer = "3h"\n\n[retry.max_attempts]\ncount = 6\n'
        b'period = "30d"\n\n[[rules]]\nid = "acme.hours"\nkind = "window"\n'
        b'title = "Acme calls 10:00-18:00 on weekdays"\npurposes = ["marketing", "sales"]\n'
        b'schedule = { "mon-fri" = ["10:00-18:00"], "sat-sun" = [] }\n',
    ],
}


def main() -> None:
    for target, seeds in SEEDS.items():
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for data in seeds:
            digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()[:12]
            (folder / f"seed-{digest}").write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
