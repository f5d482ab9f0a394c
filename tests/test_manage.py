"""A manager's pages and acts: overseeing every user and mailing, blocking, disabling, quotas,
and the audit log that keeps each act."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import Attempt, AuditEntry, Mailing, User
from core.permissions import is_manager
from core.services import administration
from tests.factories import (
    ACCEPTED,
    BODY,
    PASSWORD,
    PENDING,
    make_client,
    make_clients,
    make_mailing,
    make_user,
    record_run,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(db) -> User:
    manager = make_user(email="mina@example.com", full_name="Mina")
    administration.managers_add(user=manager)
    return manager


@pytest.fixture
def manager_client(manager) -> HttpClient:
    client = HttpClient()
    client.force_login(manager)
    return client


@pytest.fixture
def htmx_manager_client(manager) -> HttpClient:
    client = HttpClient(headers={"HX-Request": "true"})
    client.force_login(manager)
    return client


@pytest.fixture
def running(user) -> Mailing:
    """Anna's mailing with a run in progress: one letter out, one still pending."""
    client = make_client(owner=user, email="ann@example.com")
    mailing = make_mailing(
        owner=user, subject="Spring sale", clients=[client], status=Mailing.Status.RUNNING
    )
    record_run(
        mailing,
        {"ann@example.com": (ACCEPTED, "250 OK"), "bob@example.com": (PENDING, "")},
        at=timezone.now(),
    )
    return mailing


def open_run(mailing: Mailing) -> Attempt:
    return mailing.attempts.get(status=Attempt.Status.RUNNING)


# --- Every user


def test_the_user_table_shows_each_users_counts_and_state(manager_client, user, other_user):
    make_clients(owner=user, count=3)
    mailing = make_mailing(owner=user)
    make_mailing(owner=user)
    now = timezone.now()
    record_run(mailing, {"a@example.com": (ACCEPTED, ""), "b@example.com": (ACCEPTED, "")}, at=now)
    record_run(mailing, {"c@example.com": (ACCEPTED, "")}, at=now - timedelta(days=31))
    User.objects.filter(pk=other_user.pk).update(blocked_at=now, blocked_reason="spam")

    response = manager_client.get(reverse("manage-user-list"))

    table = response.context["table"]
    rows = {row.record.email: row.record for row in table.rows}
    assert (rows["anna@example.com"].client_count, rows["anna@example.com"].mailing_count) == (3, 2)
    assert rows["anna@example.com"].letters_sent == 2  # The one of 31 days ago is not counted.
    assert rows["boris@example.com"].letters_sent == 0
    html = response.content.decode()
    assert html.count('data-state="blocked"') == 1
    assert 'title="spam"' in html


def test_the_user_table_costs_the_same_queries_at_any_volume(manager_client, manager):
    def users_with_history(first: int, count: int) -> None:
        for n in range(first, first + count):
            owner = make_user(email=f"u{n:03}@example.com")
            make_clients(owner=owner, count=3)
            mailing = make_mailing(owner=owner)
            record_run(mailing, {"a@example.com": (ACCEPTED, "")}, at=timezone.now())

    users_with_history(0, 2)
    with CaptureQueriesContext(connection) as few:
        assert manager_client.get(reverse("manage-user-list")).status_code == 200
    users_with_history(2, 30)

    with CaptureQueriesContext(connection) as many:
        response = manager_client.get(reverse("manage-user-list"))

    assert len(response.context["table"].page.object_list) == 25
    assert len(many.captured_queries) == len(few.captured_queries)
    # The session, the signed-in user, the count of users, the page with its counts.
    assert len(many.captured_queries) == 4


def test_the_user_table_filters_by_text_and_blocked(manager_client, user, other_user):
    User.objects.filter(pk=other_user.pk).update(blocked_at=timezone.now())

    blocked = manager_client.get(reverse("manage-user-list"), {"blocked": "yes"})
    found = manager_client.get(reverse("manage-user-list"), {"q": "ANNA"})

    assert [r.record.email for r in blocked.context["table"].rows] == ["boris@example.com"]
    assert [r.record.email for r in found.context["table"].rows] == ["anna@example.com"]


# --- Every mailing


def test_the_mailing_table_filters_by_owner_and_status(manager_client, user, other_user):
    make_mailing(owner=user, subject="Annas news", status=Mailing.Status.RUNNING)
    make_mailing(owner=user, subject="Annas old", status=Mailing.Status.FINISHED)
    make_mailing(owner=other_user, subject="Boris news", status=Mailing.Status.RUNNING)
    url = reverse("manage-mailing-list")

    everything = manager_client.get(url).content.decode()
    annas_running = manager_client.get(url, {"owner": user.pk, "status": "running"})

    for subject in ("Annas news", "Annas old", "Boris news"):
        assert subject in everything
    assert "boris@example.com" in everything
    subjects = [r.record.message.subject for r in annas_running.context["table"].rows]
    assert subjects == ["Annas news"]


@pytest.mark.parametrize("owner", ["²", "x", "99999999999999999999999", "-1", str(2**63)])
def test_a_malformed_owner_in_the_mailing_filter_is_no_500(manager_client, owner):
    response = manager_client.get(reverse("manage-mailing-list"), {"owner": owner})

    assert response.status_code == 200


def test_the_mailing_page_shows_the_facts_and_the_report_never_the_body(
    manager_client, running, user
):
    page = manager_client.get(reverse("manage-mailing-detail", args=[running.pk]))
    report = manager_client.get(
        reverse("manage-mailing-report", args=[running.pk]), headers={"HX-Request": "true"}
    )

    html = page.content.decode()
    assert "Spring sale" in html
    assert user.email in html
    assert 'data-testid="attempt"' in html
    assert reverse("manage-mailing-report", args=[running.pk]) in html
    assert 'data-testid="mailing-report"' in report.content.decode()
    assert 'data-testid="report-accepted">1<' in report.content.decode()
    for text in (page.content.decode(), report.content.decode()):
        assert "Скидки" not in text and BODY not in text
    # No way to edit or delete from here: only the owner's pages have them; nor the owner's
    # CSV of every recipient, which would answer a manager 404.
    assert reverse("mailing-update", args=[running.pk]) not in html
    assert reverse("mailing-report-csv", args=[running.pk]) not in report.content.decode()
    assert reverse("mailing-delete", args=[running.pk]) not in html


# --- Disable and enable


def test_a_manager_can_disable_a_mailing_but_not_edit_or_delete_it(manager_client, running):
    before = Mailing.objects.get(pk=running.pk)

    edit = manager_client.post(
        reverse("mailing-update", args=[running.pk]), {"periodicity": "weekly"}
    )
    delete = manager_client.post(reverse("mailing-delete", args=[running.pk]))
    message = manager_client.get(reverse("message-detail", args=[running.message_id]))
    disable = manager_client.post(
        reverse("manage-mailing-disable", args=[running.pk]), {"reason": "Phishing"}
    )

    assert (edit.status_code, delete.status_code, message.status_code) == (404, 404, 404)
    assert disable.status_code == 302
    after = Mailing.objects.get(pk=running.pk)
    assert after.disabled_at is not None and after.disabled_reason == "Phishing"
    # Nothing of the owner's is touched: not the schedule, not the last edit.
    assert (after.periodicity, after.updated_at, after.message_id) == (
        before.periodicity,
        before.updated_at,
        before.message_id,
    )
    assert open_run(running).stop_requested_at is not None


def test_disabling_and_enabling_each_write_an_audit_row(manager_client, manager, running):
    manager_client.post(reverse("manage-mailing-disable", args=[running.pk]), {"reason": "Spam"})
    manager_client.post(reverse("manage-mailing-enable", args=[running.pk]), {"reason": "Fixed"})

    entries = list(AuditEntry.objects.order_by("created_at", "pk"))
    assert [(e.action, e.actor, e.user, e.mailing, e.reason) for e in entries] == [
        (AuditEntry.Action.DISABLE_MAILING, manager, running.owner, running, "Spam"),
        (AuditEntry.Action.ENABLE_MAILING, manager, running.owner, running, "Fixed"),
    ]
    assert "Spring sale" in entries[0].subject
    assert Mailing.objects.get(pk=running.pk).disabled_at is None


def test_an_act_without_a_reason_is_refused_and_leaves_no_trace(htmx_manager_client, running):
    response = htmx_manager_client.post(
        reverse("manage-mailing-disable", args=[running.pk]), {"reason": "   "}
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Mailing.objects.get(pk=running.pk).disabled_at is None
    assert not AuditEntry.objects.exists()


def test_an_htmx_act_closes_the_modal_and_refreshes_the_page(htmx_manager_client, running):
    response = htmx_manager_client.post(
        reverse("manage-mailing-disable", args=[running.pk]), {"reason": "Spam"}
    )

    assert response.status_code == 204
    assert "mailingListChanged" in response.headers["HX-Trigger"]
    assert "is disabled" in response.headers["HX-Trigger"]


def test_an_act_whose_audit_row_fails_is_undone(manager, running, monkeypatch):
    def refuse(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AuditEntry.objects, "create", refuse)

    with pytest.raises(RuntimeError):
        administration.mailing_disable(
            actor=manager, mailing=running, reason="Spam", now=timezone.now()
        )

    assert Mailing.objects.get(pk=running.pk).disabled_at is None
    assert open_run(running).stop_requested_at is None


# --- Block and unblock


def test_blocking_a_user_stops_their_runs_and_writes_an_audit_row(
    manager_client, manager, user, running
):
    response = manager_client.post(
        reverse("manage-user-block", args=[user.pk]), {"reason": "Sends spam"}
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.blocked_at is not None and user.blocked_reason == "Sends spam"
    assert open_run(running).stop_requested_at is not None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.user, entry.subject, entry.reason) == (
        AuditEntry.Action.BLOCK_USER,
        manager,
        user,
        user.email,
        "Sends spam",
    )


def test_a_blocked_user_cannot_sign_in_and_is_told_why(client, manager, user):
    administration.user_block(actor=manager, user=user, reason="Spam", now=timezone.now())

    refused = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    wrong = client.post(reverse("login"), {"username": user.email, "password": "not it"})

    assert refused.status_code == 200
    assert "This account is blocked" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Only who knows the password learns the account is blocked.
    assert "This account is blocked" not in wrong.content.decode()
    assert "Wrong email or password" in wrong.content.decode()


def test_a_blocked_user_is_signed_out_at_their_next_request(user_client, manager, user):
    assert user_client.get(reverse("home")).status_code == 200
    administration.user_block(actor=manager, user=user, reason="Spam", now=timezone.now())

    response = user_client.get(reverse("client-list"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in user_client.session
    login_page = user_client.get(response.url)
    assert "This account is blocked" in login_page.content.decode()


def test_an_htmx_request_of_a_blocked_user_leaves_the_page(htmx_client, manager, user):
    administration.user_block(actor=manager, user=user, reason="Spam", now=timezone.now())

    response = htmx_client.get(reverse("client-list"))

    assert response.headers["HX-Redirect"].startswith(reverse("login"))
    assert "_auth_user_id" not in htmx_client.session


def test_an_unblocked_user_signs_in_again(client, manager_client, manager, user):
    administration.user_block(actor=manager, user=user, reason="Spam", now=timezone.now())

    manager_client.post(reverse("manage-user-unblock", args=[user.pk]), {"reason": "Explained"})
    response = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert [e.action for e in AuditEntry.objects.order_by("pk")] == [
        AuditEntry.Action.BLOCK_USER,
        AuditEntry.Action.UNBLOCK_USER,
    ]
    assert AuditEntry.objects.order_by("pk").last().reason == "Explained"


@pytest.mark.parametrize("whom", ["self", "superuser"])
def test_a_manager_cannot_block_themselves_or_a_superuser(manager_client, manager, whom):
    target = manager if whom == "self" else User.objects.create_superuser("root@example.com", "x")

    response = manager_client.post(reverse("manage-user-block", args=[target.pk]), {"reason": "x"})

    assert response.status_code == 200
    assert 'class="alert alert-danger"' in response.content.decode()
    assert User.objects.get(pk=target.pk).blocked_at is None
    assert not AuditEntry.objects.exists()


def test_blocking_a_blocked_user_again_is_refused(manager_client, manager, user):
    administration.user_block(actor=manager, user=user, reason="Spam", now=timezone.now())

    response = manager_client.post(reverse("manage-user-block", args=[user.pk]), {"reason": "x"})

    assert "already blocked" in response.content.decode()
    assert AuditEntry.objects.count() == 1


# --- Quotas


def test_a_manager_sets_and_clears_a_daily_quota_on_record(manager_client, manager, user):
    url = reverse("manage-user-quota", args=[user.pk])

    manager_client.post(url, {"daily_quota": "500", "reason": "Newsletter of a school"})
    assert User.objects.get(pk=user.pk).daily_quota == 500
    manager_client.post(url, {"daily_quota": "", "reason": "Back to normal"})

    assert User.objects.get(pk=user.pk).daily_quota is None
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.action, e.user, e.reason) for e in entries] == [
        (AuditEntry.Action.SET_QUOTA, user, "Newsletter of a school"),
        (AuditEntry.Action.SET_QUOTA, user, "Back to normal"),
    ]
    assert entries[0].subject == f"{user.email}: the default → 500"


@pytest.mark.parametrize("quota", ["-1", "lots", "99999999999999999999"])
def test_a_quota_that_is_no_count_of_letters_is_a_form_error(manager_client, user, quota):
    response = manager_client.post(
        reverse("manage-user-quota", args=[user.pk]), {"daily_quota": quota, "reason": "x"}
    )

    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).daily_quota is None


# --- The audit log


def test_the_audit_log_lists_every_act_newest_first_and_filters_by_action(
    manager_client, manager, user, running
):
    now = timezone.now()
    administration.user_set_quota(actor=manager, user=user, quota=10, reason="First")
    administration.mailing_disable(actor=manager, mailing=running, reason="Second", now=now)
    administration.user_block(actor=manager, user=user, reason="Third", now=now)

    everything = manager_client.get(reverse("manage-audit-list"))
    blocks = manager_client.get(reverse("manage-audit-list"), {"action": "block-user"})

    reasons = [row.record.reason for row in everything.context["table"].rows]
    assert reasons == ["Third", "Second", "First"]
    assert "mina@example.com" in everything.content.decode()
    assert [row.record.reason for row in blocks.context["table"].rows] == ["Third"]


def test_the_admin_reads_the_audit_log_but_cannot_change_it(manager, user):
    administration.user_set_quota(actor=manager, user=user, quota=10, reason="On record")
    root = User.objects.create_superuser(email="root@example.com", password="x")
    admin = HttpClient()
    admin.force_login(root)
    entry = AuditEntry.objects.get()

    assert "On record" in admin.get("/admin/core/auditentry/").content.decode()
    assert admin.get("/admin/core/auditentry/add/").status_code == 403
    assert admin.post(f"/admin/core/auditentry/{entry.pk}/delete/").status_code == 403
    assert AuditEntry.objects.get().reason == "On record"


# --- Who is a manager


def test_the_managers_command_adds_lists_and_removes(user, capsys):
    call_command("managers", "add", "ANNA@example.com")
    call_command("managers", "list")
    assert "anna@example.com" in capsys.readouterr().out
    assert user.groups.filter(name="Managers").exists()

    call_command("managers", "remove", "anna@example.com")
    capsys.readouterr()
    call_command("managers", "list")

    assert "anna@example.com" not in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("managers", "add", "nobody@example.com")


def test_only_a_manager_sees_the_manage_link(user_client, manager_client):
    assert 'data-testid="manage-link"' in manager_client.get(reverse("home")).content.decode()
    assert 'data-testid="manage-link"' not in user_client.get(reverse("home")).content.decode()


def test_a_manager_sees_the_success_message_after_a_plain_act(manager_client, user):
    response = manager_client.post(
        reverse("manage-user-quota", args=[user.pk]), {"daily_quota": "5", "reason": "x"}
    )

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "The daily quota of anna@example.com is changed."
    ]


def test_a_deleted_managers_group_is_made_again_with_its_permissions(user):
    Group.objects.filter(name="Managers").delete()

    call_command("managers", "add", "anna@example.com")

    assert is_manager(User.objects.get(pk=user.pk))
