"""The app's URLs, named in neapolitan's CRUD scheme (`client-list`, `client-create`, ...)."""

from django.urls import path

from core.views import dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
]

from core.views import sending  # noqa: E402

urlpatterns += [
    path("mailings/<int:pk>/send/", sending.mailing_send, name="mailing-send"),
]
