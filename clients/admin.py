from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from clients import services
from clients.models import AccessToken, ApiKey, Client, Membership, User
from core.errors import DomainError
from core.models import DeliveryAttempt, Event, WebhookDelivery, WebhookEndpoint


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "is_active", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["is_active", "currency"]
    readonly_fields = ["callback_auth_key", "callback_signing_secret"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "mode", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["mode", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "client__name"]
    readonly_fields = ["prefix", "key_hash", "last_used_at", "revoked_at"]
    list_select_related = ["client"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected keys (refused from their next request)")
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset.order_by("pk"):
            try:
                services.api_key_revoke(client=key.client, api_key_id=key.pk, actor=request.user)
                revoked += 1
            except DomainError as exc:
                self.message_user(request, f"{key}: {exc.message}", messages.ERROR)
        if revoked:
            self.message_user(request, f"{revoked} key(s) revoked.", messages.SUCCESS)


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "user__email"]
    readonly_fields = ["prefix", "key_hash", "last_used_at"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "client", "events", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "client__name", "client__slug"]
    readonly_fields = ["secret"]


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms", "response_excerpt"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "client",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "kind", "event_type", "is_test"]
    search_fields = ["message_id", "url", "client__name"]
    list_select_related = ["client"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "entity_type", "kind"]
    list_filter = ["entity_type", "kind"]
    search_fields = ["=entity_id", "actor"]
    readonly_fields = [f.name for f in Event._meta.fields]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
