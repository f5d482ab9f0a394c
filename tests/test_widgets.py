"""core.widgets.PythonSelect writes what Django's own Select writes."""

import pytest
from django import forms

from core.models import Mailing
from core.widgets import PythonSelect
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
