"""The tables whose rows are written in Python (core.tables.PythonRowsTable) show exactly what
django-tables2's own template shows for them."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone, translation

from core import selectors
from core.models import Attempt, AuditEntry, Client, Mailing, Message, Periodicity, User
from core.services import administration
from core.services.scheduling import mailing_pause
from core.tables import (
    AttemptTable,
    AuditEntryTable,
    ClientTable,
    KeysFirstPaginator,
    MailingOversightTable,
    MailingRecipientTable,
    MailingTable,
    MessageTable,
    UserOverviewTable,
)
from core.views.lists import TableConfig
from tests.factories import (
    ACCEPTED,
    FAILED,
    PENDING,
    make_client,
    make_mailing,
    make_message,
    make_superuser,
    make_tag,
    make_user,
    record_run,
)

pytestmark = pytest.mark.django_db

STOCK_TEMPLATE = "django_tables2/bootstrap5-responsive.html"


def rendered(
    table_class, queryset, *, viewer: User | None, template_name=None, query=None, paginate=None
) -> str:
    """The table's HTML as `viewer` gets it at `/?<query>`, whitespace between and inside tags
    folded, as a browser reads it."""
    request = RequestFactory().get("/", query or {})
    request.user = viewer or AnonymousUser()
    table = table_class(queryset, template_name=template_name)
    # As the list views do.
    TableConfig(request, paginate=paginate or {"per_page": 25}).configure(table)
    html = table.as_html(request)
    html = re.sub(r">\s+<", "><", html)
    return re.sub(r"\s+", " ", html)


def assert_same_as_django_tables2(
    table_class, queryset, *, viewer: User | None = None, **options
) -> str:
    fast = rendered(table_class, queryset, viewer=viewer, **options)
    assert "<tbody" in fast and "</tr>" in fast
    assert fast == rendered(
        table_class, queryset, viewer=viewer, template_name=STOCK_TEMPLATE, **options
    )
    return fast


# A query string a visitor could send: the sort and page links keep it, escaped.
HOSTILE_QUERY = {"search": ['"><script>x</script>', "Москва & co"], "sort": "-email"}


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("page", ["1", "2", "8", "15"])
def test_the_head_and_the_page_links_match_django_tables2s_rendering(user, language, page):
    for number in range(30):
        make_client(owner=user, email=f"c{number:02}@example.com", full_name=f"<i>{number}</i>")
    clients = selectors.client_list(user=user).prefetch_related("tags")

    with translation.override(language):
        html = assert_same_as_django_tables2(
            ClientTable, clients, query=HOSTILE_QUERY | {"page": page}, paginate={"per_page": 2}
        )
    assert 'aria-label="Table navigation"' in html and "%22%3E%3Cscript%3E" in html
    assert "<script>" not in html


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("page", ["1", "12"])
def test_the_runs_lazy_page_links_match_django_tables2s_rendering(user, language, page):
    client = make_client(owner=user)
    mailing = make_mailing(owner=user, clients=[client])
    for hours in range(30):
        at = timezone.now() - timedelta(hours=hours)
        record_run(mailing, {client.email: (ACCEPTED, "250 <ok> & done")}, at=at)

    with translation.override(language):
        html = assert_same_as_django_tables2(
            AttemptTable,
            selectors.attempt_list(user=user),
            query={"status": "<b>", "page": page},
            paginate={"paginator_class": KeysFirstPaginator, "per_page": 2},
        )
    # Far from the first page, the links skip pages ("...") on both sides.
    assert page == "1" or html.count('<a class="page-link" > ... </a>') == 2


@pytest.mark.parametrize("language", ["en", "ru"])
def test_client_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    plain = make_client(owner=user, email="ann@example.com", full_name="Ann <b>")
    gone = make_client(owner=user, email="bob@example.com", full_name="Боб")
    Client.objects.filter(pk=gone.pk).update(
        unsubscribed_at=now, unsubscribe_source=Client.UnsubscribeSource.ONE_CLICK
    )
    bounced = make_client(owner=user, email="cid@example.com", full_name="")
    Client.objects.filter(pk=bounced.pk).update(bounced_at=now, bounce_reply='550 "No" <user>')
    make_tag(owner=user, name="VIP & friends", clients=[plain, gone])
    make_tag(owner=user, name="Москва", clients=[plain])
    clients = selectors.client_list(user=user).prefetch_related("tags")

    with translation.override(language), timezone.override("Europe/Moscow"):
        assert_same_as_django_tables2(ClientTable, clients)


def test_an_empty_client_table_matches_django_tables2s_rendering(user):
    assert_same_as_django_tables2(ClientTable, selectors.client_list(user=user))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_run_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    named = make_mailing(owner=user, name="Weekly <news>")
    unnamed = make_mailing(owner=user, subject="No name")
    record_run(named, {"a@example.com": (ACCEPTED, "250 OK")}, at=now)
    record_run(
        unnamed,
        {"b@example.com": (FAILED, "550 No")},
        at=now - timedelta(hours=1),
        server_response="x" * 200,
    )
    record_run(named, {"c@example.com": (PENDING, "")}, at=now - timedelta(hours=2))
    record_run(
        named, {}, at=now - timedelta(hours=3), status=Attempt.Status.STOPPED, server_response="?"
    )
    attempts = selectors.attempt_list(user=user)

    with translation.override(language), timezone.override("Asia/Tokyo"):
        assert_same_as_django_tables2(AttemptTable, attempts)


def test_an_empty_run_table_matches_django_tables2s_rendering(user):
    assert_same_as_django_tables2(AttemptTable, selectors.attempt_list(user=user))


HOSTILE = "<b>\"Q&A\"</b> 'x'"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_message_rows_match_django_tables2s_rendering(user, language):
    make_message(owner=user, subject=HOSTILE, body="Привет, " + "длинное письмо " * 10)
    make_message(owner=user, subject="Short", body="<p>Hi & bye</p>")
    make_message(owner=user, subject="", body="")

    with translation.override(language), timezone.override("Europe/Moscow"):
        assert_same_as_django_tables2(MessageTable, selectors.message_list(user=user))


@pytest.mark.parametrize("language", ["en", "ru"])
def test_mailing_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    manager = make_user(email="mina@example.com")
    clients = [make_client(owner=user, email=f"c{n}@example.com") for n in range(3)]
    make_mailing(owner=user, name=HOSTILE, subject="Вести & <новости>", clients=clients)
    disabled = make_mailing(owner=user, name="Disabled", clients=clients[:1], next_run_at=None)
    administration.mailing_disable(actor=manager, mailing=disabled, reason='Spam "x" <y>', now=now)
    paused = make_mailing(
        owner=user, name="Paused", periodicity=Periodicity.WEEKLY, status=Mailing.Status.RUNNING
    )
    mailing_pause(mailing=paused, now=now)
    both = make_mailing(owner=user, name="Both", status=Mailing.Status.FINISHED)
    administration.mailing_disable(actor=manager, mailing=both, reason="", now=now)
    mailing_pause(mailing=Mailing.objects.get(pk=both.pk), now=now)
    mailings = selectors.mailing_list(user=user).annotate(
        recipient_count=selectors.recipient_count_subquery()
    )

    with translation.override(language), timezone.override("America/New_York"):
        assert_same_as_django_tables2(MailingTable, mailings)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_recipient_rows_match_django_tables2s_rendering(user, language):
    now = timezone.now()
    plain = make_client(owner=user, email="ann@example.com", full_name=HOSTILE)
    gone = make_client(owner=user, email="bob@example.com", full_name="Боб")
    bounced = make_client(owner=user, email="cid@example.com", full_name="")
    Client.objects.filter(pk=gone.pk).update(
        unsubscribed_at=now, unsubscribe_source=Client.UnsubscribeSource.LINK
    )
    Client.objects.filter(pk=bounced.pk).update(bounced_at=now, bounce_reply='550 "No" <user>')
    mailing = make_mailing(owner=user, clients=[plain, gone, bounced])
    recipients = selectors.mailing_recipients(mailing=mailing).order_by("email")

    with translation.override(language), timezone.override("Asia/Tokyo"):
        assert_same_as_django_tables2(MailingRecipientTable, recipients)


@pytest.fixture
def manager(db) -> User:
    manager = make_user(email="mina@example.com", full_name="Мина")
    administration.managers_add(user=manager)
    return manager


@pytest.mark.parametrize("language", ["en", "ru"])
def test_user_rows_match_django_tables2s_rendering(user, manager, language):
    """Every act a row can offer: Unblock (blocked), Block (others), neither (the manager
    themselves, a superuser), Quota (all)."""
    now = timezone.now()
    make_superuser(email="root@example.com")
    blocked = make_user(email="zed@example.com", full_name=HOSTILE)
    administration.user_block(actor=manager, user=blocked, reason='Spam "x" <y>', now=now)
    administration.user_set_quota(actor=manager, user=user, quota=1500, reason="School")
    make_user(email="nobody@example.com", full_name="")
    client = make_client(owner=user, email="ann@example.com")
    mailing = make_mailing(owner=user, clients=[client])
    record_run(mailing, {"ann@example.com": (ACCEPTED, "250 OK")}, at=now)
    User.objects.filter(pk=user.pk).update(last_login=now)

    with translation.override(language), timezone.override("Europe/Moscow"):
        assert_same_as_django_tables2(
            UserOverviewTable, selectors.user_overview(now=now), viewer=manager
        )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_oversight_rows_match_django_tables2s_rendering(user, other_user, manager, language):
    now = timezone.now()
    make_mailing(owner=user, name=HOSTILE, subject="Вести & <новости>")
    disabled = make_mailing(owner=other_user, name="Disabled", next_run_at=None)
    administration.mailing_disable(actor=manager, mailing=disabled, reason='Spam "x" <y>', now=now)
    make_mailing(owner=other_user, name="Weekly", periodicity=Periodicity.MONTHLY)

    with translation.override(language), timezone.override("Asia/Tokyo"):
        assert_same_as_django_tables2(
            MailingOversightTable, selectors.mailing_oversight_list(), viewer=manager
        )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_audit_rows_match_django_tables2s_rendering(user, manager, language):
    now = timezone.now()
    mailing = make_mailing(owner=user, name=HOSTILE)
    administration.mailing_disable(actor=manager, mailing=mailing, reason=HOSTILE, now=now)
    administration.user_block(actor=manager, user=user, reason="", now=now)
    gone = make_user(email="gone@example.com")
    administration.managers_add(user=gone)
    administration.user_set_quota(actor=gone, user=user, quota=None, reason="Квота")
    gone.delete()  # the entry keeps what was done, without whom

    entries = AuditEntry.objects.select_related("actor")
    assert entries.filter(actor=None).exists()
    with translation.override(language), timezone.override("Europe/Moscow"):
        assert_same_as_django_tables2(AuditEntryTable, entries, viewer=manager)


@pytest.mark.parametrize(
    "table_class, queryset",
    [
        (MessageTable, Message.objects.none()),
        (MailingTable, Mailing.objects.none()),
        (MailingRecipientTable, Client.objects.none()),
        (UserOverviewTable, User.objects.none()),
        (MailingOversightTable, Mailing.objects.none()),
        (AuditEntryTable, AuditEntry.objects.none()),
    ],
)
def test_an_empty_table_matches_django_tables2s_rendering(manager, table_class, queryset):
    assert_same_as_django_tables2(table_class, queryset, viewer=manager)
