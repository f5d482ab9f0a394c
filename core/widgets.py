"""Form widgets of the service's own."""

import html

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _escape(value) -> str:
    """conditional_escape() without its wrapper for lazy arguments."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _attrs_html(attrs: dict) -> SafeString:
    """Attributes as django/forms/widgets/attrs.html writes them: False left out, True bare."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class PythonSelect(forms.Select):
    """A select written in Python, with the markup of Django's select.html.

    Django renders a select through a template and one included template per option: a filter
    bar's list of some fifty mailings cost about 4 ms on every dashboard poll. Option groups
    are left to Django's templates. tests/test_widgets.py compares the two.
    """

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        if any(group_name for group_name, _, _ in widget["optgroups"]):
            return super().render(name, value, attrs, renderer)
        # Each option ends with a newline: Django's option template ends with one. Plain
        # f-strings, not format_html per option: fifty options cost a millisecond that way.
        options = []
        for _, group, _ in widget["optgroups"]:
            for option in group:
                attrs = option["attrs"]
                if not attrs:
                    attrs_html = ""
                elif attrs == {"selected": True}:
                    attrs_html = " selected"
                else:
                    attrs_html = _attrs_html(attrs)
                value, label = _escape(str(option["value"])), _escape(option["label"])
                options.append(f'\n  <option value="{value}"{attrs_html}>{label}</option>\n')
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            widget["name"],
            _attrs_html(widget["attrs"]),
            # Every value and label is escaped above, the attributes by _attrs_html.
            mark_safe("".join(options)),  # noqa: S308
        )


class PythonInputMixin:
    """An input written in Python, with the markup of Django's input.html: Django renders it
    through three templates (the type's, input.html, attrs.html), about a quarter of a
    millisecond for each date or search box of a filter bar. tests/test_widgets.py compares
    the two."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        value_html = ""
        if widget["value"] is not None:
            value_html = format_html(' value="{}"', str(widget["value"]))
        return format_html(
            '<input type="{}" name="{}"{}{}>',
            widget["type"],
            widget["name"],
            value_html,
            _attrs_html(widget["attrs"]),
        )


class PythonTextInput(PythonInputMixin, forms.TextInput):
    """A text (or search) box written in Python."""


class PythonDateInput(PythonInputMixin, forms.DateInput):
    """A date box written in Python."""
