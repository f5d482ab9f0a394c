"""For load balancers and monitoring: /healthz (open to all, no secrets) and /metrics (token)."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.services import health


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers and the scheduler and workers beat recently, else 503;
    either way each check and what it saw, as JSON."""
    checks = health.health_checks(now=timezone.now())
    healthy = all(check.ok for check in checks)
    return JsonResponse(
        {
            "status": "ok" if healthy else "failing",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        },
        status=200 if healthy else 503,
    )


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition, for a scraper bearing METRICS_TOKEN; 404 while it is unset
    (the endpoint is off), 401 without the right token."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = health.metrics_exposition()
    return HttpResponse(body, content_type=content_type)
