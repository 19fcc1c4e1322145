"""Admin views. Read-mostly: state changes go through services (admin actions call them and show
each refusal as a message)."""

from django.contrib import admin, messages

from annotation import services
from annotation.models import Annotator, Assignment, Batch, ExportJob, Project, Submission, Task, TaskAudit
from clients.errors import DomainError


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
        _each(modeladmin, request, queryset, lambda project: services.project_set_status(
            client=project.client, actor=request.user, project_id=project.pk, status=status), f"project(s) {status}")

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
    list_display = ["name", "client", "task_type", "domain", "status", "overlap", "price_per_task", "created_at"]
    list_filter = ["status", "task_type", "domain", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "client__name", "client__slug"]
    list_select_related = ["client"]
    actions = [_project_status_action("paused", "Pause the selected projects (their tasks stop being served)"),
               _project_status_action("active", "Resume the selected projects"),
               _project_status_action("archived", "Archive the selected projects")]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "client", "status", "created_at", "finalized_at"]
    list_filter = ["status", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "project__name", "client__name"]
    list_select_related = ["project", "client"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "unique_id", "project", "status", "answers_received", "overlap", "confidence", "is_test", "created_at"]
    list_filter = ["status", "task_type", "is_test", "is_gold", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=id", "unique_id", "project__name"]
    readonly_fields = [f.name for f in Task._meta.fields]
    list_select_related = ["project"]
    show_full_result_count = False


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "is_reviewer", "skills", "domains", "created_at"]
    list_filter = ["status", "is_reviewer"]
    search_fields = ["user__email", "user__name"]
    list_select_related = ["user"]


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
    list_display = ["created_at", "project", "client", "format", "status", "task_count", "file_size", "attempts"]
    list_filter = ["status", "format", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=id", "project__name", "client__name"]
    exclude = ["anon_salt"]
    list_select_related = ["project", "client"]
