"""Admin views. Read-mostly: state changes go through services (later issues add actions)."""

from django.contrib import admin

from annotation.models import Annotator, Assignment, Batch, Project, Submission, Task


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "task_type", "domain", "status", "overlap", "price_per_task", "created_at"]
    list_filter = ["status", "task_type", "domain"]
    search_fields = ["name", "client__name"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "status", "created_at", "finalized_at"]
    list_filter = ["status"]
    search_fields = ["name"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "answers_received", "overlap", "is_test", "created_at"]
    list_filter = ["status", "task_type", "is_test"]
    search_fields = ["id", "unique_id"]
    readonly_fields = [f.name for f in Task._meta.fields]
    list_select_related = ["project"]
    show_full_result_count = False


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "is_reviewer", "created_at"]
    list_filter = ["status", "is_reviewer"]
    search_fields = ["user__email"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "status", "claim_version", "leased_until"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Assignment._meta.fields]
    show_full_result_count = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "annotator", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in Submission._meta.fields]
