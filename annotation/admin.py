"""Admin views. Read-mostly: state changes go through services (admin actions call them and show
each refusal as a message)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from annotation import services
from annotation.models import (
    Annotator,
    AnnotatorQualification,
    Assignment,
    Batch,
    ExportJob,
    Project,
    ProjectWorker,
    Qualification,
    Review,
    Submission,
    Task,
    TaskAudit,
)
from annotation.services import workforce
from core.errors import DomainError


def _each(modeladmin, request, queryset, call, done: str) -> None:
    """Call ``call(obj)`` for each selected object; report how many moved and every refusal."""
    moved = 0
    for obj in queryset.order_by("pk"):
        try:
            call(obj)
            moved += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
    if moved:
        modeladmin.message_user(request, f"{moved} {done}.", level=messages.SUCCESS)


def _project_status_action(status: str, description: str):
    def action(modeladmin, request, queryset):
        _each(
            modeladmin,
            request,
            queryset,
            lambda project: services.project_set_status(
                client=project.client, actor=request.user, project_id=project.pk, status=status
            ),
            f"project(s) {status}",
        )

    action.__name__ = f"set_{status}"
    return admin.action(description=description)(action)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "client",
        "task_type",
        "domain",
        "status",
        "overlap",
        "price_per_task",
        "created_at",
    ]
    list_filter = ["status", "task_type", "domain", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "client__name", "client__slug"]
    list_select_related = ["client"]
    actions = [
        _project_status_action("paused", "Pause the selected projects (their tasks stop being served)"),
        _project_status_action("active", "Resume the selected projects"),
        _project_status_action("archived", "Archive the selected projects"),
    ]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "client", "status", "created_at", "finalized_at"]
    list_filter = ["status", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "project__name", "client__name"]
    list_select_related = ["project", "client"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "unique_id",
        "project",
        "status",
        "answers_received",
        "overlap",
        "confidence",
        "is_test",
        "created_at",
    ]
    list_filter = ["status", "task_type", "is_test", "is_gold", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=id", "unique_id", "project__name"]
    readonly_fields = [f.name for f in Task._meta.fields]
    list_select_related = ["project"]
    show_full_result_count = False


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded on the audit log with your name.",
    )


class GrantForm(ReasonForm):
    qualification = forms.ModelChoiceField(
        queryset=Qualification.objects.filter(is_active=True).order_by("name")
    )


def _with_reason(modeladmin, request, queryset, *, title: str, form_class, apply) -> TemplateResponse | None:
    """An action that asks for a reason (and any other input) on an intermediate page, then calls
    ``apply(obj, form.cleaned_data)`` for each selected object."""
    form = form_class(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        _each(modeladmin, request, queryset, lambda obj: apply(obj, form.cleaned_data), "done")
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "objects": queryset,
        "action": request.POST["action"],
        "checkbox": ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/annotation/reason_action.html", context)


def _status_action(status: str, description: str):
    def action(modeladmin, request, queryset):
        return _with_reason(
            modeladmin,
            request,
            queryset,
            title=description,
            form_class=ReasonForm,
            apply=lambda annotator, data: workforce.annotator_set_status(
                annotator_id=annotator.pk, status=status, reason=data["reason"], actor=request.user
            ),
        )

    action.__name__ = {"active": "vet_or_restore", "suspended": "suspend", "banned": "ban"}[status]
    return admin.action(description=description)(action)


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    """Vetting, suspension, bans and restores go through ``annotator_set_status`` (with a reason,
    leases released on suspension); qualifications through ``qualification_grant``."""

    list_display = ["user", "status", "is_reviewer", "skills", "domains", "created_at"]
    list_filter = ["status", "is_reviewer"]
    search_fields = ["user__email", "user__name"]
    list_select_related = ["user"]
    readonly_fields = ["status"]
    actions = [
        _status_action("active", "Vet (applicant → active) or restore the selected annotators"),
        _status_action("suspended", "Suspend the selected annotators (their leases are released)"),
        _status_action("banned", "Ban the selected annotators"),
        "grant_qualification",
    ]

    @admin.action(description="Grant a qualification to the selected annotators (without the test)")
    def grant_qualification(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title="Grant a qualification",
            form_class=GrantForm,
            apply=lambda annotator, data: workforce.qualification_grant(
                annotator_id=annotator.pk,
                qualification_id=data["qualification"].pk,
                reason=data["reason"],
                actor=request.user,
            ),
        )


@admin.register(Qualification)
class QualificationAdmin(ReadOnlyAdmin):
    list_display = ["name", "client", "task_type", "domain", "pass_mark", "is_active", "created_at"]
    list_filter = ["is_active", "task_type", "domain"]
    search_fields = ["name", "client__name"]


@admin.register(AnnotatorQualification)
class AnnotatorQualificationAdmin(ReadOnlyAdmin):
    list_display = ["annotator", "qualification", "source", "score", "granted_at", "revoked_at"]
    list_filter = ["source", ("revoked_at", admin.EmptyFieldListFilter), "qualification"]
    search_fields = ["annotator__user__email", "qualification__name"]
    list_select_related = ["annotator__user", "qualification"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected qualifications")
    def revoke(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title="Revoke qualifications",
            form_class=ReasonForm,
            apply=lambda held, data: workforce.qualification_revoke(
                annotator_id=held.annotator_id,
                qualification_id=held.qualification_id,
                reason=data["reason"],
                actor=request.user,
            ),
        )


@admin.register(ProjectWorker)
class ProjectWorkerAdmin(ReadOnlyAdmin):
    """Annotators' standing per project; staff remove or restore through the services."""

    list_display = ["annotator", "project", "status", "reason", "gold_answers", "flags", "updated_at"]
    list_filter = ["status", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["annotator__user__email", "project__name"]
    list_select_related = ["annotator__user", "project"]
    actions = ["restore", "remove"]

    @admin.action(description="Restore the selected annotators in their project")
    def restore(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title="Restore in the project",
            form_class=ReasonForm,
            apply=lambda worker, data: workforce.worker_restore(
                project_id=worker.project_id,
                annotator_id=worker.annotator_id,
                reason=data["reason"],
                actor=request.user,
            ),
        )

    @admin.action(description="Remove the selected annotators from their project")
    def remove(self, request, queryset):
        return _with_reason(
            self,
            request,
            queryset,
            title="Remove from the project",
            form_class=ReasonForm,
            apply=lambda worker, data: workforce.worker_remove(
                project_id=worker.project_id,
                annotator_id=worker.annotator_id,
                reason=data["reason"],
                actor=request.user,
            ),
        )


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["task", "project", "reason", "status", "round"]
    list_filter = ["status", "reason", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=task__id", "project__name"]
    list_select_related = ["task", "project"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "project", "status", "claim_version", "leased_until"]
    list_filter = ["status", ("project", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=task__id", "annotator__user__email"]
    readonly_fields = [f.name for f in Assignment._meta.fields]
    list_select_related = ["task", "annotator__user", "project"]
    show_full_result_count = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "status", "duration_ms", "created_at"]
    list_filter = ["status"]
    search_fields = ["=task__id", "annotator__user__email"]
    readonly_fields = [f.name for f in Submission._meta.fields]
    list_select_related = ["task", "annotator__user"]
    show_full_result_count = False


@admin.register(TaskAudit)
class TaskAuditAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "task", "client", "accepted", "audited_by"]
    list_filter = ["accepted", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=task__id", "comments"]


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "project",
        "client",
        "format",
        "status",
        "task_count",
        "file_size",
        "attempts",
    ]
    list_filter = ["status", "format", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=id", "project__name", "client__name"]
    exclude = ["anon_salt"]
    list_select_related = ["project", "client"]
