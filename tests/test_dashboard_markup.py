"""The dashboard's fragments written in Python show exactly what their templates showed."""

import re
from datetime import date, timedelta

import pytest
from django.template import Context, Template
from django.utils import translation

from core.selectors import DayDeliveries
from core.views.dashboard import chart_rows


def folded(html: str) -> str:
    """Whitespace between and inside tags folded, as a browser reads it."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", str(html))).strip()


# The chart table's rows as templates/core/dashboard.html wrote them.
CHART_ROWS_TEMPLATE = Template(
    "{% for day in days %}\n  <tr>\n"
    """    <th scope="row"><time datetime="{{ day.day|date:'Y-m-d' }}">"""
    """{{ day.day|date:"SHORT_DATE_FORMAT" }}</time></th>\n"""
    "    <td>{{ day.accepted }}</td>\n    <td>{{ day.failed }}</td>\n  </tr>\n{% endfor %}"
)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_chart_rows_are_written_as_the_template_wrote_them(language, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    first = date(2026, 12, 20)
    days = [
        DayDeliveries(day=first + timedelta(days=n), accepted=n * 1234, failed=n % 3)
        for n in range(30)
    ]

    with translation.override(language):
        python = chart_rows(days)
        template = CHART_ROWS_TEMPLATE.render(Context({"days": days}))

    assert folded(python) == folded(template)
    assert folded(python).count("<tr>") == 30
