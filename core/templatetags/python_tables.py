"""The tables written in Python (core.tables.PythonRowsTable), drawn by includes/table.html."""

from django import template
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag(takes_context=True)
def python_table(context, table) -> SafeString:
    """The whole table: its sort and page links keep the request's query string."""
    return table.table_html(context.get("request"))
