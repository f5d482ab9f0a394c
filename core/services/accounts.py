"""Accounts: verification links, the letters about an account, and what sign-in limits count.

Sign-up, "send the link again" and password reset answer the same page, in the same time,
whether or not the address has an account: the request only hands the address to
`account_letter_enqueue`, and the background work decides what (if anything) to send. That work
is `account_letter_send`; `account_letter_enqueue` is the one place that runs it outside the
request, as a task of Django's tasks framework that a worker (`manage.py db_worker`) runs.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from core.models import AccountLetter, User, normalize_email_address

logger = logging.getLogger(__name__)


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens of verification links: signed, valid ACCOUNT_VERIFICATION_DAYS, and single-use,
    because the hash covers the very fields that opening the link changes."""

    key_salt = "core.services.accounts.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{user.email}{user.email_verified_at}{user.is_active}{timestamp}"

    def check_token(self, user: User | None, token: str | None) -> bool:
        """Whether `token` was made for `user` as it is now, within ACCOUNT_VERIFICATION_DAYS
        (Django's own check measures PASSWORD_RESET_TIMEOUT instead)."""
        if not (user and token):
            return False
        try:
            timestamp = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in [self.secret, *self.secret_fallbacks]
        ):
            return False
        age = self._num_seconds(self._now()) - timestamp
        return age <= timedelta(days=settings.ACCOUNT_VERIFICATION_DAYS).total_seconds()


email_verification_token = EmailVerificationTokenGenerator()


def user_verify(*, user: User) -> None:
    """Mark `user`'s address verified and let them sign in; their link stops working."""
    user.email_verified_at = timezone.now()
    user.is_active = True
    user.save(update_fields=["email_verified_at", "is_active"])


def signup_register(*, email: str, full_name: str, password: str) -> None:
    """Create an inactive, unverified account for `email` unless one exists.

    Both ways hash the password once, so that a known address costs the request what a new one
    does; the letter (verification, or "you already have an account") is decided later, in
    `account_letter_send`.
    """
    user = User(email=email, full_name=full_name, is_active=False, email_verified_at=None)
    user.set_password(password)
    if User.objects.filter(email=email).exists():
        return
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # A concurrent sign-up of the same address won the race: it is a known address now.
        if not User.objects.filter(email=email).exists():
            raise


def letter_link_base(request: HttpRequest) -> str:
    """The scheme and host the letters' links start with: where the request came to."""
    return f"{request.scheme}://{request.get_host()}"


# What a request asks for, and what it becomes once the account is looked up.
SIGNUP = "signup"
VERIFICATION = "verification"
PASSWORD_RESET = "password-reset"


def account_letter_enqueue(*, kind: str, email: str, request: HttpRequest) -> None:
    """Have a worker send the letter of `kind` about `email`: the request neither waits on the
    mail server nor shows whether it sent anything. The task is stored after the account it
    is about, so the worker finds the account."""
    account_letter_task.enqueue(
        kind=kind,
        email=normalize_email_address(email),
        link_base=letter_link_base(request),
        language=translation.get_language() or settings.LANGUAGE_CODE,
    )


@task
def account_letter_task(*, kind: str, email: str, link_base: str, language: str) -> str | None:
    """`account_letter_send` on a worker; the kind of letter sent, if any."""
    return account_letter_send(kind=kind, email=email, link_base=link_base, language=language)


def account_letter_send(*, kind: str, email: str, link_base: str, language: str) -> str | None:
    """Send the letter that a request of `kind` about `email` calls for; return its kind, or
    None when nothing went: no such account, nothing to do, or the address had its
    ACCOUNT_LETTERS_PER_HOUR already.

    * sign-up: a verification link to an unverified account, else "you already have an
      account, reset your password";
    * verification ("send the link again"): a link, to an unverified account only;
    * password reset: a link, to an active account with a usable password only.
    """
    user = User.objects.filter(email=email).first()
    if user is None:
        return None
    unverified = user.email_verified_at is None
    if kind == SIGNUP:
        letter_kind = (
            AccountLetter.Kind.VERIFICATION if unverified else AccountLetter.Kind.ACCOUNT_EXISTS
        )
    elif kind == VERIFICATION and unverified:
        letter_kind = AccountLetter.Kind.VERIFICATION
    elif kind == PASSWORD_RESET and user.is_active and user.has_usable_password():
        letter_kind = AccountLetter.Kind.PASSWORD_RESET
    else:
        return None
    if not _letter_allowed(email=email, kind=letter_kind):
        logger.info("Account letter to %s not sent: ACCOUNT_LETTERS_PER_HOUR reached", email)
        return None
    with translation.override(language):
        letter = _letter(user=user, kind=letter_kind, link_base=link_base)
    letter.send()
    return letter_kind


def _letter_allowed(*, email: str, kind: str) -> bool:
    """Count a letter to `email` unless it had ACCOUNT_LETTERS_PER_HOUR in the last hour.

    One transaction: on SQLite (IMMEDIATE) two requests for one address count one after the
    other.
    """
    with transaction.atomic():
        since = timezone.now() - timedelta(hours=1)
        sent = AccountLetter.objects.filter(email=email, sent_at__gte=since).count()
        if sent >= settings.ACCOUNT_LETTERS_PER_HOUR:
            return False
        AccountLetter.objects.create(email=email, kind=kind)
    return True


_TEMPLATES = {
    AccountLetter.Kind.VERIFICATION: (
        "registration/verification_subject.txt",
        "registration/verification_email.txt",
    ),
    AccountLetter.Kind.ACCOUNT_EXISTS: (
        "registration/account_exists_subject.txt",
        "registration/account_exists_email.txt",
    ),
    AccountLetter.Kind.PASSWORD_RESET: (
        "registration/password_reset_subject.txt",
        "registration/password_reset_email.html",
    ),
}


def _letter(*, user: User, kind: str, link_base: str) -> EmailMessage:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    protocol, _, domain = link_base.partition("://")
    context = {
        "user": user,
        "email": user.email,
        "uid": uid,
        "protocol": protocol,
        "domain": domain,
        "days": settings.ACCOUNT_VERIFICATION_DAYS,
        "login_url": link_base + reverse("login"),
        "password_reset_url": link_base + reverse("password_reset"),
    }
    if kind == AccountLetter.Kind.VERIFICATION:
        context["token"] = email_verification_token.make_token(user)
        context["verify_url"] = link_base + reverse(
            "account-verify", kwargs={"uidb64": uid, "token": context["token"]}
        )
    elif kind == AccountLetter.Kind.PASSWORD_RESET:
        context["token"] = default_token_generator.make_token(user)
    subject_template, body_template = _TEMPLATES[kind]
    subject = "".join(render_to_string(subject_template, context).splitlines())
    body = render_to_string(body_template, context)
    return EmailMessage(subject=subject, body=body, to=[user.email])


# --- what django-axes counts ------------------------------------------------------------------


def sign_in_email(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a sign-in names, as stored: "Anna@Example.com " counts against
    anna@example.com (AXES_USERNAME_CALLABLE)."""
    if credentials is not None and credentials.get("username") is not None:
        return normalize_email_address(credentials["username"])
    field = settings.AXES_USERNAME_FORM_FIELD
    return normalize_email_address(request.POST.get(field)) if request.method == "POST" else None


def client_address(request: HttpRequest) -> str | None:
    """The client's address (AXES_CLIENT_IP_CALLABLE): behind the HTTPS proxy, the last
    address of X-Forwarded-For, the one the proxy itself appended; else the peer's."""
    if settings.SECURE_PROXY_SSL_HEADER is not None:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")
