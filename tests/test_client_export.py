"""Export of the (filtered) client list: CSV that Russian Excel opens (UTF-8 BOM, `;` on
request) and XLSX, with tags and the unsubscribe and bounce states."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core.models import Client
from tests.factories import make_client, make_tag

pytestmark = pytest.mark.django_db

HEADER = ["Email", "Full name", "Comment", "Tags", "Unsubscribed", "Bounced"]


@pytest.fixture
def clients(user, other_user):
    ivan = make_client(owner=user, email="ivan@example.com", full_name="Иван Петров")
    ivan.comment = "=SUM(A1)"
    ivan.save(update_fields=["comment"])
    olga = make_client(owner=user, email="olga@example.com", full_name="Ольга; Смирнова")
    Client.objects.filter(pk=olga.pk).update(
        bounced_at=timezone.now(), bounce_reply="550 no such user"
    )
    make_tag(owner=user, name="VIP", clients=[ivan, olga])
    make_tag(owner=user, name="Москва", clients=[ivan])
    make_client(owner=other_user, email="theirs@example.com", full_name="Иван Чужой")


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_csv_starts_with_a_bom_and_holds_the_filtered_clients(user_client, clients):
    response = user_client.get(reverse("client-export"), {"q": "иван", "format": "csv"})

    data = content(response)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines == [
        ",".join(HEADER),
        'ivan@example.com,Иван Петров,\'=SUM(A1),"VIP, Москва",,',
    ]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    day = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="clients-{day}.csv"'


def test_csv_with_semicolons_for_russian_excel(user_client, clients):
    response = user_client.get(reverse("client-export"), {"delimiter": "semicolon"})

    text = content(response).decode("utf-8-sig")
    header, _ivan, olga = csv.reader(io.StringIO(text), delimiter=";")
    assert text.splitlines()[0] == ";".join(HEADER) == ";".join(header)
    assert olga[:5] == ["olga@example.com", "Ольга; Смирнова", "", "VIP", ""]
    assert olga[5].startswith(str(timezone.localdate().year))


def test_xlsx_reads_back_with_openpyxl(user_client, clients):
    response = user_client.get(reverse("client-export"), {"format": "xlsx", "state": "bounced"})

    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].endswith(
        f'filename="clients-{timezone.localdate().isoformat()}.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(content(response)), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert rows[1][:5] == ["olga@example.com", "Ольга; Смирнова", None, "VIP", None]
    assert rows[1][5].startswith(str(timezone.localdate().year))
    assert len(rows) == 2


def test_the_bulk_form_exports_the_ticked_rows_only(user_client, user, clients):
    olga = Client.objects.get(email="olga@example.com")
    theirs = Client.objects.get(email="theirs@example.com")

    response = user_client.post(
        reverse("client-export") + "?format=csv", {"pk": [olga.pk, theirs.pk]}
    )

    lines = content(response).decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines] == ["Email", "olga@example.com"]


def test_a_malformed_filter_exports_nothing(user_client, clients):
    response = user_client.get(reverse("client-export"), {"state": "nonexistent"})

    assert response.status_code == 400
