"""Root URLs: the admin, accounts and the app."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import set_language

from core.forms import SignInForm
from core.views import accounts, health


class FaviconRedirect(RedirectView):
    """Browsers ask /favicon.ico whatever a page's `<link rel="icon">` says: the SVG icon.

    Not permanent: the static file's hashed name changes with each release."""

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("core/favicon.svg")


urlpatterns = [
    path("favicon.ico", login_not_required(FaviconRedirect.as_view()), name="favicon"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("metrics", health.metrics, name="metrics"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/check-inbox/", accounts.check_inbox, name="check-inbox"),
    path("accounts/verify/", accounts.verification_resend, name="verification-resend"),
    path("accounts/verify/<uidb64>/<token>/", accounts.verify, name="account-verify"),
    # Before Django's own: sign-in says when an account waits for verification, and the reset
    # letter goes outside the request.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm),
        name="login",
    ),
    path("accounts/password_reset/", accounts.password_reset, name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("", include("core.urls")),
]
