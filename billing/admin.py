"""The ledger in the admin: read-only (PostgreSQL refuses edits anyway)."""

from django.contrib import admin

from billing.models import Account, LedgerEntry, LedgerTransaction


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnly):
    list_display = ["kind", "client", "user", "currency", "created_at"]
    list_filter = ["kind", "currency"]


class EntryInline(admin.TabularInline):
    model = LedgerEntry
    extra = 0
    can_delete = False
    readonly_fields = ["account", "amount", "currency", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnly):
    list_display = ["created_at", "kind", "client", "reference", "idempotency_key"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "reference"]
    inlines = [EntryInline]
