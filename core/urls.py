"""The app's URLs, named in neapolitan's CRUD scheme (`client-list`, `client-create`, ...)."""

from django.urls import path

from core.views import dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
]

# Statistics: the per-mailing report and its CSV.
from core.views import reports  # noqa: E402

urlpatterns += [
    path("mailings/<int:pk>/report/", reports.mailing_report, name="mailing-report"),
    path("mailings/<int:pk>/report.csv", reports.mailing_report_csv, name="mailing-report-csv"),
]
