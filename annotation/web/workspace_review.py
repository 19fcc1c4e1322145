"""The reviewer's queue and the qualification tests, inside the annotator workspace.

Review (``/work/review/``): annotators with the reviewer role take the next task held for review
(``services.review_next``), see the task and its anonymised answers (``services.review_answers``:
numbered, no annotator names) and give a verdict (``services.review_decide``): accept, fix (with
a corrected answer) or reject. Qualifications (``/work/qualifications/``): start a test
(``services.qualification_attempt_start``) and answer its questions with the same labeling tools
as real work (``services.qualification_attempt_answer``); the gold answers never reach the page.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import quality_selectors, selectors, services, tasktypes, work_selectors
from annotation.models import TaskType
from annotation.services import workforce
from annotation.web import drawing
from annotation.web.workspace import COMMON_SHORTCUTS, TOOL_SHORTCUTS, annotator_page, tool_context
from clients.web.errors import readable
from core.errors import Conflict, DomainError, PermissionDenied, TooManyRequests, ValidationFailed
from core.exceptions import error_body

VERDICTS = [
    ("accept", "Accept: the answer is right"),
    ("fix", "Fix: replace it with a corrected answer"),
    ("reject", "Reject: the answers are wrong; the task goes back to the queue"),
]


def _reviewer_only(annotator) -> None:
    if not annotator.is_reviewer:
        raise PermissionDenied(
            "The review queue is for annotators with the reviewer role.", code="not_reviewer"
        )


# --- review ---------------------------------------------------------------------------------------


@require_GET
@annotator_page
def review_home(request, annotator):
    _reviewer_only(annotator)
    return render(
        request,
        "workspace/review_home.html",
        {"annotator": annotator, "reviews": work_selectors.reviews_waiting(reviewer=annotator)},
    )


@require_POST
@annotator_page
def review_next(request, annotator):
    review = services.review_next(reviewer=annotator)
    if review is None:
        messages.info(request, "The review queue is empty right now.")
        return redirect("workspace-review")
    return redirect("workspace-review-item", review_id=review.pk)


# Task types whose tool can draw an answer read-only beside the others (canvas and span tools); the
# form tools (categorization, comparison, text collection) show each answer as text instead.
DRAWN_SIDE_BY_SIDE = {"imageannotation", "videoannotation", "lidarannotation", "namedentityrecognition"}


def _review_context(review, *, reviewer, form: dict | None = None, error: str = "") -> dict:
    task = review.task
    drawn = task.task_type in DRAWN_SIDE_BY_SIDE
    answers = [
        {
            **a,
            "caption": f"Answer {a['number']}",
            "script_id": f"review-answer-{a['number']}",
            "overlay": None if drawn else drawing.overlay(task.params, a["answer"]),
            "text": json.dumps(a["answer"], indent=2, ensure_ascii=False),
        }
        for a in services.review_answers(review=review)
    ]
    # The JSON fallback starts from the first answer (a valid answer; the consensus carries extra
    # keys such as confidence). The tool starts from the consensus: it keeps only the keys it knows.
    start = answers[0]["answer"] if answers else review.response
    form = form or {
        "verdict": "",
        "comment": "",
        "corrected_answer": json.dumps(start, indent=2, ensure_ascii=False),
    }
    data = {
        "task_type": task.task_type,
        "params": task.params,
        "initial": review.response,
        "initial_source": "consensus",
        "submit_fields": {"verdict": "fix"},
        "submit_inputs": {"comment": "comment"},
        "urls": {"submit": reverse("workspace-review-fix", args=[review.pk])},
    }
    return {
        "review": review,
        "task": task,
        "answers": answers,
        "drawn": drawn,
        "verdicts": VERDICTS,
        "form": form,
        "error": error,
        "params_text": json.dumps(task.params, indent=2, ensure_ascii=False),
        "consensus": {
            "answer": review.response,
            "overlay": None if drawn else drawing.overlay(task.params, review.response),
            "text": json.dumps(review.response, indent=2, ensure_ascii=False),
        },
        "history": work_selectors.review_history(task=task, viewer="reviewer", reviewer=reviewer),
        "instructions": task.project.instructions,
        **tool_context(task.task_type, data),
        "shortcuts": [("Enter", "record the fix (the answer in the editor)")]
        + TOOL_SHORTCUTS.get(task.task_type, []),
    }


@require_http_methods(["GET", "POST"])
@annotator_page
def review_item(request, annotator, review_id):
    _reviewer_only(annotator)
    review = selectors.review_get_for_reviewer(reviewer=annotator, review_id=review_id)
    if request.method == "GET":
        return render(request, "workspace/review_item.html", _review_context(review, reviewer=annotator))
    form = {key: request.POST.get(key, "") for key in ("verdict", "comment", "corrected_answer")}
    corrected = None
    try:
        if form["verdict"] == "fix":
            try:
                corrected = json.loads(form["corrected_answer"])
            except ValueError as exc:
                raise ValidationFailed(
                    f"corrected_answer: not valid JSON ({exc})",
                    code="invalid_json",
                    details={"field": "corrected_answer"},
                ) from exc
        services.review_decide(
            reviewer=annotator,
            review_id=review.pk,
            verdict=form["verdict"],
            corrected_answer=corrected,
            comment=form["comment"],
        )
    except Conflict as exc:
        messages.error(request, readable(exc.message))
        return redirect("workspace-review")
    except ValidationFailed as exc:
        return render(
            request,
            "workspace/review_item.html",
            _review_context(review, reviewer=annotator, form=form, error=readable(exc.message)),
            status=400,
        )
    messages.success(request, f"Verdict recorded: {form['verdict']}.")
    return redirect("workspace-review")


@require_POST
@annotator_page
def review_fix(request, annotator, review_id):
    """The fix made with the task type's tool: JSON in (``answer``, ``comment``), JSON out (where to
    go next, or the error with the service's status, shown next to the tool with the work kept)."""
    try:
        _reviewer_only(annotator)
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed("The request body is not valid JSON.", code="invalid_json") from exc
        if not isinstance(body, dict):
            raise ValidationFailed("The request body must be a JSON object.", code="invalid_json")
        services.review_decide(
            reviewer=annotator,
            review_id=review_id,
            verdict="fix",
            corrected_answer=body.get("answer"),
            comment=body.get("comment") or "",
        )
    except DomainError as exc:
        return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    messages.success(request, "Verdict recorded: fix.")
    return JsonResponse({"decided": True, "next_url": reverse("workspace-review")})


# --- qualifications -------------------------------------------------------------------------------


def _qualification_row(q: dict, now) -> dict:
    """``quality_selectors.qualifications_for_annotator``'s row, worded for the page."""
    score = "" if q["score"] is None else f"{round(100 * q['score'])} %"
    row = q | {
        "task_type_label": TaskType(q["task_type"]).label
        if q["task_type"] in TaskType.values
        else q["task_type"],
        "pass_mark_percent": round(100 * q["pass_mark"]),
        "can_start": True,
        "action": "Take the test",
        "standing": "Not taken yet",
    }
    if q["state"] == "held":
        return row | {"can_start": False, "standing": f"Qualified (score {score})" if score else "Qualified"}
    if q["state"] == "in_progress":
        return row | {"action": "Continue the test", "standing": "In progress"}
    if q["state"] == "failed":
        retry_at = datetime.fromisoformat(q["retry_at"])
        failed = f"Not passed with {score}" if score else "Not passed"
        if retry_at > now:
            return row | {
                "can_start": False,
                "standing": f"{failed}; you can retake it after {retry_at:%Y-%m-%d %H:%M} UTC",
            }
        return row | {"action": "Retake the test", "standing": failed}
    return row


@require_GET
@annotator_page
def qualification_list(request, annotator):
    now = timezone.now()
    rows = [q for q in quality_selectors.qualifications_for_annotator(annotator=annotator) if q["questions"]]
    return render(
        request,
        "workspace/qualifications.html",
        {
            "annotator": annotator,
            "qualifications": [_qualification_row(q, now) for q in rows],
        },
    )


@require_POST
@annotator_page
def qualification_start(request, annotator, qualification_id):
    try:
        attempt = services.qualification_attempt_start(annotator=annotator, qualification_id=qualification_id)
    except (Conflict, TooManyRequests) as exc:
        messages.error(request, readable(exc.message))
        return redirect("workspace-qualifications")
    return redirect("workspace-attempt", attempt_id=attempt.pk)


@require_GET
@annotator_page
def attempt_page(request, annotator, attempt_id):
    attempt = workforce.attempt_get(annotator=annotator, attempt_id=attempt_id)
    qualification = attempt.qualification
    question = workforce.attempt_next_question(attempt=attempt)
    context = {"attempt": attempt, "qualification": qualification, "question": question}
    if question is not None:
        data = {
            "task_type": qualification.task_type,
            "params": tasktypes.effective_params(qualification.params, question.params),
            "submit_fields": {"question_id": str(question.pk)},
            "urls": {"submit": reverse("workspace-attempt-answer", args=[attempt.pk])},
        }
        context |= tool_context(qualification.task_type, data)
        context["shortcuts"] = COMMON_SHORTCUTS[:1] + TOOL_SHORTCUTS.get(qualification.task_type, [])
    return render(request, "workspace/attempt.html", context)


@require_POST
@annotator_page
def attempt_answer(request, annotator, attempt_id):
    try:
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed("The request body is not valid JSON.", code="invalid_json") from exc
        if not isinstance(body, dict):
            raise ValidationFailed("The request body must be a JSON object.", code="invalid_json")
        services.qualification_attempt_answer(
            annotator=annotator,
            attempt_id=attempt_id,
            question_id=body.get("question_id"),
            answer=body.get("answer"),
        )
    except DomainError as exc:
        return JsonResponse(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    return JsonResponse({"answered": True, "next_url": reverse("workspace-attempt", args=[attempt_id])})


urlpatterns = [
    path("review/", review_home, name="workspace-review"),
    path("review/next", review_next, name="workspace-review-next"),
    path("review/<str:review_id>/", review_item, name="workspace-review-item"),
    path("review/<str:review_id>/fix", review_fix, name="workspace-review-fix"),
    path("qualifications/", qualification_list, name="workspace-qualifications"),
    path(
        "qualifications/<str:qualification_id>/start",
        qualification_start,
        name="workspace-qualification-start",
    ),
    path("qualifications/attempts/<str:attempt_id>/", attempt_page, name="workspace-attempt"),
    path("qualifications/attempts/<str:attempt_id>/answer", attempt_answer, name="workspace-attempt-answer"),
]
