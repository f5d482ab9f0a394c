"""The filter bars' fields written in Python ({% filter_field %}, core/templatetags/filter_bar.py)
show exactly what the include of widget-tweaks' `render_field` showed."""

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import translation

from core.filters import AttemptFilter, ClientFilter, MailingFilter, MessageFilter
from core.models import Attempt, Client, Mailing, Message
from tests.factories import make_client, make_mailing, make_tag

pytestmark = pytest.mark.django_db

# templates/includes/filter_field.html, which the tag replaced.
INCLUDED = Template(
    """{% load widget_tweaks %}
<label class="form-label small{% if label_class %} {{ label_class }}{% endif %}" """
    """for="{{ field.id_for_label }}">{{ field.label }}</label>
{% if field.field.widget.input_type == "select" %}
  {% render_field field class="form-select form-select-sm" %}
{% else %}
  {% render_field field class="form-control form-control-sm" %}
{% endif %}"""
)
TAG = Template("{% load filter_bar %}{% filter_field field label_class=label_class %}")


def folded(html: str) -> str:
    """Whitespace between and inside tags folded, as a browser reads it."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", str(html))).strip()


# Hostile or wrong values: escaped where shown, errors where they do not validate.
QUERIES = [
    {},
    {"q": '"><script>x</script>', "state": "nonsense", "tag": "<b>", "mailing": "999999"},
    {"status": "failure", "date_from": "2026-13-45", "date_to": "2026-11-02", "q": "Москва & co"},
]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("label_class", ["", "text-secondary"])
@pytest.mark.parametrize(
    ("filter_class", "model"),
    [
        (AttemptFilter, Attempt),
        (ClientFilter, Client),
        (MessageFilter, Message),
        (MailingFilter, Mailing),
    ],
)
def test_a_filter_field_is_written_as_the_include_wrote_it(
    user, language, query, label_class, filter_class, model
):
    client = make_client(owner=user, email="a@example.com")
    make_tag(owner=user, name='VIP <"friends">', clients=[client])
    make_mailing(owner=user, name="Weekly <news> & Еженедельно", clients=[client])
    request = RequestFactory().get("/", query)
    request.user = user
    with translation.override(language):
        bar = filter_class(query or None, queryset=model.objects.none(), request=request)
        bar.form.is_valid()
        fields = [field for field in bar.form if not hasattr(field.field.widget, "widgets")]
        assert fields
        for field in fields:
            context = {
                "field": field,
                "label_class": label_class,
                "WIDGET_ERROR_CLASS": "is-invalid",
            }
            python = TAG.render(Context(context))
            assert folded(python) == folded(INCLUDED.render(Context(context)))
            assert ("is-invalid" in python) == bool(field.errors)
    # The wrong values of the second query do not validate: the error class is compared too.
    if query is QUERIES[1] and filter_class in (AttemptFilter, ClientFilter):
        assert any(field.errors for field in fields)
