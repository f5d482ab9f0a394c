"""Signing up and verifying the address, sending the link again, password reset, and the
lockout page; signing in and out and choosing a new password are Django's own views.

Sign-up, "send the link again" and password reset answer the same, in the same time, whether or
not the address has an account: they hand it to core.services.accounts, which sends any letter
outside the request.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from core.forms import SignupForm, VerificationResendForm
from core.models import User, parse_object_id
from core.services import accounts

# Django's backend (refusing blocked users, core.auth), named: django-axes is the first one.
MODEL_BACKEND = "core.auth.BlockedUsersRefusedBackend"


@login_not_required
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an inactive account and send its verification link; an address that has an
    account gets the same answer, and its owner a letter saying so."""
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        accounts.signup_register(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            password=form.cleaned_data["password1"],
        )
    # Registered, the address gets its letter as on the other letter forms.
    return _letter_form(
        request, form, kind=accounts.SIGNUP, template="registration/signup.html", done="check-inbox"
    )


@login_not_required
@require_GET
def check_inbox(request: HttpRequest) -> HttpResponse:
    """Where sign-up and "send the link again" lead: the link is on its way, if it can be."""
    return TemplateResponse(request, "registration/check_inbox.html", {"days": _days()})


@login_not_required
@require_http_methods(["GET", "POST"])
def verification_resend(request: HttpRequest) -> HttpResponse:
    """Send a new verification link to an unverified account's address; any address gets the
    same answer."""
    return _letter_form(
        request,
        VerificationResendForm(request.POST or None),
        kind=accounts.VERIFICATION,
        template="registration/verification_resend.html",
        done="check-inbox",
    )


@login_not_required
@never_cache
@require_GET
def verify(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Open a verification link: the address is verified, the account signed in and greeted.
    A used, expired or forged link says so and offers a new one."""
    user = _user_of(uidb64)
    if user is None or not accounts.email_verification_token.check_token(user, token):
        return TemplateResponse(
            request, "registration/verification_invalid.html", {"days": _days()}, status=400
        )
    accounts.user_verify(user=user)
    if user.blocked_at is None:
        login(request, user, backend=MODEL_BACKEND)
        messages.success(request, _("Welcome! Your address is verified and your account ready."))
        return redirect("home")
    return redirect("login")


@login_not_required
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Ask for a password-reset link: the letter goes outside the request, so a known and an
    unknown address get the same answer in the same time."""
    return _letter_form(
        request,
        PasswordResetForm(request.POST or None),
        kind=accounts.PASSWORD_RESET,
        template="registration/password_reset_form.html",
        done="password_reset_done",
    )


def _letter_form(
    request: HttpRequest, form, *, kind: str, template: str, done: str
) -> HttpResponse:
    """A form whose valid post queues the `kind` of letter to its email and goes to `done`;
    otherwise its `template`, with the errors of a post."""
    if request.method == "POST" and form.is_valid():
        accounts.account_letter_enqueue(
            kind=kind, email=form.cleaned_data["email"], request=request
        )
        return redirect(done)
    return TemplateResponse(request, template, {"form": form})


def lockout(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """The page of a sign-in refused for too many failures (AXES_LOCKOUT_CALLABLE): rendered
    here, not a TemplateResponse, because django-axes returns it from its middleware."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    return render(request, "registration/lockout.html", {"minutes": minutes}, status=429)


def _user_of(uidb64: str) -> User | None:
    try:
        pk = parse_object_id(urlsafe_base64_decode(uidb64).decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first() if pk is not None else None


def _days() -> int:
    return settings.ACCOUNT_VERIFICATION_DAYS
