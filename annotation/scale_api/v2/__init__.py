"""The Scale v2 (GenAI) API, mounted at ``/v2/``: what the SDK's ``client.v2`` calls."""
