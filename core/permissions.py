"""Who may do what: the one table every manager view asks, and the matrix test walks.

Five roles meet the app. An anonymous visitor and a blocked user are sent to sign in (a
blocked user is signed out at their next request, core.auth). Among signed-in users, the
owner of an object works with it; anyone else, a manager included, is told it does not
exist (404), so an id never says whether it is taken. A manager additionally oversees
every user and mailing under /manage/, where a user who is not a manager is refused (403):
those pages are no secret, only closed.

A manager is a user holding the permissions of the "Managers" group (migration 0008), or a
superuser. Each manager act asks for its own permission, so the admin may hand out, say,
reading the audit log alone.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps

from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse

from core.models import User

MANAGERS_GROUP = "Managers"


class Role(StrEnum):
    """Who is asking, as far as one action on one object is concerned."""

    ANONYMOUS = "anonymous"
    OWNER = "owner"
    OTHER_USER = "other user"
    MANAGER = "manager"
    BLOCKED = "blocked user"


class Action(StrEnum):
    """What is asked. The owner's pages are of two kinds: those about one object, and those
    about the user's own things as a whole (lists, the dashboard, forms for a new one)."""

    PUBLIC = "public"  # Sign-in, sign-up, the recipient's unsubscribe link...
    OWN_PAGES = "own pages"
    OWN_OBJECT = "own object"
    OVERSEE = "oversee"  # Every user, every mailing, each mailing's page and report.
    BLOCK_USER = "block user"
    DISABLE_MAILING = "disable mailing"
    SET_QUOTA = "set quota"
    READ_AUDIT = "read audit"


class Outcome(StrEnum):
    ALLOW = "allow"
    SIGN_IN = "sign in"  # A redirect to the sign-in page.
    NOT_FOUND = "not found"  # 404: the object is none of theirs.
    FORBIDDEN = "forbidden"  # 403: a manager's page, and they are no manager.


A, S, N, F = Outcome.ALLOW, Outcome.SIGN_IN, Outcome.NOT_FOUND, Outcome.FORBIDDEN
_ROLES = [Role.ANONYMOUS, Role.OWNER, Role.OTHER_USER, Role.MANAGER, Role.BLOCKED]

# fmt: off
MATRIX: dict[Action, dict[Role, Outcome]] = {
    action: dict(zip(_ROLES, outcomes, strict=True))
    for action, outcomes in {
        #                     anonymous owner other  manager blocked
        Action.PUBLIC:          (A,      A,    A,     A,      A),
        Action.OWN_PAGES:       (S,      A,    A,     A,      S),
        Action.OWN_OBJECT:      (S,      A,    N,     N,      S),
        Action.OVERSEE:         (S,      F,    F,     A,      S),
        Action.BLOCK_USER:      (S,      F,    F,     A,      S),
        Action.DISABLE_MAILING: (S,      F,    F,     A,      S),
        Action.SET_QUOTA:       (S,      F,    F,     A,      S),
        Action.READ_AUDIT:      (S,      F,    F,     A,      S),
    }.items()
}
# fmt: on

# The Django permission that makes a user a manager for each manager action (the "Managers"
# group holds them all; a superuser has every permission).
MANAGER_PERMISSIONS: dict[Action, str] = {
    Action.OVERSEE: "core.oversee",
    Action.BLOCK_USER: "core.block_user",
    Action.DISABLE_MAILING: "core.disable_mailing",
    Action.SET_QUOTA: "core.set_quota",
    Action.READ_AUDIT: "core.view_auditentry",
}


def may_oversee_annotation() -> Exists:
    """Whether a user holds `core.oversee` through a group or by themselves, as a column of
    the query that reads the user: the backend fetches a signed-in user with it (core.auth),
    so the navbar knows a manager without the two permission queries of `has_perm`."""
    app_label, codename = MANAGER_PERMISSIONS[Action.OVERSEE].split(".")
    return Exists(
        Permission.objects.filter(content_type__app_label=app_label, codename=codename).filter(
            Q(group__user=OuterRef("pk")) | Q(user=OuterRef("pk"))
        )
    )


def _holds(user: User, permission: str) -> bool:
    if permission == MANAGER_PERMISSIONS[Action.OVERSEE] and hasattr(user, "may_oversee"):
        return user.is_active and (user.is_superuser or user.may_oversee)
    return user.has_perm(permission)


def role_of(user: User | AnonymousUser, action: Action, *, owner_id: int | None = None) -> Role:
    """The role `user` plays for `action` on an object of `owner_id` (None: no object)."""
    if not user.is_authenticated:
        return Role.ANONYMOUS
    if user.blocked_at is not None:
        return Role.BLOCKED
    if owner_id is not None and owner_id == user.pk:
        return Role.OWNER
    permission = MANAGER_PERMISSIONS.get(action)
    if permission is not None and _holds(user, permission):
        return Role.MANAGER
    if owner_id is None and action in (Action.PUBLIC, Action.OWN_PAGES):
        # Nothing is anybody else's: the user's own pages are their own.
        return Role.OWNER
    return Role.OTHER_USER


def decide(user: User | AnonymousUser, action: Action, *, owner_id: int | None = None) -> Outcome:
    """What the matrix says `user` gets when asking for `action` (on an object of `owner_id`)."""
    return MATRIX[action][role_of(user, action, owner_id=owner_id)]


def is_manager(user: User | AnonymousUser) -> bool:
    """Whether `user` sees the manager's pages at all (the navbar asks this)."""
    return decide(user, Action.OVERSEE) == Outcome.ALLOW


def enforce(request: HttpRequest, action: Action, *, owner_id: int | None = None) -> None:
    """Raise what the matrix says unless it allows: 404, 403; the sign-in redirect is left to
    `permission_required`, which can answer it."""
    outcome = decide(request.user, action, owner_id=owner_id)
    if outcome == Outcome.NOT_FOUND:
        raise Http404
    if outcome in (Outcome.FORBIDDEN, Outcome.SIGN_IN):
        raise PermissionDenied


def permission_required(action: Action) -> Callable:
    """A manager view's first question: may this user do `action`? The view runs only if so.

    The view is marked with its action (`view.action`), which the matrix test reads to know
    what to expect of the URL.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if decide(request.user, action) == Outcome.SIGN_IN:
                return redirect_to_login(request.get_full_path())
            enforce(request, action)
            return view(request, *args, **kwargs)

        checked.action = action
        return checked

    return decorator
