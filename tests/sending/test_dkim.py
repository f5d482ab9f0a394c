"""DKIM: letters captured from a real run verify with dkimpy against the test key's DNS record,
for RSA-2048 and Ed25519 keys; a key that cannot be used fails the run once, saying why."""

import base64
import subprocess
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import dkim
import nacl.signing
import pytest
from django.core.management import call_command

from core.models import Attempt, Delivery
from core.services import sending
from core.services.sending.dkim import SIGNED_HEADERS, DkimKeyError, load_signer
from tests.factories import make_clients, make_mailing

pytestmark = pytest.mark.django_db

DOMAIN, SELECTOR = "example.com", "mail2026"


def openssl(*arguments: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["openssl", *arguments], input=stdin, capture_output=True, check=True
    ).stdout


def rsa_key(directory: Path) -> tuple[Path, bytes]:
    """A throwaway RSA-2048 key file and its DNS TXT record."""
    pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    public = openssl("pkey", "-pubout", "-outform", "DER", stdin=pem)
    path = directory / "rsa.pem"
    path.write_bytes(pem)
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def ed25519_pem_key(directory: Path) -> tuple[Path, bytes]:
    """An Ed25519 key as `openssl genpkey` writes it (PKCS#8 PEM), and its TXT record."""
    pem = openssl("genpkey", "-algorithm", "ed25519")
    public = openssl("pkey", "-pubout", "-outform", "DER", stdin=pem)[-32:]
    path = directory / "ed25519.pem"
    path.write_bytes(pem)
    return path, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(public)


def ed25519_seed_key(directory: Path) -> tuple[Path, bytes]:
    """An Ed25519 key as dkimpy's dknewkey writes it (the base64 seed), and its TXT record."""
    key = nacl.signing.SigningKey.generate()
    path = directory / "ed25519.key"
    path.write_bytes(base64.b64encode(bytes(key)) + b"\n")
    return path, b"v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(key.verify_key))


def dns_answering(record: bytes) -> Callable:
    """A dnsfunc for dkim.verify that knows only our selector's record."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    return lookup


@pytest.fixture(params=[rsa_key, ed25519_pem_key, ed25519_seed_key])
def dkim_key(request, settings, tmp_path) -> bytes:
    """DKIM configured with a fresh key of each kind; returns its DNS record."""
    path, record = request.param(tmp_path)
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = DOMAIN, SELECTOR
    settings.DKIM_PRIVATE_KEY_FILE = str(path)
    return record


@pytest.mark.parametrize("format", ["plain", "markdown"])
def test_every_letter_of_a_run_is_signed_and_verifies(sink, user, dkim_key, format):
    user.reply_to = "help@example.com"
    user.save()
    mailing = make_mailing(
        owner=user,
        clients=make_clients(owner=user, count=3),
        subject="{{ first_name }}, распродажа",
    )
    mailing.message.format = format
    mailing.message.save()

    call_command("send_mailings", stdout=StringIO())

    assert len(sink.messages) == 3
    for message in sink.messages:
        assert message.content.startswith(b"DKIM-Signature: ")
        assert dkim.verify(message.content, dnsfunc=dns_answering(dkim_key))
    assert Attempt.objects.get(mailing=mailing).status == "success"


def test_the_signature_covers_the_headers_receivers_require(sink, user, dkim_key):
    make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    call_command("send_mailings", stdout=StringIO())

    content = sink.messages[0].content
    signature = dkim.DKIM(content)
    signature.verify(dnsfunc=dns_answering(dkim_key))
    signed = set(signature.include_headers)
    assert {b"from", b"to", b"subject", b"date", b"message-id", b"mime-version"} <= signed
    assert {b"list-unsubscribe", b"list-unsubscribe-post", b"list-id", b"content-type"} <= signed
    assert set(SIGNED_HEADERS) <= signed
    assert b"; c=relaxed/relaxed;" in content.split(b"\r\n\r\n")[0]


def test_a_letter_changed_after_signing_does_not_verify(sink, user, dkim_key):
    make_mailing(owner=user, clients=make_clients(owner=user, count=1), body="Цена: 100 рублей.\n")

    call_command("send_mailings", stdout=StringIO())

    tampered = sink.messages[0].content.replace(b"100", b"900")
    assert not dkim.verify(tampered, dnsfunc=dns_answering(dkim_key))


def test_a_test_send_is_signed_too(sink, user, dkim_key):
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=1))

    result = sending.message_send_test(message=mailing.message, user=user)

    assert result.accepted
    assert dkim.verify(sink.messages[0].content, dnsfunc=dns_answering(dkim_key))


def test_an_unreadable_key_fails_the_run_once_saying_why(sink, user, settings):
    settings.DKIM_DOMAIN, settings.DKIM_SELECTOR = DOMAIN, SELECTOR
    settings.DKIM_PRIVATE_KEY_FILE = "/nonexistent/dkim.pem"
    mailing = make_mailing(owner=user, clients=make_clients(owner=user, count=2))

    call_command("send_mailings", stdout=StringIO())

    assert sink.messages == []
    attempt = Attempt.objects.get(mailing=mailing)
    assert "/nonexistent/dkim.pem" in attempt.response_text
    assert not Delivery.objects.filter(mailing=mailing, status="failed").exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
)
def test_a_file_that_holds_no_usable_key_is_refused_when_loaded(tmp_path, content):
    path = tmp_path / "bad.pem"
    path.write_bytes(content)

    with pytest.raises(DkimKeyError, match="DKIM key"):
        load_signer(domain=DOMAIN, selector=SELECTOR, key_file=path)
