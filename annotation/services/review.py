"""Writes for review: the lifecycle's review verdicts (``annotation.lifecycle.review``), under the
service names the interfaces call."""

from annotation.lifecycle.review import MAX_COMMENT, review_answers, review_decide, review_next

__all__ = ["MAX_COMMENT", "review_answers", "review_decide", "review_next"]
