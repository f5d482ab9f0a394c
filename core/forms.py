"""Forms: what a user may type, and the errors they see next to each field."""

from django import forms
from django.contrib.auth.forms import BaseUserCreationForm
from django.utils.translation import gettext_lazy as _

from core.models import User


class SignupForm(BaseUserCreationForm):
    """A new account: an email to sign in with and a password typed twice."""

    class Meta:
        model = User
        fields = ["email", "full_name"]
        labels = {"email": _("Email"), "full_name": _("Your name")}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError(_("An account with this email already exists."))
        return email
