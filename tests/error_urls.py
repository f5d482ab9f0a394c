"""The service's URLs, and two that fail on purpose, for tests/test_error_pages.py."""

from django.core.exceptions import SuspiciousOperation
from django.urls import path

from mailing_service.urls import urlpatterns as service_urlpatterns


def crash(request):
    raise RuntimeError("the view crashed")


def bad_request(request):
    raise SuspiciousOperation("a request that makes no sense")


urlpatterns = [
    path("test-errors/crash/", crash),
    path("test-errors/bad-request/", bad_request),
    *service_urlpatterns,
]
