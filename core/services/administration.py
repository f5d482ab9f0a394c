"""What a manager does to other users' accounts and mailings, each act on record.

Every act writes its AuditEntry in the same transaction as the change itself: there is no
block without its row in the log, and no row for a block that did not happen. Stopping runs
follows the engine's contract: an act sets `stop_requested_at` on the open runs, and their
sender ends them as stopped between two batches; the claims never open a run of a blocked
owner or a disabled mailing.
"""

from datetime import datetime

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.models import Attempt, AuditEntry, Mailing, User
from core.permissions import MANAGER_PERMISSIONS, MANAGERS_GROUP
from core.services.scheduling import mailing_next_run


def _open_runs(**lookups) -> QuerySet[Attempt]:
    return Attempt.objects.filter(
        status=Attempt.Status.RUNNING, stop_requested_at__isnull=True, **lookups
    )


def _user_audit(
    *, actor: User, action: AuditEntry.Action, user: User, reason: str, subject: str = ""
) -> AuditEntry:
    """The log's row of an act on `user`, shown as `subject` (default: their email)."""
    return AuditEntry.objects.create(
        actor=actor, action=action, user=user, subject=subject or user.email, reason=reason
    )


def _mailing_audit(
    *, actor: User, action: AuditEntry.Action, mailing: Mailing, reason: str
) -> AuditEntry:
    """The log's row of an act on `mailing`, shown by its subject and owner."""
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        user=mailing.owner,
        mailing=mailing,
        subject=f"{mailing.name} ({mailing.owner.email})"[:300],
        reason=reason,
    )


def user_block(*, actor: User, user: User, reason: str, now: datetime) -> AuditEntry:
    """Block `user`: they cannot sign in, are signed out, and their open runs are asked to stop.

    A manager cannot block themselves or a superuser (the operator would be locked out).
    """
    if user.pk == actor.pk:
        raise ValidationError(_("You cannot block yourself."))
    if user.is_superuser:
        raise ValidationError(_("A superuser cannot be blocked."))
    if user.blocked_at is not None:
        raise ValidationError(_("This user is already blocked."))
    with transaction.atomic():
        user.blocked_at, user.blocked_reason = now, reason
        user.save(update_fields=["blocked_at", "blocked_reason"])
        _open_runs(mailing__owner=user).update(stop_requested_at=now)
        return _user_audit(
            actor=actor, action=AuditEntry.Action.BLOCK_USER, user=user, reason=reason
        )


def user_unblock(*, actor: User, user: User, reason: str) -> AuditEntry:
    """Let `user` sign in again; their mailings send again from their next slot."""
    if user.blocked_at is None:
        raise ValidationError(_("This user is not blocked."))
    with transaction.atomic():
        user.blocked_at, user.blocked_reason = None, ""
        user.save(update_fields=["blocked_at", "blocked_reason"])
        return _user_audit(
            actor=actor, action=AuditEntry.Action.UNBLOCK_USER, user=user, reason=reason
        )


def user_set_quota(*, actor: User, user: User, quota: int | None, reason: str) -> AuditEntry:
    """Set how many letters a day `user`'s runs may send; None: the service's default."""
    with transaction.atomic():
        before = user.daily_quota
        user.daily_quota = quota
        user.save(update_fields=["daily_quota"])
        default = _("the default")
        return _user_audit(
            actor=actor,
            action=AuditEntry.Action.SET_QUOTA,
            user=user,
            subject=f"{user.email}: {default if before is None else before} → "
            f"{default if quota is None else quota}"[:300],
            reason=reason,
        )


def mailing_disable(*, actor: User, mailing: Mailing, reason: str, now: datetime) -> AuditEntry:
    """Disable `mailing`: nothing of it is sent until enabled, and its open run is asked to stop.

    The mailing itself is not edited: its message, clients and schedule stay as the owner left
    them.
    """
    if mailing.disabled_at is not None:
        raise ValidationError(_("This mailing is already disabled."))
    with transaction.atomic():
        mailing.disabled_at, mailing.disabled_reason = now, reason
        # Not save(): `updated_at` is the owner's last edit, and stays theirs.
        Mailing.objects.filter(pk=mailing.pk).update(disabled_at=now, disabled_reason=reason)
        _open_runs(mailing=mailing).update(stop_requested_at=now)
        return _mailing_audit(
            actor=actor, action=AuditEntry.Action.DISABLE_MAILING, mailing=mailing, reason=reason
        )


def mailing_enable(*, actor: User, mailing: Mailing, reason: str, now: datetime) -> AuditEntry:
    """Let `mailing` send again, from the slot `now` falls in: the slots missed while it was
    disabled are not made up for."""
    if mailing.disabled_at is None:
        raise ValidationError(_("This mailing is not disabled."))
    with transaction.atomic():
        mailing.disabled_at, mailing.disabled_reason = None, ""
        if mailing.next_run_at is not None:
            mailing.next_run_at = mailing_next_run(mailing=mailing, now=now)
        Mailing.objects.filter(pk=mailing.pk).update(
            disabled_at=None, disabled_reason="", next_run_at=mailing.next_run_at
        )
        return _mailing_audit(
            actor=actor, action=AuditEntry.Action.ENABLE_MAILING, mailing=mailing, reason=reason
        )


def managers_group() -> Group:
    """The "Managers" group, which migration 0008 made; made again, with its permissions, if
    it was deleted since."""
    group, created = Group.objects.get_or_create(name=MANAGERS_GROUP)
    if created:
        codenames = [name.split(".")[1] for name in MANAGER_PERMISSIONS.values()]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="core", codename__in=codenames)
        )
    return group


def managers_add(*, user: User) -> None:
    """Make `user` a manager: a member of the "Managers" group."""
    user.groups.add(managers_group())


def managers_remove(*, user: User) -> None:
    """Take `user` out of the "Managers" group (a superuser stays a manager regardless)."""
    user.groups.remove(managers_group())


def manager_list() -> QuerySet[User]:
    """The users in the "Managers" group, and the superusers, by email."""
    return (
        User.objects.filter(groups__name=MANAGERS_GROUP)
        .union(User.objects.filter(is_superuser=True))
        .order_by("email")
    )
