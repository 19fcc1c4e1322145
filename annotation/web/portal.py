"""The client portal's pages: projects (create from a domain template, progress, quality, tasks
with their answers, client audit), task uploads from CSV / JSON Lines, and exports.

Pages parse the request, check the caller's role (``clients.web.access``: viewers read, members
and up write), call the same services and selectors as the API, and render. A refused action
(``DomainError``) is shown on the same form with the input kept (``form_error``), or as an error
page (404 for another tenant's object, as in the API).

Uploads are all-or-nothing: every row is read and validated (the bulk API's checks, through
``services.task_bulk_check``), the report lists each bad row by its line, and nothing is created
unless every row is good; then the whole file is created in one ``task_bulk_create`` call.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors, services, storage, work_selectors
from annotation.exports import FORMATS
from annotation.models import ExportJob, Task
from annotation.web import charts, drawing, portal_selectors, uploads
from annotation.web.domain_templates import BY_KEY, TEMPLATES
from billing import selectors as billing_selectors
from clients.web.access import WRITE, client_page, page_membership
from clients.web.errors import form_error, readable, refused
from core.dbrouter import replica_view
from core.errors import Conflict, DomainError, NotFound

# --- forms -------------------------------------------------------------------------------------------


class ProjectCreateForm(forms.Form):
    template = forms.ChoiceField(
        choices=[(t.key, t.title) for t in TEMPLATES], widget=forms.RadioSelect, label="Template"
    )
    name = forms.CharField(max_length=200)
    labels = forms.CharField(
        required=False,
        max_length=2000,
        label="Labels (optional)",
        help_text="Comma separated; replaces the template's labels, e.g. car, bus, truck.",
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=50,
        required=False,
        label="Answers per task (optional)",
        help_text="Leave empty for the template's default.",
    )
    instructions = forms.CharField(
        widget=forms.Textarea, required=False, help_text="Leave empty for the template's instructions."
    )
    budget = forms.DecimalField(
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=12,
        label="Budget (optional)",
        help_text="In your currency, e.g. 250.00; tasks stop being served when it is spent.",
    )
    price_per_task = forms.DecimalField(
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=12,
        label="Price per task (optional)",
        help_text="In your currency, e.g. 0.40; leave empty for the rate card's (shown with each template).",
    )
    pay_per_answer = forms.DecimalField(
        required=False,
        min_value=0,
        decimal_places=2,
        max_digits=12,
        label="Pay per answer (optional)",
        help_text="What each accepted answer pays its annotator; leave empty for the rate card's.",
    )

    def clean_labels(self):
        raw = self.cleaned_data["labels"]
        labels = [part.strip() for part in raw.split(",") if part.strip()]
        if len(set(labels)) != len(labels):
            raise forms.ValidationError("Each label once, please.")
        return labels


class UploadForm(forms.Form):
    file = forms.FileField(label="Task file (CSV or JSON Lines)")


class AuditForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("accept", "Accept"), ("reject", "Reject")], widget=forms.RadioSelect
    )
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(name, name) for name in FORMATS])
    include_answers = forms.BooleanField(
        required=False, label="Include every individual answer (anonymous annotator ids)"
    )


def _write(request):
    page_membership(request, WRITE)


def _project(client, project_id):
    return selectors.project_get_for_client(client=client, project_id=project_id)


# --- projects ----------------------------------------------------------------------------------------


@require_GET
@client_page()
def project_list(request, client):
    return render(
        request,
        "portal/project_list.html",
        {
            "rows": portal_selectors.project_overview_for_client(client=client),
            "budgets": {b["project_id"]: b for b in billing_selectors.client_project_budgets(client=client)},
            "can_write": request.web_membership.can("write"),
            "currency": client.currency,
        },
    )


@require_http_methods(["GET", "POST"])
@client_page()
def project_new(request, client):
    form = ProjectCreateForm(request.POST or None, initial={"template": TEMPLATES[0].key})
    if request.method == "POST":
        _write(request)
        if form.is_valid():
            data = form.cleaned_data
            template = BY_KEY[data["template"]]
            budget = data.get("budget")
            try:
                project = services.project_create(
                    client=client,
                    actor=request.user,
                    name=data["name"],
                    task_type=template.task_type,
                    domain=template.domain,
                    params=template.params_with(data["labels"]),
                    instructions=data["instructions"] or template.instructions,
                    overlap=data["overlap"] or template.overlap,
                    budget=None if budget is None else int(budget * 100),
                    price_per_task=minor_units(data.get("price_per_task")),
                    pay_per_answer=minor_units(data.get("pay_per_answer")),
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Project “{project.name}” created. Upload its tasks next.")
                return redirect("portal-project-upload", project_id=project.id)
    return render(
        request,
        "portal/project_new.html",
        {
            "form": form,
            "template_rows": [(t, _template_price(client, t)) for t in TEMPLATES],
            "currency": client.currency,
        },
        status=400 if request.method == "POST" else 200,
    )


def minor_units(amount) -> int | None:
    """An amount typed in the currency (two decimals) as minor units; None stays None."""
    return None if amount is None else int(amount * 100)


def _template_price(client, template):
    """The rate card's price per task and pay per answer for the template's task type, and the
    platform's margin at the template's answers per task (``billing.Margin``)."""
    margin, _ = services.project_prices(
        client=client,
        task_type=template.task_type,
        price_per_task=None,
        pay_per_answer=None,
        answers=template.overlap,
    )
    return margin


@require_GET
@client_page()
@replica_view
def project_detail(request, client, project_id):
    project = _project(client, project_id)
    status = request.GET.get("status") or None
    if status not in (None, *Task.Status.values):
        status = None
    counts = portal_selectors.project_status_counts(project=project)
    total = sum(counts.values())
    task_page = portal_selectors.project_task_page(
        client=client, project=project, status=status, page_number=request.GET.get("page")
    )
    tasks = [
        {
            "task": t,
            "overlay": drawing.overlay(t.params, t.response),
            "answer_text": _answer_text(t.response),
            "summary": _task_summary(t.params),
        }
        for t in task_page.object_list
    ]
    return render(
        request,
        "portal/project_detail.html",
        {
            "project": project,
            "counts": counts,
            "total": total,
            "chart": charts.progress_chart(
                completed_by_day=portal_selectors.project_completed_by_day(project=project),
                total=total - counts["canceled"],
                today=timezone.now().date(),
            ),
            "quality": portal_selectors.project_quality_figures(project=project),
            "budget": billing_selectors.project_budget(client=client, project_id=project.id),
            "task_page": task_page,
            "tasks": tasks,
            "status": status,
            "statuses": Task.Status.values,
            "exports": selectors.export_list_for_client(client=client, project=project).order_by(
                "-created_at"
            )[:10],
            "export_form": ExportForm(),
            "can_write": request.web_membership.can("write"),
            "status_actions": {
                "active": [("paused", "Pause"), ("archived", "Archive")],
                "paused": [("active", "Resume"), ("archived", "Archive")],
                "draft": [("active", "Start"), ("archived", "Archive")],
            }.get(project.status, []),
        },
    )


def _task_summary(params: dict) -> str:
    """The text a task is about (its prompt, text or text attachment), shortened for the list."""
    text = ""
    if params.get("attachment_type") == "text":
        text = params.get("attachment", "")
    elif "prompt" in params:
        text = params["prompt"]
    elif "text" in params:
        text = params["text"]
    elif params.get("attachments"):
        first = params["attachments"][0]
        text = first.get("content", "") if isinstance(first, dict) and first.get("type") == "text" else ""
    text = text if isinstance(text, str) else ""
    return text if len(text) <= 200 else text[:199] + "…"


STATUS_CHANGES = {"paused": "paused", "active": "resumed", "archived": "archived"}


@require_POST
@client_page()
def project_status(request, client, project_id):
    """Pause, resume or archive a project (members and up, as ``live_config`` in the API)."""
    _write(request)
    target = request.POST.get("status")
    if target not in STATUS_CHANGES:
        messages.error(request, "Choose pause, resume or archive.")
    else:
        try:
            project = services.project_set_status(
                client=client, actor=request.user, project_id=project_id, status=target
            )
        except DomainError as exc:
            refused(request, exc)
        else:
            messages.success(request, f"Project {project.name} {STATUS_CHANGES[target]}.")
    return redirect("portal-project", project_id=project_id)


def _answer_text(response) -> str:
    if response is None:
        return ""
    if isinstance(response, dict) and set(response) == {"category"}:
        return str(response["category"])
    return json.dumps(response, ensure_ascii=False, indent=1)[:2000]


# --- uploads -----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@client_page()
def project_upload(request, client, project_id):
    project = _project(client, project_id)
    form = UploadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST":
        _write(request)
        if form.is_valid():
            report = _upload(request, client, project, form)
            if report is None:
                return redirect("portal-project", project_id=project.id)
    template = next(
        (t for t in TEMPLATES if t.task_type == project.task_type and t.params == project.params), None
    )
    return render(
        request,
        "portal/project_upload.html",
        {"project": project, "form": form, "report": report, "template": template},
        status=400 if request.method == "POST" else 200,
    )


def _upload(request, client, project, form) -> dict | None:
    """Read, check every row, and create all or nothing. Returns the error report, or None when
    the tasks were created."""
    upload = form.cleaned_data["file"]
    if upload.size > uploads.MAX_UPLOAD_BYTES:
        form.add_error(
            "file", f"The file is larger than {uploads.MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it."
        )
        return {"rows": [], "created": 0}
    try:
        rows = uploads.read_rows(upload.name, upload.read())
    except uploads.UnreadableFile as exc:
        form.add_error("file", str(exc))
        return {"rows": [], "created": 0}
    problems: dict[int, list[str]] = {}
    for row in rows:
        if row.error:
            problems.setdefault(row.line, []).append(uploads.humanize(row.error))
    parsed = [row for row in rows if row.item is not None]
    lines = {index: row.line for index, row in enumerate(parsed)}
    try:
        if parsed:
            for index, error in services.task_bulk_check(
                client=client, project=project, items=[row.item for row in parsed]
            ):
                message = uploads.humanize(_row_message(error.message), lines=lines)
                problems.setdefault(parsed[index].line, []).append(message)
    except DomainError as exc:
        form_error(form, exc)
        return {"rows": [], "created": 0}
    if problems:
        bad = len(problems)
        form.add_error(
            "file",
            f"{bad} of {len(rows)} row{'' if len(rows) == 1 else 's'} {'has' if bad == 1 else 'have'} "
            "problems; nothing was created. Fix them and upload the file again.",
        )
        return {
            "rows": [{"line": line, "messages": problems[line]} for line in sorted(problems)],
            "created": 0,
            "total": len(rows),
        }
    try:
        results = services.task_bulk_create(
            client=client, actor=request.user, project=project, items=[row.item for row in rows]
        )
    except DomainError as exc:
        form_error(form, exc)
        return {"rows": [], "created": 0}
    created = sum(r.created for r in results)
    existing = len(results) - created
    note = f" {existing} already existed (same unique_id) and were left as they were." if existing else ""
    messages.success(
        request, f"{created} task{'' if created == 1 else 's'} created from {upload.name}.{note}"
    )
    return None


def _row_message(message: str) -> str:
    """``tasks[3].params.attachment: required`` → ``params.attachment: required`` (the line says
    which row)."""
    if message.startswith("tasks[") and "]" in message:
        return message.split("]", 1)[1].lstrip(".: ") or message
    return message


# --- tasks and audit -----------------------------------------------------------------------------------


def _task_in_project(client, project, task_id) -> Task:
    task = selectors.task_get_for_client(client=client, task_id=task_id, is_test=False)
    if task.project_id != project.id:
        raise NotFound("Task not found.")
    return task


@require_http_methods(["GET", "POST"])
@client_page()
def task_detail(request, client, project_id, task_id):
    project = _project(client, project_id)
    task = _task_in_project(client, project, task_id)
    form = AuditForm(request.POST or None)
    if request.method == "POST":
        _write(request)
        if form.is_valid():
            try:
                services.task_audit(
                    client=client,
                    actor=request.user,
                    task_id=task.id,
                    accepted=form.cleaned_data["decision"] == "accept",
                    comments=form.cleaned_data["comments"],
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                if form.cleaned_data["decision"] == "accept":
                    messages.success(request, "Task accepted.")
                else:
                    messages.success(
                        request,
                        "Task rejected. It goes back to annotators for rework at no extra charge; "
                        "its last answer stays here until the rework is done.",
                    )
                return redirect("portal-task", project_id=project.id, task_id=task.id)
        task.refresh_from_db()
    submissions = [
        {**s, "overlay": drawing.overlay(task.params, s["answer"]), "answer_text": _answer_text(s["answer"])}
        for s in portal_selectors.task_submissions(task=task)
    ]
    return render(
        request,
        "portal/task_detail.html",
        {
            "project": project,
            "task": task,
            "overlay": drawing.overlay(task.params, task.response),
            "answer_text": _answer_text(task.response),
            "params_text": json.dumps(task.params, ensure_ascii=False, indent=1)[:5000],
            "submissions": submissions,
            "audits": selectors.task_audits_by_task(task_ids=[task.id]).get(task.id, []),
            "reviews": work_selectors.review_history(task=task, viewer="client"),
            "form": form,
            "can_write": request.web_membership.can("write"),
            "can_audit": task.status == Task.Status.COMPLETED,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- exports -----------------------------------------------------------------------------------------


@require_GET
@client_page()
def export_list(request, client):
    return render(
        request,
        "portal/export_list.html",
        {
            "exports": portal_selectors.export_list_all_for_client(client=client),
            "projects": selectors.project_list_for_client(client=client),
            "export_form": ExportForm(),
            "can_write": request.web_membership.can("write"),
        },
    )


@require_POST
@client_page()
def export_create(request, client, project_id):
    _write(request)
    project = _project(client, project_id)
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an export format.")
        return redirect("portal-project", project_id=project.id)
    options = {"include_answers": True} if form.cleaned_data["include_answers"] else {}
    try:
        result = services.export_create(
            client=client,
            actor=request.user,
            project=project,
            format=form.cleaned_data["format"],
            options=options,
        )
    except DomainError as exc:
        messages.error(request, readable(exc.message))
    else:
        messages.success(
            request, f"Export {result.job.format} queued; its download link appears here when it is ready."
        )
    if request.POST.get("back") == "exports":
        return redirect("portal-exports")
    return redirect(f"/portal/projects/{project.id}/#exports")


@require_GET
@client_page()
def export_row(request, client, project_id, export_id):
    """One export's table row (htmx polls it while the export is queued or running)."""
    job = selectors.export_get_for_client(client=client, project_id=project_id, export_id=export_id)
    return render(
        request,
        "portal/_export_row.html",
        {"job": job, "show_project": request.GET.get("with_project") == "1"},
    )


@require_GET
@client_page()
def export_download(request, client, project_id, export_id):
    job = selectors.export_get_for_client(client=client, project_id=project_id, export_id=export_id)
    if job.status != ExportJob.Status.READY:
        raise Conflict(
            f"The export is {job.status}; it can be downloaded once ready.", code="export_not_ready"
        )
    response = FileResponse(
        storage.open_for_read(job.file_name),
        as_attachment=True,
        filename=services.export_download_name(job),
        content_type=job.content_type or "application/octet-stream",
    )
    response["Content-Length"] = str(job.file_size)
    return response
