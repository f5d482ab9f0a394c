"""The dashboard's fragments written in Python show exactly what their templates showed."""

import re
from datetime import date, timedelta

import pytest
from django.template import Context, Engine, Template
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


# templates/includes/figure_card.html, which {% figure_card %} replaced, and how the page used it.
FIGURE_CARD = """<div class="{{ col }}">
  <div class="card h-100{% if border %} {{ border }}{% endif %}"><div class="card-body">
    <div class="text-secondary small">{{ label }}</div>
    <div class="fs-3{% if value_class %} {{ value_class }}{% endif %}" id="{{ figure_id }}" """
FIGURE_CARD += """data-testid="{{ testid }}"{% if oob %} hx-swap-oob="true"{% endif %}>"""
FIGURE_CARD += """{{ value }}</div>
    {% if note_id %}<div class="small text-secondary" id="{{ note_id }}"{% if oob %} """
FIGURE_CARD += """hx-swap-oob="true"{% endif %}>{{ note }}</div>{% endif %}
  </div></div>
</div>"""
CARDS = """{% load i18n figure_cards %}
{% blocktranslate trimmed with running=running finished=3 asvar note %}
  {{ running }} running, {{ finished }} finished
{% endblocktranslate %}
{% CARD col="col-sm-6 col-lg-4" label=_("Mailings") figure_id="f-1" testid="t-1" value=big """
CARDS += """note_id="n-1" %}
{% CARD col=col label=_("Clients") figure_id="f-<2>" testid=hostile value=hostile %}
{% blocktranslate asvar label %}Letters delivered, {{ days }} days{% endblocktranslate %}
{% CARD col="c" border="border-success-subtle" value_class="text-success" figure_id="f-3" """
CARDS += """testid="t-3" value=0 %}
{% blocktranslate trimmed count pending=big asvar note %}
  {{ pending }} letter waiting
{% plural %}
  {{ pending }} letters waiting
{% endblocktranslate %}
{% CARD col="c" border=hostile value_class=hostile figure_id="f-4" testid="t-4" value=big """
CARDS += """note_id="n-4" %}"""


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("oob", [False, True])
def test_the_figure_cards_are_written_as_the_include_wrote_them(language, oob, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    include = Template(
        CARDS.replace("{% CARD ", '{% include "figure_card" with ').replace(
            "{% load i18n figure_cards %}", "{% load i18n %}"
        ),
        engine=Engine(
            libraries={"i18n": "django.templatetags.i18n"},
            loaders=[("django.template.loaders.locmem.Loader", {"figure_card": FIGURE_CARD})],
        ),
    )
    tag = Template(CARDS.replace("{% CARD ", "{% figure_card "))
    values = {
        "running": '<script>"x"</script>',
        "big": 1234567,
        "days": 30,
        "col": "col-sm-6 col-lg-4",
        "hostile": '"><b>Москва & co',
        "oob": oob,
    }

    with translation.override(language):
        python = tag.render(Context(values))
        template = include.render(Context(values))

    assert folded(python) == folded(template)
    assert folded(python).count('class="card h-100') == 4
    assert ("hx-swap-oob" in python) == oob
    assert "<script>" not in python and "<b>" not in python
