"""Placeholders for the recipient in a message's subject and body, and Markdown to safe HTML.

A message may say `{{ full_name }}`, `{{ first_name }}`, `{{ email }}` or `{{ unsubscribe_url }}`
(spaces inside the braces optional); nothing else. There is no template engine: `parse` splits
a text once per run into literal text and placeholder names, and `Template.render` joins them
with a plain dictionary of exactly those four strings, so a message can never reach a model
object (`{{ client.owner.password }}` is refused like any unknown name).

Markdown runs once per run too: each placeholder is swapped for an inert token, the text goes
through markdown-it (CommonMark, raw HTML off) and nh3, and the tokens become placeholders of
an `HtmlTemplate`, which HTML-escapes each recipient's values as it renders them.
"""

import html
import re
import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import quote

import nh3
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

# The values a letter may use, in the order the form lists them.
PLACEHOLDERS = ("full_name", "first_name", "email", "unsubscribe_url")

_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*")

# CommonMark with raw HTML off: `<b>` typed in a body is text. A line break typed in the body
# stays one in the letter, as people writing letters expect.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})
# What a letter's HTML may keep: no images (no remote content, no tracking pixels), links to
# the web and to mail only, each with rel="noopener noreferrer".
_HTML_TAGS = nh3.ALLOWED_TAGS - {"img"}
_URL_SCHEMES = {"http", "https", "mailto"}


class PlaceholderError(ValueError):
    """A subject or body the letter cannot use: an unknown placeholder or broken braces.

    The message names the problem and lists the available placeholders; the message form
    shows it as the field's error.
    """


def available_placeholders() -> str:
    """The placeholders a message may use, as the form and error messages show them."""
    return ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)


class Template:
    """A text split into literal parts and placeholder names, rendered once per recipient.

    `parts` alternates literal text and names: literal, name, literal, ..., literal.
    """

    def __init__(self, parts: Sequence[str]) -> None:
        if len(parts) % 2 != 1:
            raise ValueError("A template's parts start and end with literal text.")
        self.parts = tuple(parts)
        self.names = frozenset(self.parts[1::2])
        # str.format_map joins the parts in C; the field names are our own identifiers.
        self._format = "".join(
            part.replace("{", "{{").replace("}", "}}") if index % 2 == 0 else f"{{{part}}}"
            for index, part in enumerate(self.parts)
        )

    def render(self, values: Mapping[str, str]) -> str:
        return self._format.format_map(values)

    def __add__(self, other: "Template") -> "Template":
        head, tail = self.parts, other.parts
        return type(self)((*head[:-1], head[-1] + tail[0], *tail[1:]))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.parts == self.parts

    __hash__ = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parts!r})"


class HtmlTemplate(Template):
    """HTML whose placeholders are filled with HTML-escaped values.

    A placeholder at the very start of an attribute value (`href="{{ email }}"`) gets its value
    percent-encoded as well, so that no value can become a `javascript:` link; the unsubscribe
    URL, which the service builds itself, is only escaped.
    """

    def render(self, values: Mapping[str, str]) -> str:
        escaped = {name: html.escape(value) for name, value in values.items()}
        for name in self.names:
            if name.startswith("url_"):
                value = values[name[4:]]
                if name != "url_unsubscribe_url":
                    value = quote(value, safe="@")
                escaped[name] = html.escape(value)
        return self._format.format_map(escaped)


def parse(text: str) -> Template:
    """Split `text` into literal parts and placeholders; raise PlaceholderError if it cannot.

    Refused: an unknown name, an empty `{{ }}`, a lone `{{` or `}}`, and template tags (`{%`).
    """
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        _check_literal(text[position : match.start()])
        name_match = _NAME.fullmatch(match.group(1))
        name = name_match.group(1) if name_match else " ".join(match.group(1).split())
        if not name:
            raise PlaceholderError(
                _("An empty placeholder “{{ }}”. Available: %(available)s.")
                % {"available": available_placeholders()}
            )
        if name_match is None or name not in PLACEHOLDERS:
            raise PlaceholderError(
                _("Unknown placeholder “%(placeholder)s”. Available: %(available)s.")
                % {"placeholder": f"{{{{ {name} }}}}", "available": available_placeholders()}
            )
        parts += [text[position : match.start()], name]
        position = match.end()
    _check_literal(text[position:])
    parts.append(text[position:])
    return Template(parts)


def _check_literal(text: str) -> None:
    if "{%" in text:
        raise PlaceholderError(
            _("Template tags “{%% … %%}” are not supported, only placeholders: %(available)s.")
            % {"available": available_placeholders()}
        )
    if "{{" in text:
        raise PlaceholderError(
            _("“{{” without its closing “}}”. Available placeholders: %(available)s.")
            % {"available": available_placeholders()}
        )
    if "}}" in text:
        raise PlaceholderError(
            _("“}}” without its opening “{{”. Available placeholders: %(available)s.")
            % {"available": available_placeholders()}
        )


def recipient_values(*, full_name: str, email: str, unsubscribe_url: str) -> dict[str, str]:
    """The four values a letter is rendered with; whitespace collapsed, so no line breaks."""
    words = (full_name or "").split()
    return {
        "full_name": " ".join(words),
        "first_name": words[0] if words else "",
        "email": email,
        "unsubscribe_url": unsubscribe_url,
    }


def markdown_html(text: str) -> str:
    """Markdown as sanitised HTML: raw HTML shown as text, no scripts, no images."""
    return nh3.clean(
        _MARKDOWN.render(text),
        tags=_HTML_TAGS,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def markdown_template(template: Template) -> HtmlTemplate:
    """The HTML of a Markdown text already parsed into `template`, its placeholders kept.

    Markdown and the sanitiser run once: they see inert tokens (letters and digits only, so
    Markdown leaves them alone) where the placeholders were.
    """
    nonce = secrets.token_hex(6)
    tokens = {name: f"ph{nonce}x{index}x" for index, name in enumerate(PLACEHOLDERS)}
    source = "".join(
        part if index % 2 == 0 else tokens[part] for index, part in enumerate(template.parts)
    )
    rendered = markdown_html(source)
    names = {token: name for name, token in tokens.items()}
    pieces = re.split(f"(ph{nonce}x[0-9]+x)", rendered)
    parts = [pieces[0]]
    for index in range(1, len(pieces), 2):
        name = names[pieces[index]]
        before = "".join(parts[0::2]) if parts[-1].endswith('="') else ""
        if before and before.rfind("<") > before.rfind(">"):  # starts an attribute's value
            name = f"url_{name}"
        parts += [name, pieces[index + 1]]
    return HtmlTemplate(parts)
