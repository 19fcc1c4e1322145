"""core.negotiation.FastContentNegotiation answers exactly as DRF's DefaultContentNegotiation."""

from __future__ import annotations

import itertools

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.negotiation import FastContentNegotiation

ACCEPTS = [None, "", "*/*", "application/json", "text/html", "application/json; indent=4", "text/html,*/*",
           "application/xml", "application/*"]  # fmt: skip
QUERIES = ["", "format=api", "format=json", "x=1"]
RENDERERS = [
    [JSONRenderer, BrowsableAPIRenderer],
    [BrowsableAPIRenderer, JSONRenderer],
    [JSONRenderer],
    [TemplateHTMLRenderer, JSONRenderer],
]
SUFFIXES = [None, "json", "api"]


def answer(negotiation, accept, query, renderer_classes, suffix):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/x?{query}" if query else "/x", **headers))
    renderers = [cls() for cls in renderer_classes]
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers, suffix)
    except exceptions.NotAcceptable:
        return "406"
    except Http404:
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize(
    ("accept", "query", "renderer_classes", "suffix"),
    list(itertools.product(ACCEPTS, QUERIES, RENDERERS, SUFFIXES)),
)
def test_the_fast_path_gives_drf_s_answer(accept, query, renderer_classes, suffix):
    expected = answer(DefaultContentNegotiation(), accept, query, renderer_classes, suffix)
    assert answer(FastContentNegotiation(), accept, query, renderer_classes, suffix) == expected


def test_the_fast_path_skips_drf_s_parsing_for_plain_json_clients(monkeypatch):
    def parsed(*args, **kwargs):
        raise AssertionError("the Accept header was parsed")

    monkeypatch.setattr(DefaultContentNegotiation, "_get_parsed_accept_list", parsed)
    for accept in (None, "*/*", "application/json"):
        assert answer(FastContentNegotiation(), accept, "", [JSONRenderer, BrowsableAPIRenderer], None) == (
            "JSONRenderer",
            "application/json",
        )
