"""core.sqlrows.loaded: a model instance holding only the columns a statement returned."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Annotator
from core.sqlrows import loaded
from tests.annotation.factories import AnnotatorFactory


@pytest.mark.django_db
def test_given_columns_are_set_and_the_rest_is_read_when_touched_not_defaulted():
    stored = AnnotatorFactory(status=Annotator.Status.SUSPENDED, skills=["lidar"])
    ref = loaded(Annotator, user_id=stored.user_id, id=stored.pk)  # any keyword order
    assert (ref.pk, ref.user_id) == (stored.pk, stored.user_id)
    assert ref._state.adding is False
    assert ref.get_deferred_fields() >= {"status", "skills"}
    with CaptureQueriesContext(connection) as queries:
        assert ref.status == Annotator.Status.SUSPENDED  # the stored value, not the field default
    assert len(queries) == 1


def test_an_unknown_column_is_refused():
    with pytest.raises(TypeError, match="no column"):
        loaded(Annotator, id=1, nickname="x")
