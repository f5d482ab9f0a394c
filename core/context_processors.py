"""Template context the whole site shares."""

from django.conf import settings
from django.http import HttpRequest


def widget_errors(request: HttpRequest) -> dict:
    """`WIDGET_ERROR_CLASS` for widget-tweaks' `render_field`, which reads it from the context:
    a field with errors after a submit gets the same red border as after the blur check."""
    return {"WIDGET_ERROR_CLASS": settings.WIDGET_ERROR_CLASS}
