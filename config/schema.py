"""OpenAPI post-processing: document the error object every operation can answer with."""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable machine-readable code, e.g. lease_expired.",
                },
                "message": {"type": "string", "description": "What went wrong, for a person."},
                "details": {"description": "Optional: the offending field, index, or per-field errors."},
            },
        }
    },
}

ERROR_STATUSES = {
    "400": "Invalid input; nothing was changed.",
    "401": "Missing, malformed, unknown or revoked key.",
    "403": "Authenticated, but not allowed (role, key mode, or annotator status).",
    "404": "No such object for this caller (another client's ids answer 404 too).",
    "409": "Conflict with the current state (stale lease, duplicate name, not pending…); nothing was "
    "changed.",
}
ONLY_ON = {"429": ("/api/v1/work/next", "You already hold the maximum number of live leases.")}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            statuses = dict(ERROR_STATUSES)
            statuses.update({status: text for status, (only, text) in ONLY_ON.items() if path == only})
            for status, description in statuses.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
