"""The dashboard's figure cards, written in Python."""

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

CARD = (
    '<div class="{col}">\n'
    '  <div class="card h-100{border}"><div class="card-body">\n'
    '    <div class="text-secondary small">{label}</div>\n'
    '    <div class="fs-3{value_class}" id="{figure_id}" data-testid="{testid}"{oob}>'
    "{value}</div>\n"
    "    {note}\n"
    "  </div></div>\n"
    "</div>"
)
SWAP_OOB = mark_safe(' hx-swap-oob="true"')


@register.simple_tag(takes_context=True)
def figure_card(context, **given) -> SafeString:
    """One figure of the dashboard, in a card: its label, the figure, and an optional note.

    Expects: col (the column's classes), label, figure_id, testid, value. Optional: border and
    value_class (more classes for the card and the figure), note and note_id. As an include
    would, whatever is not given comes from the context (`label` and `note` are set there by
    `{% blocktranslate asvar %}`, `oob` by the poll's answer). The figure and the note carry
    their own ids, so the poll's answer swaps each out of band. What the include of a template
    wrote, seven times a poll, at a fraction of its cost (tests/test_dashboard_markup.py).
    """

    def get(name):
        return given[name] if name in given else context.get(name, "")

    oob = SWAP_OOB if get("oob") else ""
    note = ""
    if note_id := get("note_id"):
        note = format_html(
            '<div class="small text-secondary" id="{}"{}>{}</div>', note_id, oob, get("note")
        )
    border, value_class = get("border"), get("value_class")
    return format_html(
        CARD,
        col=get("col"),
        border=format_html(" {}", border) if border else "",
        label=get("label"),
        value_class=format_html(" {}", value_class) if value_class else "",
        figure_id=get("figure_id"),
        testid=get("testid"),
        oob=oob,
        value=formats.localize(get("value")),
        note=note,
    )
