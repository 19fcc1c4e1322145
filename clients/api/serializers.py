from rest_framework import serializers

from clients.models import ApiKey, Client
from core.models import WebhookDelivery


class ApiKeyOut(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "mode", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedOut(ApiKeyOut):
    key = serializers.CharField(help_text="The secret key. Shown only in this response; store it now.")

    class Meta(ApiKeyOut.Meta):
        fields = [*ApiKeyOut.Meta.fields, "key"]


class ApiKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    mode = serializers.ChoiceField(choices=ApiKey.Mode.choices, default=ApiKey.Mode.LIVE)


class DeliveryOut(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "kind",
            "event_type",
            "message_id",
            "url",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
            "payload",
        ]


class ClientCredentialsOut(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "name", "slug", "currency", "callback_auth_key", "callback_signing_secret"]
