"""Filters: one FilterSet per entity list, built from the request so choices are the user's."""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import selectors
from core.models import Attempt, Mailing


def _user_mailings(request):
    if request is None:
        return Mailing.objects.none()
    return selectors.mailing_list(user=request.user)


def _local_midnight(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


class AttemptFilter(django_filters.FilterSet):
    """The dashboard's runs by mailing, status and a range of local days (both ends included).

    The days become bounds on `attempted_at` itself, not a per-row date conversion, so the
    index on the run time serves them.
    """

    mailing = django_filters.ModelChoiceFilter(
        label=_("Mailing"), queryset=_user_mailings, empty_label=_("All mailings")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Attempt.Status.choices, empty_label=_("Any status")
    )
    date_from = django_filters.DateFilter(
        label=_("From"),
        method="filter_date_from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = django_filters.DateFilter(
        label=_("To"),
        method="filter_date_to",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = Attempt
        fields = ["mailing", "status"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(attempted_at__gte=_local_midnight(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(attempted_at__lt=_local_midnight(value + timedelta(days=1)))
