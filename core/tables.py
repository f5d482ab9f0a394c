"""The lists: one `<Model>Table` per entity; sortable columns, pagination, linked rows."""

import html
import inspect
import operator
from functools import cached_property

import django_tables2 as tables
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tables2 import A
from django_tables2.paginators import LazyPaginator
from django_tables2.templatetags.django_tables2 import table_page_range
from django_tables2.utils import AttributeDict

from core import selectors
from core.models import Attempt, AuditEntry, Client, Mailing, Message, User
from core.outcomes import outcome_text


class RowActionsColumn(tables.TemplateColumn):
    """The row's buttons, at its end: Edit and Delete of the `noun`'s object, or those of
    `template_name` (the manager's acts on a user). They open in the shared modal (htmx), and
    are plain links to the form pages without JavaScript. The tables write the same buttons in
    Python (their `cell_actions`); the template is what django-tables2 would draw, which
    tests/test_tables.py compares them with."""

    def __init__(
        self, *, noun: str = "", template_name: str = "includes/object_actions.html"
    ) -> None:
        super().__init__(
            template_name=template_name,
            extra_context={"noun": noun, "small": True},
            verbose_name="",
            orderable=False,
            attrs={"td": {"class": "text-end text-nowrap"}},
        )

    @property
    def header(self) -> str:
        """A name for screen readers, hidden on screen, where the buttons speak for themselves."""
        return format_html('<span class="visually-hidden">{}</span>', gettext("Actions"))


def _aria_sort(bound_column) -> str | None:
    """The sort a header shows, for screen readers; app.css draws it as an arrow."""
    if not bound_column.is_ordered:
        return None
    return "descending" if bound_column.order_by_alias.is_descending else "ascending"


def list_attrs(table_id: str) -> dict:
    """The attributes of a list page's table.

    The list section boosts the sort and page links (includes/list_section.html); the links in
    the rows are left alone: an object's page is a page, and the row actions open the modal.
    """
    return {
        "class": "table table-hover align-middle",
        "id": table_id,
        "th": {"aria-sort": _aria_sort},
        "tbody": {"hx-boost": "false"},
    }


ROW_ATTRS = {"data-pk": lambda record: record.pk}


def _escape(value) -> str:
    """conditional_escape() without its wrapper for lazy arguments, which cost more than the
    escaping itself at a few hundred cells a page."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _as_cell(value) -> str:
    """A value shown in a cell as `{{ cell }}` shows it: local time, localized, escaped."""
    return _escape(formats.localize(template_localtime(value)))


# A key no object has: reversed once, then replaced by each row's key.
_URL_KEY = 2_147_483_647


def url_for_pk(name: str):
    """`pk -> reverse(name, kwargs={"pk": pk})`, reversed once: a page of rows costs one
    reverse() per link kind instead of one per row."""
    pattern = reverse(name, kwargs={"pk": _URL_KEY})
    head, tail = pattern.rsplit(str(_URL_KEY), 1)
    return lambda pk: f"{head}{int(pk)}{tail}"


class PythonRowsTable(tables.Table):
    """A table whose body rows are written in Python (includes/table.html), not through
    django-tables2's cell loop.

    django-tables2 renders each cell through a template loop, inspects the signature of each
    render method for each cell and recomputes each column's attributes for each cell: about a
    millisecond a row. Here each column's `<td>` attributes are computed once; a column with a
    `cell_<name>(record)` method gets its HTML from it (which must escape every value it
    writes: text_cell, datetime_cell and link_cell do); a plain `Column` of a model field shows
    its value or its choice's label (its default when empty); any other column falls back to
    django-tables2's own cell. Same markup (tests/test_tables.py
    compares the two); no callable `td` attributes.
    """

    def rows_html(self) -> SafeString:
        """The `<tr>`s of the current page, or the empty text's row."""
        cells = [
            (bound_column.attrs["td"].as_html(), self._cell_function(bound_column))
            for bound_column in self.columns
        ]
        row_attrs = self._row_attrs_function()
        page = list(self.paginated_rows)
        self.prepare_page([row.record for row in page])
        rows = []
        for row in page:
            tds = "".join([f"<td {td}>{cell(row)}</td>" for td, cell in cells])
            rows.append(f"<tr {row_attrs(row)}>{tds}</tr>")
        if not rows and self.empty_text:
            return format_html('<tr><td colspan="{}">{}</td></tr>', len(cells), self.empty_text)
        # Each cell's values are escaped where it is written, the attributes by as_html().
        return mark_safe("\n".join(rows))  # noqa: S308

    def table_html(self, request) -> SafeString:
        """The whole table as includes/table.html shows it: django-tables2's
        bootstrap5-responsive template (head, body, foot, pagination), written here. Its
        header and page links, one `{% querystring_replace %}` each, and its blocks cost about
        two milliseconds a page through the template. Same markup once whitespace between
        tags is folded, as a browser reads it (tests/test_tables.py)."""
        query = dict(request.GET) if request is not None else {}

        def link(key: str, value) -> str:
            # As {% querystring_replace %} writes it.
            return escape("?" + urlencode(query | {key: value}, doseq=True))

        table_attrs = AttributeDict({"class": "table"})  # as {% render_attrs %}
        table_attrs.update(self.attrs)
        parts = [
            '<div class="table-container table-responsive">',
            f"<table {table_attrs.as_html()}>",
        ]
        if self.show_header:
            parts.append(f"<thead {self.attrs.get('thead', AttributeDict()).as_html()}><tr>")
            for column in self.columns:
                if column.orderable:
                    order = link(self.prefixed_order_by_field, column.order_by_alias.next)
                    header = f'<a href="{order}">{_escape(column.header)}</a>'
                else:
                    header = f" {_escape(column.header)} "
                parts.append(f'<th {column.attrs["th"].as_html()} scope="col">{header}</th>')
            parts.append("</tr></thead>")
        tbody = self.attrs.get("tbody", AttributeDict()).as_html()
        parts.append(f"<tbody {tbody}>\n{self.rows_html()}\n</tbody>")
        if self.has_footer():
            tfoot = self.attrs.get("tfoot", AttributeDict()).as_html()
            cells = "".join(
                f"<td {column.attrs['tf'].as_html()}>{_escape(column.footer)}</td>"
                for column in self.columns
            )
            parts.append(f"<tfoot {tfoot}><tr>{cells}</tr></tfoot>")
        parts.append("</table>")
        page = getattr(self, "page", None)
        if page and self.paginator.num_pages > 1:
            parts.append(self._pagination_html(page, link))
        parts.append("</div>")
        # Every value above is escaped where it is written, the attributes by as_html().
        return mark_safe("\n".join(parts))  # noqa: S308

    def _pagination_html(self, page, link) -> str:
        """The page links of django-tables2's template."""
        field = self.prefixed_page_field
        parts = [
            '<nav aria-label="Table navigation"><ul class="pagination justify-content-center">'
        ]
        if page.has_previous():
            previous = link(field, page.previous_page_number())
            parts.append(
                f'<li class="previous page-item"><a href="{previous}"'
                f' class="page-link"><span aria-hidden="true">&laquo;</span>'
                f" {_escape(gettext('previous'))} </a></li>"
            )
        if page.has_previous() or page.has_next():
            for number in table_page_range(page, self.paginator):
                active = " active" if page.number == number else ""
                href = f'href="{link(field, number)}"' if number != "..." else ""
                parts.append(
                    f'<li class="page-item{active}"><a class="page-link" {href}>'
                    f" {_escape(formats.localize(number))} </a></li>"
                )
        if page.has_next():
            parts.append(
                f'<li class="next page-item"><a href="{link(field, page.next_page_number())}"'
                f' class="page-link"> {_escape(gettext("next"))}'
                ' <span aria-hidden="true">&raquo;</span></a></li>'
            )
        parts.append("</ul></nav>")
        return "".join(parts)

    def _row_attrs_function(self):
        """How a row's `<tr>` attributes are written (row -> HTML), as BoundRow.attrs writes
        them: Meta.row_attrs (a callable of `record` and/or `table`, inspected once here, not
        per row), then the even/odd class. Anything else is left to BoundRow."""
        computed = []
        for key, value in self.row_attrs.items():
            if callable(value):
                try:
                    names = set(inspect.signature(value).parameters)
                except (TypeError, ValueError):
                    names = None
                if not names or not names <= {"record", "table"}:
                    return lambda row: row.attrs.as_html()
            elif isinstance(value, dict) or key in AttributeDict.blacklist:
                return lambda row: row.attrs.as_html()
            else:
                names = None
            computed.append((key, value, names))

        def attrs_html(row) -> str:
            arguments = {"record": row.record, "table": self}
            parts, css_class = [], "odd" if row.row_counter % 2 else "even"
            for key, value, names in computed:
                if names is not None:
                    value = value(**{name: arguments[name] for name in names})
                if key == "class":
                    value = f"{value} {css_class}" if value else css_class
                    css_class = None
                if value is not None:
                    parts.append(f'{_escape(key)}="{_escape(value)}"')
            if css_class:
                parts.append(f'class="{css_class}"')
            return " ".join(parts)

        return attrs_html

    def prepare_page(self, records: list) -> None:
        """Read what the page's cells need besides their records, for all of them at once."""

    def _cell_function(self, bound_column):
        """How a row's cell of `bound_column` is written: row -> escaped HTML."""
        name = bound_column.name
        if method := getattr(self, f"cell_{name}", None):
            return lambda row: method(row.record)
        column, accessor = bound_column.column, bound_column.accessor
        model = self._meta.model
        field = None
        if model is not None and "__" not in accessor and "." not in accessor:
            field = next((f for f in model._meta.fields if f.name == accessor), None)
        plain = (
            type(column) is tables.Column
            and field is not None
            and not bound_column.link
            and not hasattr(self, f"render_{name}")
        )
        if not plain:
            return lambda row: _as_cell(row.get_cell(name))
        empty, default = column.empty_values, _as_cell(bound_column.default)
        # A field with choices shows its label, as django-tables2 shows it.
        read = operator.methodcaller(f"get_{accessor}_display") if field.choices else None

        def plain_cell(row) -> str:
            value = read(row.record) if read else getattr(row.record, accessor)
            return default if value in empty else _as_cell(value)

        return plain_cell

    # What cell_<name>() methods write their cells with. Each shows the column's default for an
    # empty value (None or ""), as django-tables2 does.

    @cached_property
    def _defaults(self) -> dict[str, str]:
        return {column.name: _as_cell(column.default) for column in self.columns}

    def text_cell(self, name: str, value) -> str:
        """Column `name`'s cell of `value` (escaped, localized)."""
        return self._defaults[name] if value in ("", None) else _as_cell(value)

    def datetime_cell(self, name: str, moment) -> str:
        """DateTimeColumn `name`'s cell of `moment` in the short format, in local time."""
        return self._defaults[name] if moment is None else _escape(_short_datetime(moment))

    def link_cell(self, name: str, value, url: str) -> str:
        """Column `name`'s cell of `value` linked to `url` (`linkify`), or its default."""
        if value in ("", None):
            return self._defaults[name]
        return f'<a href="{_escape(url)}">{_escape(value)}</a>'

    def checkbox_cell(self, name: str):
        """`pk -> HTML` of CheckBoxColumn `name`'s box for a row: rendered once by the column
        itself, then each row's key put in (no box is ever checked)."""
        bound_column = self.columns[name]
        column = bound_column.column
        assert column.checked is None
        sample = column.render(value=_URL_KEY, bound_column=bound_column, record=None)
        head, tail = str(sample).split(f'"{_URL_KEY}"', 1)
        return lambda pk: f'{head}"{_escape(pk)}"{tail}'

    @cached_property
    def _action_labels(self) -> tuple[str, str]:
        return _escape(gettext("Edit")), _escape(gettext("Delete"))

    def row_actions_html(self, *, edit_url: str, delete_url: str) -> str:
        """A row's Edit and Delete buttons, as includes/object_actions.html draws them
        (`small`)."""
        edit_label, delete_label = self._action_labels
        return "\n".join(
            [
                modal_link_html(edit_url, edit_label, "btn-sm btn-outline-primary", "edit"),
                modal_link_html(delete_url, delete_label, "btn-sm btn-outline-danger", "delete"),
            ]
        )


def modal_link_html(url: str, label: str, btn_class: str, testid: str) -> str:
    """A button opening the form at `url` in the shared modal, as includes/modal_link.html
    draws it; `label` is HTML (escaped by the caller)."""
    url = _escape(url)
    return (
        f'<a href="{url}" hx-get="{url}" hx-target="#modal-content" hx-swap="innerHTML"\n'
        f'   class="btn {btn_class}" data-testid="{testid}">{label}</a>'
    )


def client_state_badges(client: Client) -> str:
    """ "Unsubscribed" and "Bounced" badges of a client (none while it gets letters); each says
    more on hover: when and how it unsubscribed, what the mail server replied."""
    badges = []
    if client.unsubscribed_at is not None:
        title = _("Unsubscribed on %(when)s (%(how)s)") % {
            "when": _short_datetime(client.unsubscribed_at),
            "how": client.get_unsubscribe_source_display(),
        }
        badges.append(("text-bg-secondary", "unsubscribed", title, _("Unsubscribed")))
    if client.bounced_at is not None:
        title = client.bounce_reply or _("Bounced on %(when)s") % {
            "when": _short_datetime(client.bounced_at)
        }
        badges.append(("text-bg-danger", "bounced", title, _("Bounced")))
    return format_html_join(
        " ",
        '<span class="badge {}" data-state="{}" title="{}">{}</span>',
        badges,
    )


def _short_datetime(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def client_tag_badges(client: Client) -> str:
    """A client's tags as badges (prefetch them for a list)."""
    return tag_badges((tag.key, tag.name) for tag in client.tags.all())


def tag_badges(tags) -> str:
    """Badges of tags given as (key, name) pairs."""
    return format_html_join(
        " ", '<span class="badge text-bg-light border" data-tag="{}">{}</span>', tags
    )


class ClientTable(PythonRowsTable):
    """The user's clients; the email links to the client's page, badges show its tags and mark
    those who unsubscribed or bounced. The first column's checkboxes belong to the bulk form
    above the table (`form="client-bulk"`); the header's selects the page (app.js)."""

    selection = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "input": {"name": "pk", "form": "client-bulk", "aria-label": _("Select")},
            "th__input": {"data-select-page": "", "aria-label": _("Select all on this page")},
        },
    )
    email = tables.Column(verbose_name=_("Email"), linkify=("client-detail", {"pk": A("pk")}))
    full_name = tables.Column(verbose_name=_("Full name"))
    # Computed from the row's own fields: no query.
    state = tables.Column(verbose_name=_("State"), accessor="pk", orderable=False, empty_values=())
    tags = tables.Column(verbose_name=_("Tags"), accessor="pk", orderable=False, empty_values=())
    created_at = tables.DateTimeColumn(verbose_name=_("Added"), short=True)
    actions = RowActionsColumn(noun="client")

    class Meta:
        model = Client
        fields = ["selection", "email", "full_name", "state", "tags", "created_at"]
        order_by = "email"
        empty_text = _("No clients yet.")
        attrs = list_attrs("client-table")
        row_attrs = ROW_ATTRS
        template_name = "includes/table.html"

    def render_state(self, record: Client) -> str:
        return client_state_badges(record)

    def render_tags(self, record: Client) -> str:
        return client_tag_badges(record)

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _urls(self) -> dict:
        return {name: url_for_pk(f"client-{name}") for name in ("detail", "update", "delete")}

    @cached_property
    def _checkbox(self):
        return self.checkbox_cell("selection")

    def cell_selection(self, record: Client) -> str:
        return self._checkbox(record.pk)

    def cell_email(self, record: Client) -> str:
        if not record.email:
            return _as_cell(self.columns["email"].default)
        return f'<a href="{self._urls["detail"](record.pk)}">{_escape(record.email)}</a>'

    def cell_state(self, record: Client) -> str:
        return client_state_badges(record)

    def prepare_page(self, records: list[Client]) -> None:
        # The page's tags in one query of three columns: prefetch_related() built a manager
        # and model instances per client, about 2 ms a page even without a tag.
        self._tags = selectors.client_tags(clients=records)

    def cell_tags(self, record: Client) -> str:
        return tag_badges(self._tags.get(record.pk, ()))

    def cell_created_at(self, record: Client) -> str:
        if record.created_at is None:
            return _as_cell(self.columns["created_at"].default)
        return _escape(_short_datetime(record.created_at))

    def cell_actions(self, record: Client) -> str:
        return self.row_actions_html(
            edit_url=self._urls["update"](record.pk), delete_url=self._urls["delete"](record.pk)
        )


class MessageTable(PythonRowsTable):
    """The user's messages; the subject links to the message's page."""

    subject = tables.Column(verbose_name=_("Subject"), linkify=("message-detail", {"pk": A("pk")}))
    body = tables.Column(verbose_name=_("Body"), orderable=False)
    created_at = tables.DateTimeColumn(verbose_name=_("Created"), short=True)
    actions = RowActionsColumn(noun="message")

    class Meta:
        model = Message
        fields = ["subject", "body", "created_at"]
        order_by = "-created_at"
        empty_text = _("No messages yet.")
        attrs = list_attrs("message-table")
        row_attrs = ROW_ATTRS
        template_name = "includes/table.html"

    def render_body(self, value: str) -> str:
        return value if len(value) <= 80 else value[:79] + "…"

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _urls(self) -> dict:
        return {name: url_for_pk(f"message-{name}") for name in ("detail", "update", "delete")}

    def cell_subject(self, record: Message) -> str:
        return self.link_cell("subject", record.subject, self._urls["detail"](record.pk))

    def cell_body(self, record: Message) -> str:
        return self.text_cell("body", record.body and self.render_body(record.body))

    def cell_created_at(self, record: Message) -> str:
        return self.datetime_cell("created_at", record.created_at)

    def cell_actions(self, record: Message) -> str:
        return self.row_actions_html(
            edit_url=self._urls["update"](record.pk), delete_url=self._urls["delete"](record.pk)
        )


class MailingTable(PythonRowsTable):
    """The user's mailings by name, with their message and recipient count, in one query."""

    name = tables.Column(verbose_name=_("Name"), linkify=("mailing-detail", {"pk": A("pk")}))
    message = tables.Column(
        verbose_name=_("Message"), accessor="message__subject", order_by="message__subject"
    )
    status = tables.Column(verbose_name=_("Status"))
    periodicity = tables.Column(verbose_name=_("Periodicity"))
    start_at = tables.DateTimeColumn(verbose_name=_("First send"), short=True)
    next_run_at = tables.DateTimeColumn(verbose_name=_("Next run"), short=True)
    end_at = tables.DateTimeColumn(verbose_name=_("End"), short=True)
    recipient_count = tables.Column(
        verbose_name=_("Recipients"), attrs={"td": {"class": "text-end"}}
    )
    actions = RowActionsColumn(noun="mailing")

    class Meta:
        model = Mailing
        fields = ["name", "message", "status", "periodicity", "start_at", "next_run_at", "end_at"]
        order_by = "-start_at"
        empty_text = _("No mailings yet.")
        attrs = list_attrs("mailing-table")
        row_attrs = ROW_ATTRS
        template_name = "includes/table.html"

    def render_status(self, value, record) -> str:
        return format_html("{}{}", value, mailing_hold_badges(record))

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _urls(self) -> dict:
        return {name: url_for_pk(f"mailing-{name}") for name in ("detail", "update", "delete")}

    def cell_name(self, record: Mailing) -> str:
        return self.link_cell("name", record.name, self._urls["detail"](record.pk))

    def cell_message(self, record: Mailing) -> str:
        return self.text_cell("message", record.message.subject)

    def cell_status(self, record: Mailing) -> str:
        status = record.get_status_display()
        if status in ("", None):
            return self.text_cell("status", status)
        return _escape(status) + mailing_hold_badges(record)

    def cell_start_at(self, record: Mailing) -> str:
        return self.datetime_cell("start_at", record.start_at)

    def cell_next_run_at(self, record: Mailing) -> str:
        return self.datetime_cell("next_run_at", record.next_run_at)

    def cell_end_at(self, record: Mailing) -> str:
        return self.datetime_cell("end_at", record.end_at)

    def cell_recipient_count(self, record: Mailing) -> str:
        return self.text_cell("recipient_count", record.recipient_count)

    def cell_actions(self, record: Mailing) -> str:
        return self.row_actions_html(
            edit_url=self._urls["update"](record.pk), delete_url=self._urls["delete"](record.pk)
        )


class MailingRecipientTable(PythonRowsTable):
    """The clients a mailing sends to, on its page; each links to the client's page."""

    email = tables.Column(verbose_name=_("Email"), linkify=("client-detail", {"pk": A("pk")}))
    full_name = tables.Column(verbose_name=_("Full name"))
    state = tables.Column(verbose_name=_("State"), empty_values=(), orderable=False)

    class Meta:
        model = Client
        fields = ["email", "full_name"]
        empty_text = _("No recipients.")
        attrs = list_attrs("mailing-recipient-table")
        template_name = "includes/table.html"

    def render_state(self, record: Client) -> str:
        return client_state_badges(record)

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _client_url(self):
        return url_for_pk("client-detail")

    def cell_email(self, record: Client) -> str:
        return self.link_cell("email", record.email, self._client_url(record.pk))

    def cell_state(self, record: Client) -> str:
        return client_state_badges(record)


def mailing_hold_badges(mailing: Mailing) -> str:
    """Badges after a mailing's status when something holds it back: Disabled (with the
    manager's reason as its title), Paused."""
    badges = []
    if mailing.disabled_at is not None:
        badges.append(
            format_html(
                ' <span class="badge text-bg-danger" title="{}" data-testid="disabled">{}</span>',
                mailing.disabled_reason,
                _("Disabled"),
            )
        )
    if mailing.paused_at is not None:
        badges.append(
            format_html(
                ' <span class="badge text-bg-secondary" data-testid="paused">{}</span>',
                _("Paused"),
            )
        )
    return format_html_join("", "{}", ((badge,) for badge in badges))


ATTEMPT_STATUS_BADGES = {
    Attempt.Status.SUCCESS: "text-bg-success",
    Attempt.Status.FAILURE: "text-bg-danger",
    Attempt.Status.RUNNING: "text-bg-warning",
    Attempt.Status.STOPPED: "text-bg-secondary",
}


NUMBER_ATTRS = {"th": {"class": "text-end"}, "td": {"class": "text-end"}}


class _KeysThenRows:
    """A queryset's slices read as two queries: the keys in order, then those rows by key."""

    def __init__(self, queryset: QuerySet) -> None:
        self.queryset = queryset

    def __getitem__(self, window: slice) -> list:
        keys = list(self.queryset.values_list("pk", flat=True)[window])
        rows = self.queryset.order_by().in_bulk(keys)
        return [rows[key] for key in keys if key in rows]


class KeysFirstPaginator(LazyPaginator):
    """A lazy paginator (it never counts) that reads a page's keys before the page's rows.

    Asked for whole rows through joins, SQLite sorts the user's entire history to find one
    page; asked for the keys alone, it walks the (mailing, attempted_at) index in order and
    stops at the page. Two small queries instead of one that grows with the history.
    """

    def page(self, number):
        # The table pages its BoundRows, which slice its TableQuerysetData, which slices the
        # queryset: only that innermost slice changes, for the time of this call.
        table_data = self.object_list.data
        queryset = table_data.data
        table_data.data = _KeysThenRows(queryset)
        try:
            return super().page(number)
        finally:
            table_data.data = queryset


class AttemptTable(PythonRowsTable):
    """The latest runs of a user's mailings on the dashboard.

    Only the run time sorts: the (mailing, attempted_at) index serves it both ways, so sorting
    a long history stays as cheap as showing it; the status is a filter instead.
    """

    attempted_at = tables.DateTimeColumn(verbose_name=_("When"), format="SHORT_DATETIME_FORMAT")
    mailing = tables.Column(
        verbose_name=_("Mailing"),
        accessor="mailing__name",
        orderable=False,
        linkify=("mailing-detail", {"pk": A("mailing_id")}),
    )
    status = tables.Column(verbose_name=_("Status"), orderable=False)
    accepted_count = tables.Column(verbose_name=_("Accepted"), orderable=False, attrs=NUMBER_ATTRS)
    failed_count = tables.Column(verbose_name=_("Failed"), orderable=False, attrs=NUMBER_ATTRS)
    pending_count = tables.Column(verbose_name=_("Pending"), orderable=False, attrs=NUMBER_ATTRS)
    # Unsubscribed or bounced recipients: neither failed nor waiting.
    skipped_count = tables.Column(verbose_name=_("Skipped"), orderable=False, attrs=NUMBER_ATTRS)
    server_response = tables.Column(
        verbose_name=_("Server response"),
        orderable=False,
        attrs={"td": {"class": "text-break small"}},
    )

    class Meta:
        model = Attempt
        fields = [
            "attempted_at",
            "mailing",
            "status",
            "accepted_count",
            "failed_count",
            "pending_count",
            "skipped_count",
            "server_response",
        ]
        order_by = "-attempted_at"
        empty_text = _("No runs yet.")
        # The dashboard boosts the sort and page links (they fetch #attempt-table alone), not
        # the links to a mailing's page in the rows.
        attrs = {
            "class": "table table-sm align-middle mb-0",
            "id": "attempt-table-grid",
            "tbody": {"hx-boost": "false"},
        }
        row_attrs = {"data-status": lambda record: record.status}
        template_name = "includes/table.html"

    def render_status(self, value, record) -> str:
        badge = ATTEMPT_STATUS_BADGES.get(record.status, "text-bg-secondary")
        return format_html('<span class="badge {}">{}</span>', badge, value)

    def render_server_response(self, value) -> str:
        text = outcome_text(value)
        return text if len(text) <= 120 else text[:119] + "…"

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _mailing_url(self):
        return url_for_pk("mailing-detail")

    def cell_attempted_at(self, record: Attempt) -> str:
        return self.datetime_cell("attempted_at", record.attempted_at)

    def cell_mailing(self, record: Attempt) -> str:
        return self.link_cell("mailing", record.mailing.name, self._mailing_url(record.mailing_id))

    def cell_status(self, record: Attempt) -> str:
        display = record.get_status_display()
        if display in ("", None):
            return self._defaults["status"]
        badge = ATTEMPT_STATUS_BADGES.get(record.status, "text-bg-secondary")
        return f'<span class="badge {badge}">{_escape(display)}</span>'

    def cell_server_response(self, record: Attempt) -> str:
        if record.server_response in ("", None):
            return self._defaults["server_response"]
        return _as_cell(self.render_server_response(record.server_response))


# --- The manager's tables (core.views.manage): every user, every mailing, the audit log.


def _stopped_badge(since, reason: str, *, state: str, label: str) -> str:
    """A red `label` badge while `since` is set (blocked, disabled); the `reason` on hover."""
    if since is None:
        return ""
    return format_html(
        '<span class="badge text-bg-danger" data-state="{}" title="{}">{}</span>',
        state,
        reason,
        label,
    )


class UserOverviewTable(PythonRowsTable):
    """Every user with their counts (core.selectors.user_overview) and the manager's acts."""

    email = tables.Column(verbose_name=_("Email"))
    full_name = tables.Column(verbose_name=_("Full name"))
    client_count = tables.Column(verbose_name=_("Clients"), attrs=NUMBER_ATTRS)
    mailing_count = tables.Column(
        verbose_name=_("Mailings"),
        attrs=NUMBER_ATTRS,
        linkify=lambda record: reverse("manage-mailing-list") + f"?owner={record.pk}",
    )
    letters_sent = tables.Column(verbose_name=_("Letters sent (30 days)"), attrs=NUMBER_ATTRS)
    daily_quota = tables.Column(
        verbose_name=_("Daily quota"), attrs=NUMBER_ATTRS, default=_("default")
    )
    last_login = tables.DateTimeColumn(verbose_name=_("Last sign-in"), short=True)
    blocked_at = tables.Column(verbose_name=_("Blocked"), empty_values=())
    actions = RowActionsColumn(template_name="core/manage/user_actions.html")

    class Meta:
        model = User
        fields = [
            "email",
            "full_name",
            "client_count",
            "mailing_count",
            "letters_sent",
            "daily_quota",
            "last_login",
            "blocked_at",
        ]
        order_by = "email"
        empty_text = _("No users.")
        attrs = list_attrs("manage-user-table")
        row_attrs = ROW_ATTRS
        template_name = "includes/table.html"

    def render_blocked_at(self, record: User) -> str:
        return _stopped_badge(
            record.blocked_at, record.blocked_reason, state="blocked", label=_("Blocked")
        )

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _urls(self) -> dict:
        urls = {act: url_for_pk(f"manage-user-{act}") for act in ("block", "unblock", "quota")}
        mailing_list = reverse("manage-mailing-list")
        urls["mailings"] = lambda pk: f"{mailing_list}?owner={int(pk)}"
        return urls

    @cached_property
    def _acts(self) -> dict:
        """Each act's label (escaped) and button class, as core/manage/user_actions.html has
        them."""
        return {
            "unblock": (_escape(gettext("Unblock")), "btn-sm btn-outline-success"),
            "block": (_escape(gettext("Block")), "btn-sm btn-outline-danger"),
            "quota": (_escape(gettext("Quota")), "btn-sm btn-outline-secondary"),
        }

    @cached_property
    def _viewer_pk(self):
        request = getattr(self, "request", None)
        return request.user.pk if request is not None else None

    def cell_client_count(self, record: User) -> str:
        return self.text_cell("client_count", record.client_count)

    def cell_mailing_count(self, record: User) -> str:
        return self.link_cell(
            "mailing_count", record.mailing_count, self._urls["mailings"](record.pk)
        )

    def cell_letters_sent(self, record: User) -> str:
        return self.text_cell("letters_sent", record.letters_sent)

    def cell_last_login(self, record: User) -> str:
        return self.datetime_cell("last_login", record.last_login)

    def cell_blocked_at(self, record: User) -> str:
        return self.render_blocked_at(record)

    def cell_actions(self, record: User) -> str:
        # The manager blocks neither themselves nor a superuser (core.services.administration).
        if record.blocked_at:
            acts = ["unblock", "quota"]
        elif not record.is_superuser and record.pk != self._viewer_pk:
            acts = ["block", "quota"]
        else:
            acts = ["quota"]
        return "\n".join(
            modal_link_html(self._urls[act](record.pk), *self._acts[act], act) for act in acts
        )


class MailingOversightTable(PythonRowsTable):
    """Every user's mailings with their owner; the name links to the manager's view of it."""

    name = tables.Column(verbose_name=_("Name"), linkify=("manage-mailing-detail", {"pk": A("pk")}))
    message = tables.Column(
        verbose_name=_("Message"), accessor="message__subject", order_by="message__subject"
    )
    owner = tables.Column(verbose_name=_("Owner"), accessor="owner__email")
    status = tables.Column(verbose_name=_("Status"))
    periodicity = tables.Column(verbose_name=_("Periodicity"))
    next_run_at = tables.DateTimeColumn(verbose_name=_("Next run"), short=True)
    disabled_at = tables.Column(verbose_name=_("Disabled"), empty_values=())

    class Meta:
        model = Mailing
        fields = ["name", "message", "owner", "status", "periodicity", "next_run_at", "disabled_at"]
        order_by = "-start_at"
        empty_text = _("No mailings.")
        attrs = list_attrs("manage-mailing-table")
        row_attrs = ROW_ATTRS
        template_name = "includes/table.html"

    def render_disabled_at(self, record: Mailing) -> str:
        return _stopped_badge(
            record.disabled_at, record.disabled_reason, state="disabled", label=_("Disabled")
        )

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    @cached_property
    def _mailing_url(self):
        return url_for_pk("manage-mailing-detail")

    def cell_name(self, record: Mailing) -> str:
        return self.link_cell("name", record.name, self._mailing_url(record.pk))

    def cell_message(self, record: Mailing) -> str:
        return self.text_cell("message", record.message.subject)

    def cell_owner(self, record: Mailing) -> str:
        return self.text_cell("owner", record.owner.email)

    def cell_next_run_at(self, record: Mailing) -> str:
        return self.datetime_cell("next_run_at", record.next_run_at)

    def cell_disabled_at(self, record: Mailing) -> str:
        return self.render_disabled_at(record)


class AuditEntryTable(PythonRowsTable):
    """The audit log, newest first: who did what to whom, when and why."""

    created_at = tables.DateTimeColumn(verbose_name=_("When"), format="SHORT_DATETIME_FORMAT")
    actor = tables.Column(verbose_name=_("Who"), accessor="actor__email", orderable=False)
    action = tables.Column(verbose_name=_("What"), orderable=False)
    subject = tables.Column(verbose_name=_("Whom"), orderable=False)
    reason = tables.Column(
        verbose_name=_("Reason"), orderable=False, attrs={"td": {"class": "text-break"}}
    )

    class Meta:
        model = AuditEntry
        fields = ["created_at", "actor", "action", "subject", "reason"]
        order_by = "-created_at"
        empty_text = _("Nothing on record yet.")
        attrs = list_attrs("manage-audit-table")
        row_attrs = {"data-action": lambda record: record.action}
        template_name = "includes/table.html"

    # The rows as PythonRowsTable writes them: the same cells as the columns above render.

    def cell_created_at(self, record: AuditEntry) -> str:
        return self.datetime_cell("created_at", record.created_at)

    def cell_actor(self, record: AuditEntry) -> str:
        # The actor's account may be gone (SET_NULL): the column's default then.
        return self.text_cell("actor", record.actor.email if record.actor else None)
