"""What the sending engine tells about a run or a letter, stored without a language and told in
the reader's.

The engine never writes a sentence of its own into `Attempt.server_response` or
`Delivery.reply`: it writes `said(code, **params)`, a small JSON object
`{"outcome": code, "params": {...}}` kept in the same text column, and every page, table,
report and CSV shows it through `outcome_text`, in the active language and time zone. A
moment is stored as ISO 8601 in UTC; another outcome as a parameter (a summary around a
refusal) is nested as it is. What the mail server said is not ours: it is stored as it came,
either alone or as a parameter, and shown word for word.

Why in the existing column rather than a JSON column beside it: every place that carries a
reply (an exception, a result between threads, the SQL that writes the ledger) goes on
carrying one string, so nothing in the engine changes shape; a mail server's reply starts
with its three-digit code and our legacy sentences with a letter, so `{"outcome": ...` is
never mistaken for either; and a text that is not an outcome (rows older than this, or an
engine that has not learnt a code yet) is simply shown as it is.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache

from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

# The longest text kept of one parameter (a server's reply, an error): the ledger keeps 1000
# characters of a reply, and an outcome must stay whole JSON when it is that long.
PARAM_LIMIT = 500
# The code that joins other outcomes (or raw replies) with a separator: a run's summary.
JOINED = "joined"
_PREFIX = '{"outcome":'


@dataclass(frozen=True)
class Message:
    """How one outcome reads: its translatable template with named parameters.

    `count` names the parameter that picks the plural form; `positional` marks an older
    template that takes that number as a bare `%d`. `moments` names the parameters that are
    moments, with the strftime format they are shown in (in the reader's time zone).
    """

    template: object
    count: str | None = None
    positional: bool = False
    moments: dict[str, str] = field(default_factory=dict)

    def render(self, values: dict) -> str:
        if self.positional:
            return str(self.template % values.get(self.count, 0))
        return str(self.template % values)


MESSAGES: dict[str, Message] = {
    # The mail server and the connection to it (core.services.sending.smtp).
    "smtp.refused_connection": Message(_("The mail server refused the connection: %(reply)s")),
    "smtp.no_answer_from": Message(
        _("No answer from the mail server at %(server)s within %(seconds)s s.")
    ),
    "smtp.no_answer": Message(_("No answer from the mail server within %(seconds)s s.")),
    "smtp.closed": Message(_("The mail server closed the connection.")),
    "smtp.cannot_connect": Message(_("Cannot connect to the mail server at %(server)s: %(error)s")),
    "smtp.refused_login": Message(_("The mail server refused the login: %(reply)s")),
    "smtp.refused_session": Message(_("The mail server refused the session: %(reply)s")),
    "smtp.session_failed": Message(_("The mail server refused the session: %(error)s")),
    "smtp.broke": Message(_("The connection to the mail server broke: %(error)s")),
    "smtp.cafile": Message(_("The CA file %(file)s (EMAIL_SSL_CAFILE) cannot be read: %(error)s.")),
    "smtp.unverified": Message(
        _("The mail server's certificate could not be verified: %(reason)s.")
    ),
    "smtp.unintelligible": Message(_("Unintelligible reply from the mail server: %(reply)s")),
    "smtp.refused_sender": Message(_("The mail server refused the sender: %(reply)s")),
    # One letter (core.services.sending.workers, headers, letters).
    "letter.unbuildable": Message(_("The letter cannot be built for this address: %(error)s")),
    "letter.bad_address": Message(_("The address cannot be used for sending.")),
    "letter.no_smtputf8": Message(
        _(
            "The address has non-Latin letters before the @, and the mail server does not "
            "accept such addresses (no SMTPUTF8)."
        )
    ),
    "letter.no_idna": Message(_("The domain of the address cannot be written in ASCII (IDNA).")),
    "letter.client_deleted": Message(_("The client was deleted before the letter went out.")),
    # A skipped recipient (core.services.sending.claims writes these in SQL).
    "skip.bounced": Message(_("Bounced earlier: %(reply)s")),
    "skip.unsubscribed_one_click": Message(_("Unsubscribed (one-click)")),
    "skip.unsubscribed_link": Message(_("Unsubscribed (link)")),
    # A run (core.services.sending.ledger, runs, workers).
    "run.no_clients": Message(_("The mailing has no clients to send to.")),
    "run.skipped": Message(
        ngettext_lazy(
            "%d recipient skipped (unsubscribed or bounced)",
            "%d recipients skipped (unsubscribed or bounced)",
        ),
        count="count",
        positional=True,
    ),
    "run.refused": Message(
        ngettext_lazy("%d recipient refused", "%d recipients refused"),
        count="count",
        positional=True,
    ),
    "run.still_pending": Message(
        ngettext_lazy("%d recipient still pending", "%d recipients still pending"),
        count="count",
        positional=True,
    ),
    "run.resumes": Message(
        _("%(reply)s Pending recipients are tried again at %(time)s."),
        moments={"time": "%H:%M"},
    ),
    "run.released": Message(
        _(
            "The sender was shut down; the next sender goes on with the %(count)d "
            "pending recipients."
        )
    ),
    "run.taken_over": Message(_("Another sender took this run over.")),
    "run.sender_failed": Message(_("The sender failed: %(error)s")),
    "quota.after_midnight": Message(
        ngettext_lazy(
            "Daily quota of %(quota)d letter reached; the rest go out after midnight.",
            "Daily quota of %(quota)d letters reached; the rest go out after midnight.",
            "quota",
        ),
        count="quota",
    ),
    "quota.next_run": Message(
        ngettext_lazy(
            "Daily quota of %(quota)d letter reached; the rest go out with the next run.",
            "Daily quota of %(quota)d letters reached; the rest go out with the next run.",
            "quota",
        ),
        count="quota",
    ),
    # A run that stopped or was closed early (core.services.sending.controls, claims).
    "stop.disabled": Message(_("Stopped: a manager disabled the mailing (%(reason)s).")),
    "stop.blocked": Message(_("Stopped: the owner's account is blocked.")),
    "stop.paused": Message(_("Stopped: the mailing was paused.")),
    "stop.requested": Message(_("Stopped on request.")),
    "stop.deleted": Message(_("Stopped: the run was deleted.")),
    "stop.left_pending": Message(
        ngettext_lazy(
            "%(count)d recipient left pending.", "%(count)d recipients left pending.", "count"
        ),
        count="count",
    ),
    "stop.next_run": Message(
        _("Not sent: the next run, at %(time)s, sends to every recipient."),
        moments={"time": "%Y-%m-%d %H:%M"},
    ),
    "stop.mailing_ended": Message(
        _("Not sent: the mailing ended at %(time)s."), moments={"time": "%Y-%m-%d %H:%M"}
    ),
}


def said(code: str, /, **params) -> str:
    """The stored form of outcome `code` with its parameters: moments in UTC, other outcomes
    nested, anything else as text (cut to PARAM_LIMIT) or a number."""
    if code not in MESSAGES:
        raise KeyError(f"Unknown outcome {code!r}: add it to core.outcomes.MESSAGES")
    return _encode({"outcome": code, "params": {name: _stored(v) for name, v in params.items()}})


def said_together(separator: str, *parts: str) -> str:
    """Several outcomes or replies (the empty ones left out) told as one, with `separator`."""
    parts = tuple(part for part in parts if part)
    if len(parts) == 1:
        return parts[0]
    if not any(_parsed(part) for part in parts):
        return separator.join(parts)
    return _encode(
        {"outcome": JOINED, "params": {"sep": separator, "parts": [_stored(p) for p in parts]}}
    )


def outcome_text(stored: str) -> str:
    """What `stored` (an outcome, or a reply as the server gave it) says, in the active
    language and time zone. A text that is no outcome, or of a code this version does not
    know, is shown as it is."""
    node = _parsed(stored or "")
    if node is None:
        return stored or ""
    return _told(node) or stored


def outcome_code(stored: str) -> str:
    """The code of a stored outcome; "" for a reply that is no outcome."""
    node = _parsed(stored or "")
    return node["outcome"] if node else ""


def _encode(node: dict) -> str:
    return json.dumps(node, ensure_ascii=False, separators=(", ", ": "))


def _stored(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = str(value)
    node = _parsed(text)
    if node is not None:
        return node
    return text if len(text) <= PARAM_LIMIT else text[: PARAM_LIMIT - 1] + "…"


def _parsed(text: str) -> dict | None:
    if not isinstance(text, str) or not text.startswith(_PREFIX):
        return None
    try:
        node = json.loads(text)
    except ValueError:
        return None
    if not isinstance(node, dict) or not isinstance(node.get("params", {}), dict):
        return None
    return node


def _told(node) -> str:
    """One stored value as text: an outcome rendered, anything else as it is."""
    if not isinstance(node, dict) or "outcome" not in node:
        return "" if node is None else str(node)
    code, params = node["outcome"], node.get("params") or {}
    if code == JOINED:
        return str(params.get("sep", " ")).join(_told(part) for part in params.get("parts", []))
    message = MESSAGES.get(code)
    if message is None:
        return ""
    values = {}
    for name, value in params.items():
        if name in message.moments:
            values[name] = _moment(value, message.moments[name])
        elif isinstance(value, dict):
            values[name] = _told(value)
        else:
            values[name] = value
    try:
        return message.render(values)
    except (KeyError, TypeError, ValueError):
        return ""


def _moment(value, form: str) -> str:
    """A stored moment in the active time zone; a text that is no ISO moment as it is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        return str(value)
    return timezone.localtime(moment).strftime(form)


# --- Rows written before outcomes: the sentences the engine wrote in English or Russian.

LEGACY_LANGUAGES = ("en", "ru")
# Parameters that held a reply, an error or another of our sentences: parsed again.
_NESTED = {"reply", "error", "reason"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])|%d|%%")
# The separators a run's summary and a stopped run's reason were joined with.
_SEPARATORS = ("; ", ": ", ", ", " ")
# How deep joined sentences are looked for (a summary is three), and within how many first
# characters a split is tried: the engine's own parts come first, a server's reply last.
_DEPTH = 4
_SPLIT_WITHIN = 300


def legacy_outcome(text: str) -> str:
    """`text`, an engine's sentence written in English or Russian before outcomes, as the
    outcome it said; `text` itself when it is not one (a server's reply, an unknown text)."""
    if not text or text.startswith(_PREFIX) or len(text) > 4 * PARAM_LIMIT:
        return text
    found = _legacy(text)
    return _encode(found) if isinstance(found, dict) else text


@lru_cache(maxsize=4096)
def _legacy(text: str, depth: int = 0):
    """The outcome node `text` says, or `text` itself; joined ones at most `_DEPTH` deep."""
    for code, pattern in _legacy_patterns():
        match = pattern.fullmatch(text)
        if match is None:
            continue
        params = {}
        for name, value in match.groupdict().items():
            if name in _NESTED:
                params[name] = _legacy(value, depth + 1)
            elif value.isdigit():
                params[name] = int(value)
            else:
                params[name] = value
        return {"outcome": code, "params": params}
    # A summary joined of several: split where both sides (or else one) are ours.
    best = None
    if depth >= _DEPTH:
        return text
    for separator in _SEPARATORS:
        start = 0
        while (index := text.find(separator, start)) >= 0 and start < _SPLIT_WITHIN:
            start = index + 1
            left, right = text[:index], text[index + len(separator) :]
            if separator == " " and not left.endswith("."):
                continue  # only a stopped run's reason and its count are joined by a space
            found = (_legacy(left, depth + 1), _legacy(right, depth + 1))
            known = sum(isinstance(part, dict) for part in found)
            if known == 2:
                return _joined(separator, found)
            if known and best is None:
                best = _joined(separator, found)
    return best or text


def _joined(separator: str, parts) -> dict:
    return {"outcome": JOINED, "params": {"sep": separator, "parts": list(parts)}}


@cache
def _legacy_patterns() -> tuple:
    """(code, compiled pattern) for every message in every legacy language and plural
    form: those that wrap another sentence (`%(reply)s ...`) first, then the longest, so
    that the most specific one matches."""
    patterns = {}
    for code, message in MESSAGES.items():
        for language in LEGACY_LANGUAGES:
            with translation.override(language):
                for number in (1, 2, 5, 21) if message.count else (None,):
                    template = str(_template_for(message, number))
                    patterns.setdefault((code, template), (code, _regex(template)))
    ordered = sorted(
        patterns.items(), key=lambda item: (not item[0][1].startswith("%("), -len(item[0][1]))
    )
    return tuple(value for _key, value in ordered)


def _template_for(message: Message, number: int | None) -> str:
    """The message's template in the active language (the form for `number`), its
    placeholders left in."""
    if number is None:
        return str(message.template)
    # A plural template keeps its two untranslated forms in the lazy object's arguments.
    forms = message.template._kw
    return translation.ngettext(forms["singular"], forms["plural"], number)


def _regex(template: str) -> re.Pattern:
    parts, position, seen = [], 0, set()
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        position = match.end()
        token = match.group(0)
        if token == "%%":
            parts.append("%")
            continue
        name = match.group(1) or "count"
        kind = match.group(2) or "d"
        if name in seen:
            parts.append(f"(?P={name})")
            continue
        seen.add(name)
        parts.append(rf"(?P<{name}>\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts), re.DOTALL)
