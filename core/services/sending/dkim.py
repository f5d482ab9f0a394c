"""DKIM signatures (RFC 6376) on every letter, when the operator configured a key.

With DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE set, a run reads the key once and
signs each letter with dkimpy, relaxed/relaxed. The signature covers the headers a receiver
judges the letter by, the two List-Unsubscribe headers included (RFC 8058 requires them
signed). An RSA key is PEM (PKCS#1 or PKCS#8); an Ed25519 key is PEM (PKCS#8, as
`openssl genpkey -algorithm ed25519` writes it) or the base64 seed dkimpy's `dknewkey` writes.
"""

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from django.conf import settings
from django.utils.translation import gettext as _

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
)
_CANONICALIZE = (b"relaxed", b"relaxed")
# DER of a PKCS#8 Ed25519 private key: this prefix, then the 32-byte seed (RFC 8410).
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM = re.compile(rb"-----BEGIN ([A-Z ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


class DkimKeyError(Exception):
    """The DKIM settings or key cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class DkimSigner:
    """A key read once, signing letters for one domain and selector."""

    domain: bytes
    selector: bytes
    key: bytes
    algorithm: bytes  # b"rsa-sha256" or b"ed25519-sha256"
    rsa_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    def signature(self, message: bytes) -> bytes:
        """The `DKIM-Signature` header line (CRLF-terminated) to put before `message`."""
        signer = _OpenSslRsaDkim(message, signature_algorithm=self.algorithm)
        signer.rsa_key = self.rsa_key
        return signer.sign(
            self.selector,
            self.domain,
            self.key,
            canonicalize=_CANONICALIZE,
            include_headers=list(SIGNED_HEADERS),
        )

    def sign(self, message: bytes) -> bytes:
        """`message` with its signature prepended."""
        return self.signature(message) + message


def dkim_configured() -> bool:
    """Whether any of the DKIM settings is set (then all three must be)."""
    return any((settings.DKIM_DOMAIN, settings.DKIM_SELECTOR, settings.DKIM_PRIVATE_KEY_FILE))


def dkim_signer() -> DkimSigner | None:
    """The signer the settings describe, its key read now; None when DKIM is not configured.

    Raises DkimKeyError when the settings are incomplete or the key cannot be read or used.
    """
    if not dkim_configured():
        return None
    missing = [
        name
        for name in ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE")
        if not getattr(settings, name)
    ]
    if missing:
        raise DkimKeyError(
            _("DKIM is configured only in part: set %(missing)s too, or none of the three.")
            % {"missing": ", ".join(missing)}
        )
    return load_signer(
        domain=settings.DKIM_DOMAIN,
        selector=settings.DKIM_SELECTOR,
        key_file=settings.DKIM_PRIVATE_KEY_FILE,
    )


def load_signer(*, domain: str, selector: str, key_file: str | Path) -> DkimSigner:
    """Read and check the key in `key_file`; raise DkimKeyError if it cannot sign."""
    try:
        data = Path(key_file).read_bytes()
    except OSError as error:
        raise DkimKeyError(
            _("The DKIM key file %(file)s cannot be read: %(error)s")
            % {"file": key_file, "error": error.strerror or error}
        ) from None
    key, algorithm = _parse_key(data.replace(b"\r\n", b"\n"))
    rsa_key = None
    if algorithm == b"rsa-sha256":
        try:
            rsa_key = serialization.load_pem_private_key(key, password=None)
        except (ValueError, TypeError) as error:
            raise DkimKeyError(
                _("The DKIM key in %(file)s cannot sign: %(error)s")
                % {"file": key_file, "error": error}
            ) from None
        if not isinstance(rsa_key, rsa.RSAPrivateKey):
            raise DkimKeyError(_("The DKIM key file holds neither an RSA nor an Ed25519 key."))
    signer = DkimSigner(
        domain=domain.strip().lower().encode("idna"),
        selector=selector.strip().encode("ascii"),
        key=key,
        algorithm=algorithm,
        rsa_key=rsa_key,
    )
    try:  # a key that parses may still not sign (a truncated RSA key): find out now, once
        signer.signature(b"From: check@example.com\r\nSubject: key check\r\n\r\nKey check.\r\n")
    except (dkim.DKIMException, ValueError) as error:
        raise DkimKeyError(
            _("The DKIM key in %(file)s cannot sign: %(error)s")
            % {"file": key_file, "error": error}
        ) from None
    return signer


class _OpenSslRsaDkim(dkim.DKIM):
    """dkimpy's signer with its RSA operation done by OpenSSL (the cryptography package).

    dkimpy computes RSA in pure Python: about 10 ms a letter with a 2048-bit key, more than
    building and sending the letter together. OpenSSL takes about 0.4 ms. Everything else
    (canonicalisation, hashing, the header's layout) is dkimpy's: this is its `gen_header`
    for the RSA case (dkimpy 1.1), with one line changed. The tests verify with dkimpy itself.
    """

    rsa_key: rsa.RSAPrivateKey | None = None

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):
        if self.rsa_key is None or self.signature_algorithm != b"rsa-sha256" or standardize:
            return super().gen_header(
                fields, include_headers, canon_policy, header_name, pk, standardize
            )
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        hasher = dkim.HashThrough(self.hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            hasher, canon_policy, headers, include_headers, header, dict(fields)
        )
        signature = self.rsa_key.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        index = next(i for i, (tag, _value) in enumerate(fields) if tag == b"b")
        fields[index] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return dkim.fold(header_value, namelen=len(header_name), linesep=self.linesep)


def _parse_key(data: bytes) -> tuple[bytes, bytes]:
    pem = _PEM.search(data)
    if pem is None:
        seed = _base64(data.strip())
        if seed is not None and len(seed) == 32:  # dknewkey's Ed25519 format
            return data.strip(), b"ed25519-sha256"
        raise DkimKeyError(_("The DKIM key file holds no PEM private key."))
    der = _base64(b"".join(pem.group(2).split()))
    if der is None:
        raise DkimKeyError(_("The DKIM key file holds a damaged PEM block."))
    if der.startswith(_ED25519_PKCS8_PREFIX) and len(der) == len(_ED25519_PKCS8_PREFIX) + 32:
        return base64.b64encode(der[len(_ED25519_PKCS8_PREFIX) :]), b"ed25519-sha256"
    # dkimpy reads RSA keys from PEM itself, line by line.
    kind = pem.group(1)
    body = base64.encodebytes(der)
    return b"-----BEGIN " + kind + b"-----\n" + body + b"-----END " + kind + b"-----\n", (
        b"rsa-sha256"
    )


def _base64(data: bytes) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        return None
