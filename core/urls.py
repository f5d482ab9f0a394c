"""The app's URLs, named in neapolitan's CRUD scheme (`client-list`, `client-create`, ...)."""

from django.urls import path

from core.views import dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
]
