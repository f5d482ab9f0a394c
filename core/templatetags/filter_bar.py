"""A filter bar's fields, written in Python."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def filter_field(context, field, label_class: str = "") -> SafeString:
    """One field of a filter bar, small: its label, then a select or an input.

    What an include of a template with widget-tweaks' `{% render_field %}` wrote, at a fraction
    of its cost on every dashboard poll and list page (tests/test_filter_bar.py compares them):
    the widget's class set to Bootstrap's small one, and `WIDGET_ERROR_CLASS` (from the
    context) added when the field has errors.
    """
    widget = field.field.widget
    css_class = "form-select form-select-sm"
    if getattr(widget, "input_type", None) != "select":
        css_class = "form-control form-control-sm"
    # In render_field's order: the required class, then the error class.
    if field.field.required and (required_class := context.get("WIDGET_REQUIRED_CLASS")):
        css_class = f"{css_class} {required_class}"
    if field.errors and (error_class := context.get("WIDGET_ERROR_CLASS")):
        css_class = f"{css_class} {error_class}"
    return format_html(
        '<label class="form-label small{}" for="{}">{}</label>\n{}',
        f" {label_class}" if label_class else "",
        field.id_for_label,
        field.label,
        field.as_widget(attrs={"class": css_class}),
    )
