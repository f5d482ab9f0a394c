"""Admin: every model listed, searchable and filterable."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from core.models import Attempt, Client, Delivery, Mailing, Message, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["full_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
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
    list_select_related = ["owner", "message"]
    raw_id_fields = ["owner", "message", "clients"]
    date_hierarchy = "start_at"


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


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "status", "tries", "sent_at", "attempt"]
    list_filter = ["status", "sent_at"]
    search_fields = ["email", "reply"]
    raw_id_fields = ["attempt", "mailing", "owner", "client"]
