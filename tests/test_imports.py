"""Importing clients from CSV and XLSX: the column guess, the preview's groups, the result, and
the file encodings Russian Excel saves (core.services.imports, core.views.imports)."""
# ruff: noqa: RUF001 - Russian text in the files, on purpose

import csv
import io
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from core.models import Client, Import, Tag
from core.services import imports
from tests.factories import make_client, make_import, make_tag, make_user
from tests.tasks import tasks_queued, tasks_run

LONG_NAME = "x" * 300
MIXED = (
    "E-mail,ФИО,Комментарий\n"
    "anna@example.com,Anna,first\n"
    " ANNA@Example.com ,Anna again,second\n"
    "boris@example.com,Boris New,from the file\n"
    "not-an-email,Bad,\n"
    ",No Email,\n"
    f"carl@example.com,{LONG_NAME},\n"
    "dora@example.com,Dora,\n"
    "\n"
    " Dora@EXAMPLE.com,Dora two,\n"
)


def upload(client, content: bytes, name: str = "clients.csv") -> Import:
    response = client.post(reverse("import-create"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 302, response.content.decode()
    imp = Import.objects.latest("pk")
    assert response.url == reverse("import-detail", args=[imp.pk])
    return imp


def preview(client, imp: Import, mapping: dict | None = None) -> Import:
    mapping = imp.mapping if mapping is None else mapping
    data = {name: "" if index is None else str(index) for name, index in mapping.items()}
    response = client.post(reverse("import-mapping", args=[imp.pk]), data)
    assert response.status_code == 302, response.content.decode()
    imp.refresh_from_db()
    return imp


def confirm(client, imp: Import, *, existing: str = "skip", tag: str = "") -> Import:
    response = client.post(
        reverse("import-confirm", args=[imp.pk]), {"existing": existing, "tag_name": tag}
    )
    assert response.status_code == 302, response.content.decode()
    imp.refresh_from_db()
    return imp


def result(imp: Import) -> dict:
    return {name: getattr(imp, name) for name in ("added", "updated", "skipped", "refused")}


def emails(owner) -> dict[str, str]:
    return dict(Client.objects.filter(owner=owner).values_list("email", "full_name"))


@pytest.mark.django_db
def test_the_preview_names_every_duplicate_existing_and_invalid_row(user_client, user, other_user):
    make_client(owner=user, email="boris@example.com", full_name="Boris")
    make_client(owner=other_user, email="anna@example.com", full_name="Not hers")
    imp = upload(user_client, MIXED.encode())
    assert imp.mapping == {"email": 0, "full_name": 1, "comment": 2, "tags": None}

    imp = preview(user_client, imp)

    assert imp.preview == {
        "rows": 8,
        "counts": {"new": 2, "duplicate": 2, "existing": 1, "invalid": 3},
        "suppressed": 0,
        "samples": {
            "new": [[2, "anna@example.com", "Anna"], [8, "dora@example.com", "Dora"]],
            "duplicate": [[3, "anna@example.com", 2], [10, "dora@example.com", 8]],
            "existing": [[4, "boris@example.com", "Boris New", ""]],
            "invalid": [
                [5, "not-an-email", "Email: Enter a valid email address."],
                [6, "", "Email: This field is required."],
                [
                    7,
                    "carl@example.com",
                    "Full name: Ensure this value has at most 255 characters (it has 300).",
                ],
            ],
        },
    }
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert "To add: 2" in page
    assert "Duplicates inside the file: 2" in page
    assert "Invalid, refused: 3" in page
    # Nothing is written before the confirmation.
    assert emails(user) == {"boris@example.com": "Boris"}


@pytest.mark.django_db
def test_confirming_adds_the_first_of_each_address_and_skips_existing_ones(user_client, user):
    make_client(owner=user, email="boris@example.com", full_name="Boris")
    imp = preview(user_client, upload(user_client, MIXED.encode()))

    imp = confirm(user_client, imp, existing="skip")

    assert imp.status == Import.Status.DONE
    assert result(imp) == {"added": 2, "updated": 0, "skipped": 3, "refused": 3}
    assert emails(user) == {
        "anna@example.com": "Anna",
        "boris@example.com": "Boris",
        "dora@example.com": "Dora",
    }
    page = user_client.get(reverse("import-detail", args=[imp.pk])).content.decode()
    assert "Added: 2. Updated: 0. Skipped: 3. Refused: 3." in page


@pytest.mark.django_db
def test_update_sets_name_and_comment_but_never_resubscribes(user_client, user):
    unsubscribed = make_client(owner=user, email="boris@example.com", full_name="Boris")
    left_at = timezone.now()
    Client.objects.filter(pk=unsubscribed.pk).update(unsubscribed_at=left_at, bounced_at=left_at)
    imp = preview(user_client, upload(user_client, MIXED.encode()))
    assert imp.preview["suppressed"] == 1
    assert imp.preview["samples"]["existing"] == [
        [4, "boris@example.com", "Boris New", "unsubscribed"]
    ]

    imp = confirm(user_client, imp, existing="update", tag="VIP ")

    assert result(imp) == {"added": 2, "updated": 1, "skipped": 2, "refused": 3}
    unsubscribed.refresh_from_db()
    assert (unsubscribed.full_name, unsubscribed.comment) == ("Boris New", "from the file")
    assert unsubscribed.unsubscribed_at == left_at
    assert unsubscribed.bounced_at == left_at
    vip = Tag.objects.get(owner=user)
    assert vip.name == "VIP"
    assert sorted(vip.clients.values_list("email", flat=True)) == [
        "anna@example.com",
        "boris@example.com",
        "dora@example.com",
    ]


@pytest.mark.django_db
def test_an_existing_tag_is_reused_whatever_its_case(user_client, user):
    vip = make_tag(owner=user, name="VIP")
    imp = preview(user_client, upload(user_client, b"email,name\nivan@example.com,Ivan\n"))

    confirm(user_client, imp, tag="vip")

    assert list(Tag.objects.filter(owner=user)) == [vip]
    assert list(vip.clients.values_list("email", flat=True)) == ["ivan@example.com"]


@pytest.mark.django_db
def test_a_cp1251_semicolon_file_from_russian_excel(user_client, user):
    content = (
        "Адрес эл. почты;Имя;Примечание\r\n"
        "ivan@example.com;Иван Петров;Постоянный клиент; скидка\r\n"
        "olga@example.com;Ольга;\r\n"
    ).encode("cp1251")
    imp = upload(user_client, content)
    assert imp.header == ["Адрес эл. почты", "Имя", "Примечание"]
    assert imp.mapping == {"email": 0, "full_name": 1, "comment": 2, "tags": None}

    imp = preview(user_client, imp)
    assert imp.preview["counts"] == {"new": 2, "duplicate": 0, "existing": 0, "invalid": 0}
    imp = confirm(user_client, imp)

    assert result(imp) == {"added": 2, "updated": 0, "skipped": 0, "refused": 0}
    ivan = Client.objects.get(owner=user, email="ivan@example.com")
    # The field after the third ; is a fourth column, not part of the comment.
    assert (ivan.full_name, ivan.comment) == ("Иван Петров", "Постоянный клиент")


@pytest.mark.django_db
def test_a_utf8_file_with_a_byte_order_mark(user_client, user):
    content = "\ufeffПочта,ФИО\nmaria@example.com,Мария Иванова\n".encode()
    imp = upload(user_client, content)
    # The mark is no part of the first column's name, so the guess still finds it.
    assert imp.header == ["Почта", "ФИО"]
    assert imp.mapping == {"email": 0, "full_name": 1, "comment": None, "tags": None}

    imp = confirm(user_client, preview(user_client, imp))

    assert result(imp) == {"added": 1, "updated": 0, "skipped": 0, "refused": 0}
    assert emails(user) == {"maria@example.com": "Мария Иванова"}


@pytest.mark.django_db
def test_an_xlsx_workbook(user_client, user):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Notes", "Email"])
    sheet.append(["Ivan", 42, "Ivan@Example.com"])
    sheet.append(["Ivan twice", None, "ivan@example.com "])
    sheet.append(["No address", "x", None])
    stream = io.BytesIO()
    workbook.save(stream)
    imp = upload(user_client, stream.getvalue(), name="clients.xlsx")
    assert imp.format == Import.Format.XLSX
    assert imp.mapping == {"email": 2, "full_name": 0, "comment": 1, "tags": None}

    imp = preview(user_client, imp)
    assert imp.preview["samples"] == {
        "new": [[2, "ivan@example.com", "Ivan"]],
        "duplicate": [[3, "ivan@example.com", 2]],
        "existing": [],
        "invalid": [[4, "", "Email: This field is required."]],
    }
    imp = confirm(user_client, imp)

    assert result(imp) == {"added": 1, "updated": 0, "skipped": 1, "refused": 1}
    assert Client.objects.get(owner=user).comment == "42"


@pytest.mark.django_db
def test_the_refused_rows_come_back_as_a_csv_to_fix(user_client, user):
    imp = confirm(user_client, preview(user_client, upload(user_client, MIXED.encode())))

    response = user_client.get(reverse("import-refused-csv", args=[imp.pk]))

    assert response.status_code == 200
    assert 'filename="clients-refused.csv"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows == [
        ["E-mail", "ФИО", "Комментарий", "row", "reason"],
        ["not-an-email", "Bad", "", "5", "Email: Enter a valid email address."],
        ["", "No Email", "", "6", "Email: This field is required."],
        [
            "carl@example.com",
            LONG_NAME,
            "",
            "7",
            "Full name: Ensure this value has at most 255 characters (it has 300).",
        ],
    ]


@pytest.mark.django_db
def test_the_user_may_map_the_columns_by_hand(user_client, user):
    imp = upload(user_client, b"a,b\nIvan,ivan@example.com\n")
    assert imp.mapping == {"email": None, "full_name": None, "comment": None, "tags": None}

    imp = preview(user_client, imp, {"email": 1, "full_name": 0, "comment": None})

    assert imp.preview["samples"]["new"] == [[2, "ivan@example.com", "Ivan"]]


@pytest.mark.django_db
def test_one_column_for_two_fields_is_an_error(user_client, user):
    imp = upload(user_client, b"a,b\nIvan,ivan@example.com\n")

    response = user_client.post(
        reverse("import-mapping", args=[imp.pk]), {"email": "1", "full_name": "1"}
    )

    assert response.status_code == 400
    assert "Map each column to one field only." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (b"PK\x03\x04not really a zip", "clients.xlsx", "cannot be read as an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old", "clients.xls", "old Excel file (.xls)"),
        (b"email\x00name\x00\x01\x02", "clients.csv", "binary data"),
        (b"\x98\x98\x98", "clients.csv", "neither UTF-8 nor Windows-1251"),
        (b"", "clients.csv", "The submitted file is empty."),
        (b"\n ,  \n", "clients.csv", "holds no rows"),
    ],
)
def test_an_unreadable_file_is_a_clear_error_in_the_modal(htmx_client, content, name, error):
    response = htmx_client.post(
        reverse("import-create"), {"file": SimpleUploadedFile(name, content)}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Import.objects.exists()


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused(htmx_client, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024

    content = b"email,name\n" + b"a@example.com,A\n" * 70_000
    response = htmx_client.post(
        reverse("import-create"), {"file": SimpleUploadedFile("c.csv", content)}
    )

    assert "The file is larger than 1 MB." in response.content.decode()
    assert not Import.objects.exists()


@pytest.mark.django_db
def test_the_upload_opens_in_the_modal_and_goes_to_the_import_page(htmx_client):
    form = htmx_client.get(reverse("import-create"))
    assert 'enctype="multipart/form-data"' in form.content.decode()

    response = htmx_client.post(
        reverse("import-create"), {"file": SimpleUploadedFile("c.csv", b"email,name\na@b.ru,A\n")}
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("import-detail", args=[Import.objects.get().pk])


# The worker closes its connection when done, as a real one does: a transaction-less test.
@pytest.mark.django_db(transaction=True)
def test_a_large_import_is_a_background_task_with_progress(user_client, user, settings):
    settings.IMPORT_INLINE_ROWS = 2
    lines = "".join(f"c{n}@example.com,Client {n}\n" for n in range(5))
    imp = preview(user_client, upload(user_client, f"email,name\n{lines}".encode()))

    imp = confirm(user_client, imp)

    assert imp.status == Import.Status.CONFIRMED
    assert tasks_queued() == ["core.services.imports.import_commit_task"]
    progress = user_client.get(
        reverse("import-progress", args=[imp.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert 'hx-trigger="every 1s"' in progress
    assert "Importing: 0 of 5 rows." in progress

    assert tasks_run() == 1

    imp.refresh_from_db()
    assert result(imp) == {"added": 5, "updated": 0, "skipped": 0, "refused": 0}
    done = user_client.get(
        reverse("import-progress", args=[imp.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert "hx-trigger" not in done
    assert "Added: 5." in done


@pytest.mark.django_db
def test_a_confirmed_import_is_not_written_twice(user_client, user):
    imp = confirm(user_client, preview(user_client, upload(user_client, MIXED.encode())))

    again = confirm(user_client, imp, existing="update")

    assert result(again) == {"added": 3, "updated": 0, "skipped": 2, "refused": 3}
    assert imports.import_commit(import_id=imp.pk) == Import.Status.DONE


@pytest.mark.django_db
def test_the_import_list_shows_the_users_own_imports_only(user_client, user, other_user):
    make_import(owner=user, name="mine.csv")
    make_import(owner=other_user, name="theirs.csv")

    page = user_client.get(reverse("import-list")).content.decode()

    assert "mine.csv" in page
    assert "theirs.csv" not in page


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_overlapping_files_add_each_address_once(monkeypatch):
    owner = make_user(email="owner@example.com")
    monkeypatch.setattr(imports, "BATCH", 50)
    first = "".join(f"c{n}@example.com,First {n}\n" for n in range(0, 600))
    second = "".join(f"C{n}@Example.com,Second {n}\n" for n in range(300, 900))
    started = []
    for content in (first, second):
        imp = make_import(owner=owner, content=f"email,name\n{content}".encode())
        imports.import_preview(imp=imp, mapping=imp.mapping)
        Import.objects.filter(pk=imp.pk).update(status=Import.Status.CONFIRMED)
        started.append(imp.pk)
    barrier = threading.Barrier(2)
    errors = []

    def write(import_id: int) -> None:
        try:
            barrier.wait()
            imports.import_commit(import_id=import_id)
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(pk,)) for pk in started]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Client.objects.filter(owner=owner).count() == 900
    done = Import.objects.filter(pk__in=started)
    assert {imp.status for imp in done} == {Import.Status.DONE}
    assert sum(imp.added for imp in done) == 900
    assert sum(imp.added + imp.skipped for imp in done) == 1200


@pytest.mark.parametrize("export_format", ["csv", "csv-semicolon", "xlsx"])
def test_an_export_imports_back_unchanged(user, other_user, export_format):
    ivan = make_client(owner=user, email="ivan@example.com", full_name="Иван Петров")
    Client.objects.filter(pk=ivan.pk).update(comment="Звонить после 18:00; «важный»")
    anna = make_client(owner=user, email="anna@example.com", full_name="Anna, Smith")
    make_tag(owner=user, name="VIP", clients=[ivan, anna])
    make_tag(owner=user, name="Москва", clients=[ivan])
    make_client(owner=user, email="plain@example.com", full_name="=Plain")
    mine, theirs = HttpClient(), HttpClient()
    mine.force_login(user)
    theirs.force_login(other_user)
    fmt, delimiter = {
        "csv": ("csv", ""),
        "csv-semicolon": ("csv", "semicolon"),
        "xlsx": ("xlsx", ""),
    }[export_format]
    exported = b"".join(
        mine.get(
            reverse("client-export"), {"format": fmt, "delimiter": delimiter}
        ).streaming_content
    )

    imp = upload(theirs, exported, name=f"clients.{fmt}")
    assert imp.mapping == {"email": 0, "full_name": 1, "comment": 2, "tags": 3}
    confirm(theirs, preview(theirs, imp))

    def clients_of(owner):
        return sorted(
            (c.email, c.full_name, c.comment, sorted(t.name for t in c.tags.all()))
            for c in Client.objects.filter(owner=owner).prefetch_related("tags")
        )

    assert clients_of(other_user) == clients_of(user)
    again = b"".join(
        theirs.get(
            reverse("client-export"), {"format": fmt, "delimiter": delimiter}
        ).streaming_content
    )
    if fmt == "csv":  # XLSX files carry their creation time
        assert again == exported
