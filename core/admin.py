"""Admin: every model listed, searchable and filterable."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from core.models import (
    Attempt,
    AuditEntry,
    Client,
    Delivery,
    Heartbeat,
    Mailing,
    Message,
    User,
)
from core.services.sending.tally import attempts_delete, deliveries_delete, mailings_delete


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "blocked_at", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    # Blocking and quotas are a manager's acts, made on /manage/ where they are audited.
    readonly_fields = ["email_verified_at", "blocked_at", "blocked_reason", "daily_quota"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["full_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined", "email_verified_at"]}),
        (_("Administration"), {"fields": ["blocked_at", "blocked_reason", "daily_quota"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "owner", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["email", "full_name", "comment", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["subject", "owner", "created_at"]
    list_filter = ["created_at"]
    search_fields = ["subject", "body", "owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(Mailing)
class MailingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "message",
        "owner",
        "periodicity",
        "status",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    list_filter = ["status", "periodicity", "start_at"]
    search_fields = ["message__subject", "owner__email"]
    # Disabling is a manager's act, made on /manage/ where it is audited.
    readonly_fields = ["disabled_at", "disabled_reason"]
    list_select_related = ["owner", "message"]
    raw_id_fields = ["owner", "message", "clients"]
    date_hierarchy = "start_at"

    def delete_model(self, request, obj) -> None:
        """With its runs and ledger, taken out of the dashboard's tally."""
        mailings_delete(ids=[obj.pk])

    def delete_queryset(self, request, queryset) -> None:
        mailings_delete(ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "mailing",
        "attempted_at",
        "status",
        "accepted_count",
        "failed_count",
        "pending_count",
    ]
    list_filter = ["status", "attempted_at"]
    search_fields = ["server_response", "mailing__message__subject", "mailing__owner__email"]
    list_select_related = ["mailing__message"]
    raw_id_fields = ["mailing"]
    date_hierarchy = "attempted_at"

    def delete_model(self, request, obj) -> None:
        """With its ledger, taken out of the dashboard's tally."""
        attempts_delete(ids=[obj.pk])

    def delete_queryset(self, request, queryset) -> None:
        attempts_delete(ids=list(queryset.values_list("pk", flat=True)))


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "status", "tries", "sent_at", "attempt"]
    list_filter = ["status", "sent_at"]
    search_fields = ["email", "reply"]
    raw_id_fields = ["attempt", "mailing", "owner", "client"]

    # The ledger is the sending engine's, and the dashboard's tally follows it: lines are
    # viewed and deleted here, never added or edited.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        deliveries_delete(ids=[obj.pk])

    def delete_queryset(self, request, queryset) -> None:
        deliveries_delete(ids=list(queryset.values_list("pk", flat=True)))


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log, read-only: it is written by the acts themselves and never edited."""

    list_display = ["created_at", "actor", "action", "subject", "reason"]
    list_filter = ["action", "created_at"]
    search_fields = ["subject", "reason", "actor__email"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "at"]
    readonly_fields = ["name", "at"]
