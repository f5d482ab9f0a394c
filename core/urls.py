"""The app's URLs, named in neapolitan's CRUD scheme (`client-list`, `client-create`, ...)."""

from django.urls import path

from core.views import (
    clients,
    dashboard,
    mailings,
    manage,
    messages,
    previews,
    profile,
    reports,
    sending,
    unsubscribe,
    validation,
)

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("profile/sender/", profile.sender_profile, name="sender-profile"),
    path("clients/", clients.client_list, name="client-list"),
    path("clients/new/", clients.client_form, name="client-create"),
    path("clients/search/", clients.client_search, name="client-search"),
    path("clients/bulk/", clients.client_bulk, name="client-bulk"),
    path("clients/export/", clients.client_export, name="client-export"),
    path("clients/validate-email/", validation.client_email, name="client-validate-email"),
    path("clients/<int:pk>/", clients.client_detail, name="client-detail"),
    path("clients/<int:pk>/edit/", clients.client_form, name="client-update"),
    path("clients/<int:pk>/delete/", clients.client_delete, name="client-delete"),
    path("messages/", messages.message_list, name="message-list"),
    path("messages/new/", messages.message_form, name="message-create"),
    path("messages/preview/", previews.message_preview, name="message-preview"),
    path("messages/<int:pk>/", messages.message_detail, name="message-detail"),
    path("messages/<int:pk>/edit/", messages.message_form, name="message-update"),
    path("messages/<int:pk>/delete/", messages.message_delete, name="message-delete"),
    path("messages/<int:pk>/letter/", previews.message_letter, name="message-letter"),
    path("messages/<int:pk>/send-test/", sending.message_send_test, name="message-send-test"),
    path("mailings/", mailings.mailing_list, name="mailing-list"),
    path("mailings/new/", mailings.mailing_form, name="mailing-create"),
    path("mailings/preview/", previews.mailing_preview, name="mailing-preview"),
    path("mailings/<int:pk>/", mailings.mailing_detail, name="mailing-detail"),
    path("mailings/<int:pk>/edit/", mailings.mailing_form, name="mailing-update"),
    path("mailings/<int:pk>/delete/", mailings.mailing_delete, name="mailing-delete"),
    path("mailings/<int:pk>/attempts/", mailings.mailing_attempts, name="mailing-attempts"),
    path("mailings/<int:pk>/report/", reports.mailing_report, name="mailing-report"),
    path("mailings/<int:pk>/report.csv", reports.mailing_report_csv, name="mailing-report-csv"),
    path("mailings/<int:pk>/send/", sending.mailing_send, name="mailing-send"),
    path("mailings/<int:pk>/stop/", sending.mailing_stop, name="mailing-stop"),
    path("mailings/<int:pk>/pause/", sending.mailing_pause, name="mailing-pause"),
    path("mailings/<int:pk>/resume/", sending.mailing_resume, name="mailing-resume"),
    # A manager's pages (core.permissions): every user and mailing, the acts, the audit log.
    path("manage/", manage.user_list, name="manage-user-list"),
    path("manage/users/<int:pk>/block/", manage.user_block, name="manage-user-block"),
    path("manage/users/<int:pk>/unblock/", manage.user_unblock, name="manage-user-unblock"),
    path("manage/users/<int:pk>/quota/", manage.user_quota, name="manage-user-quota"),
    path("manage/mailings/", manage.mailing_list, name="manage-mailing-list"),
    path("manage/mailings/<int:pk>/", manage.mailing_detail, name="manage-mailing-detail"),
    path("manage/mailings/<int:pk>/report/", manage.mailing_report, name="manage-mailing-report"),
    path(
        "manage/mailings/<int:pk>/disable/", manage.mailing_disable, name="manage-mailing-disable"
    ),
    path("manage/mailings/<int:pk>/enable/", manage.mailing_enable, name="manage-mailing-enable"),
    path("manage/audit/", manage.audit_list, name="manage-audit-list"),
    # The recipient's unsubscribe link: no login, a signed token names the client.
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
]
