"""Blocked users: refused at sign-in, and signed out of the sessions they already had."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django_htmx.http import HttpResponseClientRedirect

from core.models import User
from core.permissions import may_oversee_annotation

BLOCKED_MESSAGE = _(
    "This account is blocked by the service's managers. Write to the operator of the service "
    "to have it unblocked."
)


class AccountBlocked(ValidationError):
    """The password was right, but a manager blocked the account. Raised from the backend,
    it is an error of the sign-in form (Django's `authenticate` lets it through)."""

    def __init__(self) -> None:
        super().__init__(BLOCKED_MESSAGE, code="blocked")


class BlockedUsersRefusedBackend(ModelBackend):
    """Django's backend, refusing users a manager blocked.

    Only someone who knows the password learns the account is blocked; a wrong password gets
    the usual answer, so the message tells nothing to anyone else.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and user.blocked_at is not None:
            raise AccountBlocked
        return user

    def get_user(self, user_id):
        """The signed-in user of a session, read with whether they are a manager (one query)."""
        try:
            user = User._default_manager.annotate(may_oversee=may_oversee_annotation()).get(
                pk=user_id
            )
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class BlockedUserSignOutMiddleware:
    """A user blocked while signed in is signed out at their next request, and told why.

    Placed after the messages middleware, so the sign-in page can say it. (The session is not
    refused by the backend's get_user, which would leave the user signed out without a word.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.blocked_at is not None:
            logout(request)
            messages.error(request, BLOCKED_MESSAGE)
            response = redirect_to_login(request.get_full_path())
            if request.headers.get("HX-Request") == "true":
                # A fragment swapped with the sign-in page would be nonsense: leave the page.
                return HttpResponseClientRedirect(response.url)
            return response
        return self.get_response(request)
