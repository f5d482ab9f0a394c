"""The lists: one `<Model>Table` per entity; sortable columns, pagination, linked rows."""

import django_tables2 as tables
from django.utils.translation import gettext_lazy as _
from django_tables2 import A

from core.models import Client, Mailing, Message

# Edit and delete open in the shared modal (htmx) and are plain links without JavaScript.
ROW_ACTIONS = "includes/row_actions.html"


class ClientTable(tables.Table):
    """The user's clients; the email links to the client's page."""

    email = tables.Column(verbose_name=_("Email"), linkify=("client-detail", {"pk": A("pk")}))
    full_name = tables.Column(verbose_name=_("Full name"))
    created_at = tables.DateTimeColumn(verbose_name=_("Added"), short=True)
    actions = tables.TemplateColumn(
        template_name=ROW_ACTIONS,
        extra_context={"noun": "client"},
        verbose_name="",
        orderable=False,
        attrs={"td": {"class": "text-end text-nowrap"}},
    )

    class Meta:
        model = Client
        fields = ["email", "full_name", "created_at"]
        order_by = "email"
        empty_text = _("No clients yet.")
        attrs = {"class": "table table-hover align-middle", "id": "client-table"}
        row_attrs = {"data-pk": lambda record: record.pk}


class MessageTable(tables.Table):
    """The user's messages; the subject links to the message's page."""

    subject = tables.Column(verbose_name=_("Subject"), linkify=("message-detail", {"pk": A("pk")}))
    body = tables.Column(verbose_name=_("Body"), orderable=False)
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), short=True)
    actions = tables.TemplateColumn(
        template_name=ROW_ACTIONS,
        extra_context={"noun": "message"},
        verbose_name="",
        orderable=False,
        attrs={"td": {"class": "text-end text-nowrap"}},
    )

    class Meta:
        model = Message
        fields = ["subject", "body", "created_at"]
        order_by = "-created_at"
        empty_text = _("No messages yet.")
        attrs = {"class": "table table-hover align-middle", "id": "message-table"}
        row_attrs = {"data-pk": lambda record: record.pk}

    def render_body(self, value: str) -> str:
        return value if len(value) <= 80 else value[:79] + "…"


class MailingTable(tables.Table):
    """The user's mailings with their message and recipient count, fetched in one query."""

    message = tables.Column(
        verbose_name=_("Message"),
        accessor="message__subject",
        order_by="message__subject",
        linkify=("mailing-detail", {"pk": A("pk")}),
    )
    status = tables.Column(verbose_name=_("Status"))
    periodicity = tables.Column(verbose_name=_("Periodicity"))
    start_at = tables.DateTimeColumn(verbose_name=_("First send"), short=True)
    next_run_at = tables.DateTimeColumn(verbose_name=_("Next run"), short=True)
    end_at = tables.DateTimeColumn(verbose_name=_("End"), short=True)
    recipient_count = tables.Column(
        verbose_name=_("Recipients"), attrs={"td": {"class": "text-end"}}
    )
    actions = tables.TemplateColumn(
        template_name=ROW_ACTIONS,
        extra_context={"noun": "mailing"},
        verbose_name="",
        orderable=False,
        attrs={"td": {"class": "text-end text-nowrap"}},
    )

    class Meta:
        model = Mailing
        fields = ["message", "status", "periodicity", "start_at", "next_run_at", "end_at"]
        order_by = "-start_at"
        empty_text = _("No mailings yet.")
        attrs = {"class": "table table-hover align-middle", "id": "mailing-table"}
        row_attrs = {"data-pk": lambda record: record.pk}
