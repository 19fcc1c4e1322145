"""The Scale-compatible API under ``/v1/``: what the official ``scaleapi`` Python SDK sends and
needs back (docs/scale-compatibility.md), mapped onto the same selectors and services as the native API.

Transport rules kept here and nowhere else: HTTP Basic with the API key as user name; success is
always 200 with a JSON body; every error is ``{"status_code": N, "error": "message"}``; 409 only
for duplicate names and ``unique_id`` (any other conflict answers 400, which the SDK can handle).
"""
