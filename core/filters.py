"""Filter bars above the lists: one `<Model>Filter` per entity, over the user's own rows."""

from datetime import date, timedelta

import django_filters
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_filters.fields import DateRangeField

from core import selectors
from core.models import Attempt, AuditEntry, Client, Mailing, Message, Periodicity, Tag, User
from core.widgets import PythonDateInput, PythonSelect, PythonTextInput


class FilterForm(forms.Form):
    """A filter bar's form; its ids never clash with those of a form opened in the modal."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)


# The days a date filter takes: their local midnights exist in every zone (0001-01-01 and
# 9999-12-31 would overflow when made aware); any other day is a field error, not a 500.
FIRST_FILTER_DAY, LAST_FILTER_DAY = date(1900, 1, 1), date(9998, 12, 31)


class FilterDateField(forms.DateField):
    """A date of a filter bar, within the days a date filter takes."""

    default_validators = [MinValueValidator(FIRST_FILTER_DAY), MaxValueValidator(LAST_FILTER_DAY)]


class FilterDateRangeField(DateRangeField):
    """django-filter's date range, each end within the days a date filter takes."""

    def __init__(self, *args, **kwargs) -> None:
        # DateRangeField makes its two plain DateFields here; make the bounded ones instead.
        fields = (FilterDateField(), FilterDateField())
        super(DateRangeField, self).__init__(fields, *args, **kwargs)


class DateFilter(django_filters.DateFilter):
    field_class = FilterDateField


class DateFromToRangeFilter(django_filters.DateFromToRangeFilter):
    field_class = FilterDateRangeField


class ClientState:
    """The states a client's filter offers: whether runs still send to it, and why not."""

    ACTIVE, UNSUBSCRIBED, BOUNCED = "active", "unsubscribed", "bounced"
    CHOICES = [
        (ACTIVE, _("Active")),
        (UNSUBSCRIBED, _("Unsubscribed")),
        (BOUNCED, _("Bounced")),
    ]
    LOOKUPS = {
        ACTIVE: Q(unsubscribed_at__isnull=True, bounced_at__isnull=True),
        UNSUBSCRIBED: Q(unsubscribed_at__isnull=False),
        BOUNCED: Q(bounced_at__isnull=False),
    }


class EmailOrNameSearch(django_filters.FilterSet):
    """A free-text search `q` over email and full name: the clients' and the users' bars."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_text",
        widget=PythonTextInput(attrs={"type": "search", "placeholder": _("Email or name")}),
    )

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        return queryset.filter(Q(email__icontains=value) | Q(full_name__icontains=value))


def _timestamp_set_filter(*, field: str, label, set_label, unset_label) -> django_filters.Filter:
    """A choice of the rows whose `field` (a timestamp: blocked_at, disabled_at) is set
    (`set_label`), or not (`unset_label`), or all."""
    return django_filters.ChoiceFilter(
        label=label,
        choices=[("yes", set_label), ("no", unset_label)],
        empty_label=_("All"),
        method=lambda queryset, name, value: queryset.filter(
            **{f"{field}__isnull": value != "yes"}
        ),
    )


def _user_tags(request) -> QuerySet:
    return selectors.tag_list(user=request.user) if request else Tag.objects.none()


class ClientFilter(EmailOrNameSearch):
    """Clients by free text over email, full name and comment (any case, Cyrillic included),
    by state (active, unsubscribed, bounced) and by tag."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_text",
        widget=PythonTextInput(
            attrs={"type": "search", "placeholder": _("Email, name or comment")}
        ),
    )
    state = django_filters.ChoiceFilter(
        label=_("State"),
        choices=ClientState.CHOICES,
        empty_label=_("All"),
        method="filter_state",
        widget=PythonSelect,
    )

    tag = django_filters.ModelChoiceFilter(
        label=_("Tag"),
        queryset=_user_tags,
        empty_label=_("Any tag"),
        method="filter_tag",
        widget=PythonSelect,
    )

    class Meta:
        model = Client
        fields = ["q", "state", "tag"]
        form = FilterForm

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.clients_matching(queryset, text=value)

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(ClientState.LOOKUPS[value])

    def filter_tag(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # A subquery, not a join: a client is listed once, and the count stays exact.
        tagged = Client.tags.through.objects.filter(tag=value).values("client_id")
        return queryset.filter(pk__in=tagged)


class MessageFilter(django_filters.FilterSet):
    """Messages by text in their subject."""

    q = django_filters.CharFilter(
        label=_("Subject"),
        field_name="subject",
        lookup_expr="icontains",
        widget=PythonTextInput(attrs={"type": "search", "placeholder": _("Subject contains")}),
    )

    class Meta:
        model = Message
        fields = ["q"]
        form = FilterForm


def _user_messages(request) -> QuerySet[Message]:
    return selectors.message_list(user=request.user) if request else Message.objects.none()


class DateRangeWidget(django_filters.widgets.DateRangeWidget):
    """Two browser date pickers: `<name>_after` and `<name>_before`."""

    def __init__(self) -> None:
        # The "date range" context: in Russian a range's From/To are not a letter's From/To.
        widgets = [
            forms.DateInput(
                format="%Y-%m-%d",
                attrs={
                    "type": "date",
                    "class": "form-control form-control-sm",
                    "aria-label": label,
                },
            )
            for label in (pgettext_lazy("date range", "From"), pgettext_lazy("date range", "To"))
        ]
        django_filters.widgets.SuffixedMultiWidget.__init__(self, widgets)


class MailingFilter(django_filters.FilterSet):
    """Mailings by status, periodicity, message and a date range on the first send."""

    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Mailing.Status.choices, empty_label=_("Any status")
    )
    periodicity = django_filters.ChoiceFilter(
        label=_("Periodicity"), choices=Periodicity.choices, empty_label=_("Any periodicity")
    )
    message = django_filters.ModelChoiceFilter(
        label=_("Message"), queryset=_user_messages, empty_label=_("Any message")
    )
    start_at = DateFromToRangeFilter(label=_("First send between"), widget=DateRangeWidget())

    class Meta:
        model = Mailing
        fields = ["status", "periodicity", "message", "start_at"]
        form = FilterForm


def _user_mailings(request):
    if request is None:
        return Mailing.objects.none()
    # The choices show the name alone: no message, no other column (fifty rows a poll).
    return selectors.mailing_list(user=request.user).select_related(None).only("pk", "name")


class AttemptFilter(django_filters.FilterSet):
    """The dashboard's runs by mailing, status and a range of local days (both ends included).

    The days become bounds on `attempted_at` itself, not a per-row date conversion, so the
    index on the run time serves them.
    """

    # PythonSelect: drawn on every dashboard poll, Django's template-per-option select of the
    # user's mailings was a tenth of the poll's time.
    mailing = django_filters.ModelChoiceFilter(
        label=_("Mailing"),
        queryset=_user_mailings,
        empty_label=_("All mailings"),
        widget=PythonSelect,
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=Attempt.Status.choices,
        empty_label=_("Any status"),
        widget=PythonSelect,
    )
    date_from = DateFilter(
        label=pgettext_lazy("date range", "From"),
        method="filter_date_from",
        widget=PythonDateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = DateFilter(
        label=pgettext_lazy("date range", "To"),
        method="filter_date_to",
        widget=PythonDateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    class Meta:
        model = Attempt
        fields = ["mailing", "status"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(attempted_at__gte=selectors.local_midnight(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(attempted_at__lt=selectors.local_midnight(value + timedelta(days=1)))


# --- The manager's filter bars (core.views.manage).


class UserOverviewFilter(EmailOrNameSearch):
    """Every user by free text over email and name, and by blocked or not."""

    blocked = _timestamp_set_filter(
        field="blocked_at", label=_("Blocked"), set_label=_("Blocked"), unset_label=_("Not blocked")
    )

    class Meta:
        model = User
        fields = ["q", "blocked"]
        form = FilterForm


class MailingOversightFilter(django_filters.FilterSet):
    """Every user's mailings by owner, status, and disabled or not."""

    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"),
        queryset=User.objects.order_by("email"),
        empty_label=_("Any owner"),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Mailing.Status.choices, empty_label=_("Any status")
    )
    disabled = _timestamp_set_filter(
        field="disabled_at",
        label=_("Disabled"),
        set_label=_("Disabled"),
        unset_label=_("Not disabled"),
    )

    class Meta:
        model = Mailing
        fields = ["owner", "status", "disabled"]
        form = FilterForm


class AuditEntryFilter(django_filters.FilterSet):
    """The audit log by action."""

    action = django_filters.ChoiceFilter(
        label=_("What"), choices=AuditEntry.Action.choices, empty_label=_("Every action")
    )

    class Meta:
        model = AuditEntry
        fields = ["action"]
        form = FilterForm
