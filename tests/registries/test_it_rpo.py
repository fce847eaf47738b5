"""Italy's RPO backend: the codec, the consultation cycle, the acceptance story, and the
HTTP submit-and-receive transport against a real loopback server with faults."""

from __future__ import annotations

import datetime as dt
import logging
import pathlib
import time
import zipfile
from collections.abc import Iterator, Sequence

import pytest
from _servers import Answer, FakeGateway

import optout
from optout import RegistryFormatError, RegistryUnavailableError
from optout._db import create_engine, upgrade
from optout._registries._base import Registry
from optout._registries._catalog import create
from optout._registries._kinds import ConsultationRegistry
from optout._registries._store import RegistryStore
from optout._registries._transport import Endpoints, SubmitReceiveTransport, consult
from optout._registries.it import RpoCodec, it_rpo, national_digits
from optout.testing import RegistryConformance

AT = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)

PACK = """
[pack]
id = "IT"
name = "Italy (RPO test pack)"
version = "test"

[[rules]]
id = "it.rpo.consulted"
kind = "registry"
title = "Numbers must have been checked against the RPO within 15 days"
registry = "it_rpo"
validity = "15d"
purposes = ["marketing", "sales"]
confidence = "secondary"
citation = "DPR 178/2010 art. 7; DPR 26/2022"
"""

KEPT = "+390612345678"  # clear: the returned list keeps it
REMOVED = "+393123456789"  # registered: the returned list drops it
OTHER = "+390298765432"  # never consulted


def _cleansed(kept: Sequence[str], path: pathlib.Path, *, bom: bool = False) -> pathlib.Path:
    """A returned RPO list keeping ``kept`` (CRLF, national format, a blank line)."""
    body = "\r\n".join([national_digits(n) for n in kept] + [""]) + "\r\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + body.encode())
    return path


class TestItRpoConformance(RegistryConformance):
    def make_registry(self) -> Registry:
        return it_rpo()

    def load(
        self, registry: Registry, listed: Sequence[str], clear: Sequence[str], at: dt.datetime
    ) -> None:
        assert isinstance(registry, ConsultationRegistry)
        folder = registry.store.snapshot_dir
        folder.mkdir(parents=True, exist_ok=True)
        report = registry.export_submission([*listed, *clear], folder / "upload.txt")
        assert report.unique == len(listed) + len(clear)
        returned = _cleansed(clear, folder / "returned.txt")
        registry.ingest([*listed, *clear], returned, reference="RPO-1", checked_at=at)


@pytest.fixture
def rpo(tmp_path: pathlib.Path) -> Iterator[ConsultationRegistry]:
    engine = create_engine(f"sqlite:///{tmp_path / 'rpo.sqlite3'}")
    upgrade(engine)
    registry = it_rpo()
    registry.bind(RegistryStore(engine, tmp_path / "snap"))
    yield registry
    engine.dispose()


def _statuses(registry: ConsultationRegistry, numbers: Sequence[str]) -> list[str]:
    return [f.status for f in registry.facts(list(numbers), AT)]


# -- the codec and the consultation cycle ---------------------------------------------------


def test_catalog_builds_it() -> None:
    backend = create("it_rpo")
    assert isinstance(backend, ConsultationRegistry)
    assert backend.id == "it_rpo"
    assert backend.country == "IT"
    assert isinstance(backend.codec, RpoCodec)


def test_export_deduplicates_keeps_italian_numbers_and_counts_unique(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    numbers = [
        "06 1234 5678",
        "+39 06 1234 5678",  # the same number again
        "0039 312 345 6789",
        "+33 1 23 45 67 89",  # French: not for the RPO
        "+61 412 345 678",  # Australian
        "not a number",
        "3123456789",  # the mobile again, national form
    ]
    out = tmp_path / "upload.txt"
    report = rpo.export_submission(numbers, out)
    assert report.unique == 2  # what the RPO bills
    assert report.duplicates == 2
    assert report.skipped_other_country == 2
    assert report.invalid == 1
    assert report.path == str(out)
    assert out.read_bytes() == b"0612345678\r\n3123456789\r\n"
    assert not list(tmp_path.glob(".upload.txt.*"))  # no temporary file left behind


def test_returned_list_with_bom_crlf_blanks_header_and_prefixes(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = tmp_path / "returned.txt"
    returned.write_bytes(
        "\ufeffnumero\r\n\r\n+39 06 1234 5678\r\n   \r\n0039 02 9876 5432\r\n".encode()
    )
    sent = [KEPT, REMOVED, OTHER]
    report = rpo.ingest(sent, returned, reference="RPO-7", checked_at=AT)
    assert (report.submitted, report.listed, report.clear) == (3, 1, 2)
    assert _statuses(rpo, sent) == ["clear", "listed", "clear"]
    fact = rpo.facts([KEPT], AT)[0]
    assert fact.checked_at == AT
    assert fact.evidence is not None
    assert "RPO-7" in fact.evidence


def test_zipped_return(rpo: ConsultationRegistry, tmp_path: pathlib.Path) -> None:
    inner = _cleansed([KEPT], tmp_path / "lista.txt")
    archive = tmp_path / "returned.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(inner, "lista.txt")
        z.writestr("__MACOSX/._lista.txt", b"\x00\x05junk")
    rpo.ingest([KEPT, REMOVED], archive, reference="RPO-Z", checked_at=AT)
    assert _statuses(rpo, [KEPT, REMOVED]) == ["clear", "listed"]


def test_bad_lines_are_counted_and_nothing_is_stored(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = tmp_path / "returned.txt"
    returned.write_text("0612345678\nxx\n3123456789\n12\n")
    with pytest.raises(RegistryFormatError) as info:
        rpo.ingest([KEPT, REMOVED], returned, reference="RPO-B", checked_at=AT)
    assert info.value.line == 2
    assert info.value.rejected == 2
    assert "2 of 4 lines" in str(info.value)
    assert rpo.store.consultations("it_rpo") == []
    assert _statuses(rpo, [KEPT, REMOVED]) == ["unknown", "unknown"]


def test_garbled_encoding_and_corrupt_zip(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"0612345678\nn\xfamero\n")
    with pytest.raises(RegistryFormatError, match="utf-8"):
        rpo.ingest([KEPT], latin, reference="RPO-L", checked_at=AT)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(RegistryFormatError):
        rpo.ingest([KEPT], broken, reference="RPO-C", checked_at=AT)
    missing = tmp_path / "missing.txt"
    with pytest.raises(RegistryFormatError, match="no such file"):
        rpo.ingest([KEPT], missing, reference="RPO-M", checked_at=AT)
    assert rpo.store.consultations("it_rpo") == []


def test_a_number_that_was_not_submitted_is_refused(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    returned = _cleansed([KEPT, OTHER], tmp_path / "returned.txt")
    with pytest.raises(RegistryFormatError, match="was not submitted"):
        rpo.ingest([KEPT, REMOVED], returned, reference="RPO-X", checked_at=AT)
    assert rpo.store.consultations("it_rpo") == []
    assert _statuses(rpo, [KEPT, REMOVED, OTHER]) == ["unknown"] * 3


def test_an_empty_return_means_every_number_is_registered(
    rpo: ConsultationRegistry, tmp_path: pathlib.Path
) -> None:
    # The RPO returns the list minus registered numbers: an empty list is "all registered".
    # Read that way it still denies every number (as registered, with the consultation).
    returned = tmp_path / "empty.txt"
    returned.write_text("")
    report = rpo.ingest([KEPT, REMOVED], returned, reference="RPO-E", checked_at=AT)
    assert (report.listed, report.clear) == (2, 0)
    assert _statuses(rpo, [KEPT, REMOVED]) == ["listed", "listed"]


# -- the acceptance story, end to end -------------------------------------------------------


@pytest.fixture
def pack_file(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "it-rpo.toml"
    path.write_text(PACK, encoding="utf-8")
    return path


@pytest.fixture
def client(tmp_path: pathlib.Path, pack_file: pathlib.Path) -> Iterator[optout.Compliance]:
    pack = optout.load_pack(pack_file)
    with optout.Compliance(
        f"sqlite:///{tmp_path / 'it.sqlite3'}",
        registries=[it_rpo()],
        rules=optout.RuleBook(packs={"IT": pack}),
        snapshot_dir=tmp_path / "snapshots",
    ) as c:
        yield c


def _registry(client: optout.Compliance) -> ConsultationRegistry:
    backend = client.registries["it_rpo"]
    assert isinstance(backend, ConsultationRegistry)
    return backend


def test_italian_acceptance(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    # Never consulted: denied, the RPO was not consulted.
    before = client.can_call(KEPT, at=AT)
    assert not before.allowed
    assert "registry.not_consulted" in before.codes

    registry = _registry(client)
    report = registry.export_submission([KEPT, REMOVED], tmp_path / "upload.txt")
    assert report.unique == 2
    returned = _cleansed([KEPT], tmp_path / "returned.txt", bom=True)
    registry.ingest([KEPT, REMOVED], returned, reference="RPO-2026-0042", checked_at=AT)

    # Kept by the returned list: allowed by the registry check while the answer is valid.
    for offset in (dt.timedelta(hours=1), dt.timedelta(days=14, hours=23)):
        decision = client.can_call(KEPT, at=AT + offset)
        assert decision.allowed, decision.codes
        assert not [c for c in decision.codes if c.startswith("registry.")]

    # After the 15-day validity: denied as expired.
    expired = client.can_call(KEPT, at=AT + dt.timedelta(days=15))
    assert not expired.allowed
    assert "registry.expired" in expired.codes

    # Removed by the returned list: denied as registered.
    listed = client.can_call(REMOVED, at=AT + dt.timedelta(hours=1))
    assert not listed.allowed
    assert "registry.listed" in listed.codes

    # A number outside the consultation is still not consulted.
    other = client.can_call(OTHER, at=AT + dt.timedelta(hours=1))
    assert "registry.not_consulted" in other.codes


# -- the HTTP transport against a loopback server --------------------------------------------


def _rpo_answer(registered: set[str]) -> Answer:
    def answer(lines: list[str]) -> tuple[bytes, str]:
        kept = [ln for ln in lines if ln not in registered]
        return "".join(f"{ln}\r\n" for ln in kept).encode(), "text/plain; charset=utf-8"

    return answer


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    server = FakeGateway(_rpo_answer({national_digits(REMOVED)}))
    yield server
    server.close()


@pytest.fixture
def transport(gateway: FakeGateway, tmp_path: pathlib.Path) -> Iterator[SubmitReceiveTransport]:
    with SubmitReceiveTransport(
        gateway.url,
        codec=RpoCodec(),
        timeout=0.3,
        retries=2,
        backoff=0.01,
        max_backoff=0.05,
        max_retry_after=2.0,
        headers={"Authorization": "Bearer test-token"},
        download_dir=tmp_path / "returns",
    ) as t:
        yield t


def _consult(
    client: optout.Compliance, transport: SubmitReceiveTransport, numbers: Sequence[str]
) -> optout.registries.ConsultationReport:
    return consult(_registry(client), transport, numbers, poll_every=0.01, timeout=5.0)


def _denied_unconsulted(client: optout.Compliance, numbers: Sequence[str]) -> None:
    """Nothing was recorded: every number is denied as not consulted (never allowed)."""
    assert _registry(client).store.consultations("it_rpo") == []
    for number in numbers:
        decision = client.can_call(number, at=utc_soon())
        assert not decision.allowed
        assert "registry.not_consulted" in decision.codes


def utc_soon() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


def test_consult_submits_polls_and_ingests(
    client: optout.Compliance,
    gateway: FakeGateway,
    transport: SubmitReceiveTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="optout")
    report = _consult(client, transport, [KEPT, REMOVED, "06 1234 5678", "+33123456789"])
    assert (report.reference, report.submitted, report.listed, report.clear) == (
        "job-1",
        2,
        1,
        1,
    )
    assert gateway.uploads == [["0612345678", "3123456789"]]
    assert gateway.count("POST") == 1
    assert gateway.count("GET") == 2  # one 202, then the file
    assert gateway.headers[0]["authorization"] == "Bearer test-token"
    assert gateway.headers[0]["idempotency-key"]
    assert client.can_call(KEPT, at=utc_soon()).allowed
    assert "registry.listed" in client.can_call(REMOVED, at=utc_soon()).codes
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for digits in ("612345678", "3123456789", "123456789"):
        assert digits not in logged, "phone numbers are never logged at INFO or above"


def test_timeouts_are_retried_a_bounded_number_of_times(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.always = "slow"
    gateway.slow_seconds = 1.0
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError, match=r"failed 3 times.*no answer within"):
        _consult(client, transport, [KEPT])
    assert time.monotonic() - started < 3.0
    assert gateway.count() == 3
    _denied_unconsulted(client, [KEPT])


def test_server_errors_then_recovery(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.always = "500"
    with pytest.raises(RegistryUnavailableError, match="HTTP 500"):
        _consult(client, transport, [KEPT, REMOVED])
    assert gateway.count("POST") == 3
    _denied_unconsulted(client, [KEPT, REMOVED])

    gateway.always = None  # the fault clears
    gateway.faults.extend(["503", "503"])  # two more failures are absorbed by the retries
    report = _consult(client, transport, [KEPT, REMOVED])
    assert report.clear == 1
    assert client.can_call(KEPT, at=utc_soon()).allowed


def test_rate_limit_honours_retry_after(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.faults.append("429")
    gateway.retry_after = "1"
    started = time.monotonic()
    report = _consult(client, transport, [KEPT])
    assert time.monotonic() - started >= 0.95  # waited as asked, not the 0.01s backoff
    assert report.clear == 1
    assert gateway.count("POST") == 2


def test_rate_limit_beyond_the_retries_or_too_long_a_wait(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.always = "429"
    gateway.retry_after = "3600"  # more than max_retry_after: give up at once
    with pytest.raises(RegistryUnavailableError, match="asks to wait 3600s"):
        _consult(client, transport, [KEPT])
    assert gateway.count() == 1
    gateway.retry_after = "0"
    with pytest.raises(RegistryUnavailableError, match="HTTP 429"):
        _consult(client, transport, [KEPT])
    assert gateway.count() == 1 + 3
    _denied_unconsulted(client, [KEPT])


def test_connection_resets(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.always = "reset"
    with pytest.raises(RegistryUnavailableError, match="connection failed"):
        _consult(client, transport, [KEPT])
    assert gateway.count() == 3
    _denied_unconsulted(client, [KEPT])
    gateway.always = None
    gateway.faults.append("reset")
    assert _consult(client, transport, [KEPT]).clear == 1


def test_unreachable_gateway(client: optout.Compliance, tmp_path: pathlib.Path) -> None:
    server = FakeGateway(_rpo_answer(set()))
    url = server.url
    server.close()  # nothing listens there any more
    with (
        SubmitReceiveTransport(url, codec=RpoCodec(), timeout=0.3, retries=1, backoff=0.01) as t,
        pytest.raises(RegistryUnavailableError, match="failed 2 times"),
    ):
        _consult(client, t, [KEPT])
    _denied_unconsulted(client, [KEPT])


def test_garbled_submit_answer_is_a_format_error_and_not_retried(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.faults.append("garbled")
    with pytest.raises(RegistryFormatError, match=r"garbled.*check before submitting again"):
        _consult(client, transport, [KEPT])
    assert gateway.count("POST") == 1  # a retry could bill the upload twice
    gateway.faults.append("html")
    with pytest.raises(RegistryFormatError, match="expected a JSON answer, got text/html"):
        _consult(client, transport, [KEPT])
    _denied_unconsulted(client, [KEPT])


def test_truncated_download_is_retried_then_unavailable(
    client: optout.Compliance, gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.pending_polls = 0
    job = transport.submit([KEPT])
    gateway.always = "truncated"
    with pytest.raises(RegistryUnavailableError, match="failed 3 times"):
        transport.fetch(job)
    assert gateway.count("GET") == 3
    gateway.always = None
    path = transport.fetch(job)  # recovers once the body comes whole
    assert path is not None
    assert path.read_bytes() == b"0612345678\r\n"
    _denied_unconsulted(client, [KEPT])  # fetching alone records nothing


def test_garbled_or_mistyped_download(
    client: optout.Compliance,
    gateway: FakeGateway,
    transport: SubmitReceiveTransport,
    tmp_path: pathlib.Path,
) -> None:
    gateway.pending_polls = 0
    job = transport.submit([KEPT])
    gateway.faults.append("garbled")
    with pytest.raises(RegistryFormatError, match="utf-8"):
        transport.fetch(job)
    gateway.faults.append("html")
    with pytest.raises(RegistryFormatError, match="wrong content type text/html"):
        transport.fetch(job)
    assert gateway.count("GET") == 2  # format errors are not retried
    assert not list((tmp_path / "returns").glob("*"))  # no bad file left behind
    gateway.always = "garbled"
    with pytest.raises(RegistryFormatError):
        _consult(client, transport, [KEPT])
    _denied_unconsulted(client, [KEPT])


def test_refused_credentials_and_unknown_consultation(
    gateway: FakeGateway, transport: SubmitReceiveTransport
) -> None:
    gateway.faults.append("401")
    with pytest.raises(RegistryUnavailableError, match="refused the credentials"):
        transport.submit([KEPT])
    assert gateway.count() == 1
    with pytest.raises(RegistryUnavailableError, match="HTTP 404"):
        transport.fetch("job-404")
    with pytest.raises(optout.ConfigurationError):
        transport.fetch("../../etc/passwd")


def test_poll_timeout(client: optout.Compliance, gateway: FakeGateway) -> None:
    gateway.pending_polls = 10_000
    with (
        SubmitReceiveTransport(gateway.url, codec=RpoCodec(), timeout=1.0) as t,
        pytest.raises(RegistryUnavailableError, match="did not come back within"),
    ):
        consult(_registry(client), t, [KEPT], poll_every=0.02, timeout=0.2)
    _denied_unconsulted(client, [KEPT])


def test_zipped_download_through_custom_endpoints(
    client: optout.Compliance, tmp_path: pathlib.Path
) -> None:
    def zipped(lines: list[str]) -> tuple[bytes, str]:
        inner = tmp_path / "inner.txt"
        inner.write_text("".join(f"{ln}\n" for ln in lines if ln != national_digits(REMOVED)))
        archive = tmp_path / "answer.zip"
        with zipfile.ZipFile(archive, "w") as z:
            z.write(inner, "lista.txt")
        return archive.read_bytes(), "application/zip"

    server = FakeGateway(zipped, pending_polls=0)
    try:
        endpoints = Endpoints(submit="/submissions", result="submissions/{id}")
        with SubmitReceiveTransport(
            server.url, codec=RpoCodec(), endpoints=endpoints, download_dir=tmp_path / "dl"
        ) as t:
            report = _consult(client, t, [KEPT, REMOVED])
        assert (report.listed, report.clear) == (1, 1)
        assert list((tmp_path / "dl").glob("*.zip"))
    finally:
        server.close()


def test_tls_settings(caplog: pytest.LogCaptureFixture, tmp_path: pathlib.Path) -> None:
    codec = RpoCodec()
    with pytest.raises(optout.ConfigurationError, match="plain http"):
        SubmitReceiveTransport("http://registry.example/", codec=codec)
    with pytest.raises(optout.ConfigurationError, match="https"):
        SubmitReceiveTransport("ftp://registry.example/", codec=codec)
    with pytest.raises(optout.ConfigurationError, match="TLS files"):
        SubmitReceiveTransport(
            "https://registry.example/", codec=codec, ca_bundle=tmp_path / "nope.pem"
        )
    import httpx  # noqa: PLC0415

    with httpx.Client() as own, pytest.raises(optout.ConfigurationError, match="own httpx"):
        SubmitReceiveTransport("https://registry.example/", codec=codec, client=own, insecure=True)
    with caplog.at_level(logging.WARNING, logger="optout"):
        SubmitReceiveTransport("https://registry.example/", codec=codec, insecure=True).close()
    assert any(
        r.levelno == logging.WARNING and "verification is OFF" in r.getMessage()
        for r in caplog.records
    )
    verified = SubmitReceiveTransport("https://registry.example/", codec=codec)
    verified.close()
