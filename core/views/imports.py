"""Imports of clients: the upload in the modal, then the import's own page, which maps the
columns, previews, confirms, and shows the progress and the result (core.services.imports).

Every URL of an import looks it up among the signed-in user's own first: another user's
import is a 404, whatever the method.
"""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from core import selectors
from core.forms import ImportConfirmForm, ImportMappingForm, ImportUploadForm
from core.models import Import
from core.services import imports
from core.views.modal import modal_form, partial_for

DETAIL = "core/client/import_detail.html"
# Imports listed on the list page: the latest ones; older ones are still reachable by URL.
LIST_LIMIT = 50


@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    """The user's latest imports, newest first, each with its status and counts."""
    found = selectors.import_list(user=request.user)[:LIST_LIMIT]
    return TemplateResponse(request, "core/client/import_list.html", {"imports": found})


@require_http_methods(["GET", "POST"])
def import_create(request: HttpRequest) -> HttpResponse:
    """Upload a file in the modal; once it reads as a table, go to the import's page."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            imp = imports.import_upload(owner=request.user, uploaded=form.cleaned_data["file"])
        except imports.ImportFileError as error:
            form.add_error("file", str(error))
        else:
            url = reverse("import-detail", args=[imp.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return modal_form(
        request,
        noun="import",
        form=form,
        obj=None,
        title=_("Import clients"),
        body="core/client/import_form.html",
        multipart=True,
        submit_label=_("Upload"),
        cancel_url=reverse("client-list"),
    )


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The import's page: what it waits for (mapping, confirmation), its progress, or its
    result."""
    imp = _own(request, pk)
    return _detail(request, imp)


def _detail(request: HttpRequest, imp: Import, **forms) -> TemplateResponse:
    mapping_form = forms.get("mapping_form") or ImportMappingForm(
        header=imp.header, initial=imp.mapping
    )
    confirm_form = forms.get("confirm_form") or ImportConfirmForm()
    preview = imp.preview or {}
    context = {
        "object": imp,
        "mapping_form": mapping_form,
        "confirm_form": confirm_form,
        "preview": preview,
        "sample_limit": imports.PREVIEW_SAMPLE,
        "editable": imp.status in (Import.Status.UPLOADED, Import.Status.PREVIEWED),
    }
    status = 400 if any(form.errors for form in forms.values()) else 200
    return TemplateResponse(request, DETAIL, context, status=status)


@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Take the column mapping and preview the file under it; nothing is written yet."""
    imp = _own(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if imp.status not in (Import.Status.UPLOADED, Import.Status.PREVIEWED):
        return redirect("import-detail", pk=imp.pk)
    form = ImportMappingForm(request.POST, header=imp.header)
    if not form.is_valid():
        return _detail(request, imp, mapping_form=form)
    try:
        imports.import_preview(imp=imp, mapping=form.mapping())
    except imports.ImportFileError as error:
        form.add_error(None, str(error))
        return _detail(request, imp, mapping_form=form)
    return redirect("import-detail", pk=imp.pk)


@require_http_methods(["GET", "POST"])
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Write the previewed import: at once for a small file, else in the background."""
    imp = _own(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if imp.status != Import.Status.PREVIEWED:
        return redirect("import-detail", pk=imp.pk)
    form = ImportConfirmForm(request.POST)
    if not form.is_valid():
        return _detail(request, imp, confirm_form=form)
    imports.import_confirm(
        imp=imp,
        update_existing=form.cleaned_data["existing"] == "update",
        tag_name=form.cleaned_data["tag_name"],
    )
    return redirect("import-detail", pk=imp.pk)


@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress bar, or once done the result: the part of the page htmx polls."""
    imp = _own(request, pk)
    template = partial_for(request, DETAIL, "import-state")
    if template == DETAIL:
        return redirect("import-detail", pk=imp.pk)
    return TemplateResponse(request, template, {"object": imp})


@require_http_methods(["GET", "POST"])
def import_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Go on writing an interrupted import from where it stopped, in the background."""
    return _act_on_interrupted(
        request, pk, imports.import_resume, _("The import goes on from where it stopped.")
    )


@require_http_methods(["GET", "POST"])
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """End an interrupted import for good; the clients it wrote stay."""
    return _act_on_interrupted(
        request, pk, imports.import_cancel, _("The import is cancelled. The clients it wrote stay.")
    )


def _act_on_interrupted(request: HttpRequest, pk: int, act, done: str) -> HttpResponse:
    """`act` on the user's import if it is still interrupted (another's is a 404, also on GET),
    then back to its page with what happened."""
    imp = _own(request, pk)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if act(imp=imp):
        messages.success(request, done)
    else:
        messages.info(request, _("The import is no longer interrupted: nothing was changed."))
    return redirect("import-detail", pk=imp.pk)


@require_GET
def import_refused_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The rows the import refused, as the file had them plus their row number and reason:
    a CSV (UTF-8 with a byte order mark, `;`) to fix and import again."""
    imp = _own(request, pk)
    path = imports.refused_path(imp)
    if imp.status != Import.Status.DONE or not path.exists():
        raise Http404
    stem = imp.file_name.rsplit(".", 1)[0] or "import"
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{stem}-refused.csv",
        content_type="text/csv; charset=utf-8",
    )


def _own(request: HttpRequest, pk: int) -> Import:
    return get_object_or_404(selectors.import_list(user=request.user), pk=pk)
