"""``/work/``: the annotator workspace — queue, task pages, earnings and accuracy
(``workspace``), the review queue and qualification tests (``workspace_review``)."""

from annotation.web import workspace, workspace_review

urlpatterns = workspace.urlpatterns + workspace_review.urlpatterns
