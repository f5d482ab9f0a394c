"""core.widgets' Python widgets write what Django's own widgets write."""

from datetime import date

import pytest
from django import forms
from django.utils import translation
from django.utils.translation import gettext_lazy

from core.models import Mailing
from core.widgets import PythonDateInput, PythonSelect, PythonTextInput
from tests.factories import make_mailing

CHOICES = [("", "Any <status>"), ("a", "Ann & co"), ("b", "Боб"), (3, "Three")]


@pytest.mark.parametrize("value", [None, "", "a", "b", 3, "missing"])
@pytest.mark.parametrize(
    "attrs", [{}, {"class": "form-select form-select-sm", "id": "filter_status", "required": True}]
)
def test_a_select_is_written_as_djangos(value, attrs):
    python = PythonSelect(choices=CHOICES).render("status", value, attrs=dict(attrs))
    django = forms.Select(choices=CHOICES).render("status", value, attrs=dict(attrs))

    assert python == django


def test_a_select_with_option_groups_is_left_to_django():
    choices = [("Group <1>", [("a", "A"), ("b", "B")]), ("c", "C")]

    assert PythonSelect(choices=choices).render("x", "b") == forms.Select(choices=choices).render(
        "x", "b"
    )


@pytest.mark.django_db
def test_a_model_choice_is_written_as_djangos(user):
    chosen = make_mailing(owner=user, name="Weekly <news>")
    make_mailing(owner=user, name="Еженедельно")
    queryset = Mailing.objects.filter(owner=user)
    fast = forms.ModelChoiceField(queryset, widget=PythonSelect, empty_label="All")
    slow = forms.ModelChoiceField(queryset, empty_label="All")

    class Form(forms.Form):
        mailing = fast

    class DjangoForm(forms.Form):
        mailing = slow

    data = {"mailing": str(chosen.pk)}
    assert str(Form(data)["mailing"]) == str(DjangoForm(data)["mailing"])


INPUT_ATTRS = [
    {},
    {"class": "form-control form-control-sm is-invalid", "id": "id_q", "required": True},
    {"placeholder": gettext_lazy("Search"), "autofocus": True, "disabled": False, "x": '"><b>'},
]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("value", [None, "", '"><script>x</script>', "Москва & co", 0])
@pytest.mark.parametrize("attrs", INPUT_ATTRS)
@pytest.mark.parametrize("kind", ["text", "search"])
def test_a_text_box_is_written_as_djangos(language, value, attrs, kind):
    with translation.override(language):
        python = PythonTextInput(attrs={"type": kind}).render("q", value, attrs=dict(attrs))
        django = forms.TextInput(attrs={"type": kind}).render("q", value, attrs=dict(attrs))

    assert python == django


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("value", [None, "", date(2026, 11, 27), "2026-13-45", "<b>"])
@pytest.mark.parametrize("attrs", INPUT_ATTRS)
def test_a_date_box_is_written_as_djangos(language, value, attrs):
    options = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}
    with translation.override(language):
        python = PythonDateInput(**options).render("date_from", value, attrs=dict(attrs))
        django = forms.DateInput(**options).render("date_from", value, attrs=dict(attrs))

    assert python == django


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("value", [None, "failure", "<b>"])
def test_a_select_of_lazily_translated_labels_is_written_as_djangos(language, value):
    choices = [("", gettext_lazy("Any status")), ("failure", gettext_lazy("Failed")), ("<b>", "&")]
    with translation.override(language):
        python = PythonSelect(choices=choices).render("status", value, attrs={"id": "s"})
        django = forms.Select(choices=choices).render("status", value, attrs={"id": "s"})

    assert python == django
