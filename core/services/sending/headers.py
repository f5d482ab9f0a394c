"""Addresses and header values as a letter carries them: IDNA domains, RFC 2047 encoded words,
folded lines. Pure functions: they run once per recipient, so they are written for speed."""

from base64 import b64encode
from email.utils import formataddr

from core.outcomes import said

# RFC 5322: no line of a message longer than this many octets, CRLF excluded.
LINE_LIMIT = 998
# Headers fold before this many characters when they can (RFC 5322's "SHOULD").
_FOLD_AT = 78
# UTF-8 bytes per RFC 2047 encoded word: 39 bytes make 52 base64 characters, a word of 64,
# so even "Subject: " and a word stay within the 76 characters RFC 2047 allows a line.
_ENCODED_WORD_BYTES = 39


class LetterError(ValueError):
    """The letter cannot be built for one recipient; the message is the ledger's reason."""


def to_header(name: str, address: str) -> str:
    """The To header's value; splitting on whitespace drops CR and LF, so a name can never
    inject a header."""
    name = " ".join((name or "").split())
    if not name:
        return address
    if name.isascii() and "=?" not in name and len(name) + len(address) < 60:
        return formataddr((name, "x@x"))[: -len("x@x>")] + address + ">"
    words = encoded_words(name)
    last_line = words.rpartition("\n")[2]
    # The address takes a line of its own when it would make the last one longer than 78.
    fits = len("To: ") + len(last_line) + len(address) + len(" <>") <= _FOLD_AT
    separator = " " if fits else "\r\n "
    return f"{words}{separator}<{address}>"


def unstructured(text: str, *, used: int) -> str:
    """An unstructured header's value (Subject): as it is if ASCII, folded at spaces when long,
    else RFC 2047 encoded words. `used` is the length of the header's name and colon."""
    text = " ".join(text.split())
    if text.isascii() and "=?" not in text:
        if used + len(text) <= _FOLD_AT:
            return text
        lines, line = [], ""
        for word in text.split(" "):
            if line and used + len(line) + 1 + len(word) > _FOLD_AT:
                lines.append(line)
                line, used = word, 0
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        if all(len(line) < LINE_LIMIT - len("Subject: ") for line in lines):
            return "\r\n ".join(lines)
    return encoded_words(text)


def encoded_words(text: str) -> str:
    """RFC 2047 base64 encoded words for a header text, one per folded line.

    email.header does the same several times slower; this runs once per recipient.
    """
    words, chunk = [], b""
    for character in text:
        encoded = character.encode()
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{b64encode(word).decode('ascii')}?=" for word in words)


def idna_domain(domain: str) -> str | None:
    """A domain in ASCII (IDNA for an internationalised one); None if it has no such form."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def idna_address(email: str) -> str | None:
    """`email` with its domain in IDNA, if its local part is ASCII; None otherwise."""
    try:
        return envelope_address(email, smtputf8=False)
    except LetterError:
        return None


def envelope_address(email: str, *, smtputf8: bool) -> str:
    """The address as the SMTP envelope and To header carry it: its domain in IDNA, its local
    part as it is (non-ASCII only when the server offers SMTPUTF8). Raises LetterError."""
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(c in email for c in "\r\n<> \t\0"):
        raise LetterError(said("letter.bad_address"))
    if not local.isascii() and not smtputf8:
        raise LetterError(said("letter.no_smtputf8"))
    ascii_domain = idna_domain(domain)
    if not ascii_domain:
        raise LetterError(said("letter.no_idna"))
    return f"{local}@{ascii_domain}"
