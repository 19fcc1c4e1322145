"""The annotator workspace (``/work/``): the queue, the labeling tool of each task type, earnings
and accuracy. Pages for signed-in annotators; every action calls the same services as the API
(``annotation.services.work``), and every refusal is shown as a readable message.

The tool posts JSON to ``submit`` and ``heartbeat`` and gets JSON back (an error as
``{"error": {"code", "message"}}`` with the service's status), so a 400 can be shown next to the
tool with the work kept; skip, release and "start working" are plain forms.
"""

from __future__ import annotations

import json
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from annotation import prelabels, quality_selectors, selectors, services, work_selectors
from annotation.models import Assignment, TaskType
from billing import selectors as billing_selectors
from clients.web.errors import readable
from core.errors import Conflict, DomainError, TooManyRequests, ValidationFailed
from core.exceptions import error_body

# Static scripts of each task type's tool (annotation/static/annotation/tools/). A type without an
# entry, or a task ``has_browser_tool`` refuses, has no browser tool: the page says so and offers
# skip and release.
TOOLS = {
    "imageannotation": ["canvas.js", "imageannotation.js"],
    "lidarannotation": ["canvas.js", "lidarannotation.js"],
    "comparison": ["canvas.js", "comparison.js"],
    "textcollection": ["canvas.js", "textcollection.js"],
    "namedentityrecognition": ["canvas.js", "namedentityrecognition.js"],
    "categorization": ["canvas.js", "categorization.js"],
    "videoannotation": ["canvas.js", "videoannotation.js"],  # frame images, or one video file
}
LEASE_CODES = {"lease_expired", "stale_claim", "lease_lost", "task_not_pending"}
LEASE_MESSAGES = {
    "lease_expired": "Your lease on this task expired, so it may have gone to another annotator. Your "
    "answer was not saved.",
    "stale_claim": "This task was claimed again since you opened it (your lease had run out). Your answer "
    "was not saved.",
    "lease_lost": "This task is no longer yours to answer (it was submitted, skipped or expired).",
    "task_not_pending": "The client closed this task while you were working on it.",
}
COMMON_SHORTCUTS = [("Enter", "submit the answer (Ctrl+Enter inside a text box)"), ("S", "skip the task")]
TOOL_SHORTCUTS = {
    "imageannotation": [
        ("V / B / P / L / O / E / C", "select, box, polygon, line, point, ellipse, cuboid"),
        ("1–9", "pick a label (in select mode: relabel the selected shape)"),
        ("Arrow keys (Shift: ×10)", "drawing: move the crosshair; select: nudge the shape or handle"),
        ("Space", "place a point at the crosshair (box: 2, cuboid: 3)"),
        ("[ / ]", "select the previous / next shape"),
        ("H / Shift+H", "next / previous handle of the selected shape (resize, vertices)"),
        ("R / Shift+R", "rotate the selected box ±5° (when rotation is allowed)"),
        ("Ctrl+Z, Ctrl+Shift+Z", "undo, redo"),
        ("Delete or Backspace", "remove the selected shape"),
        ("Enter or double-click", "finish a polygon or line"),
        ("Escape", "cancel the shape being drawn, let go of the handle, deselect"),
        ("Wheel, + / −, space-drag", "zoom, pan"),
        ("F", "fit the image"),
    ],
    "lidarannotation": ["canvas.js", "lidarannotation.js"],
    "comparison": ["canvas.js", "comparison.js"],
    "textcollection": ["canvas.js", "textcollection.js"],
    "namedentityrecognition": ["canvas.js", "namedentityrecognition.js"],
    "categorization": ["canvas.js", "categorization.js"],
    "videoannotation": ["canvas.js", "videoannotation.js"],  # frame images, or one video file
}
LEASE_CODES = {"lease_expired", "stale_claim", "lease_lost", "task_not_pending"}
LEASE_MESSAGES = {
    "lease_expired": "Your lease on this task expired, so it may have gone to another annotator. Your "
    "answer was not saved.",
    "stale_claim": "This task was claimed again since you opened it (your lease had run out). Your answer "
    "was not saved.",
    "lease_lost": "This task is no longer yours to answer (it was submitted, skipped or expired).",
    "task_not_pending": "The client closed this task while you were working on it.",
}
COMMON_SHORTCUTS = [("Enter", "submit the answer (Ctrl+Enter inside a text box)"), ("S", "skip the task")]
TOOL_SHORTCUTS = {
    "imageannotation": [
        ("V / B / P / L / O / E", "select, box, polygon, line, point, ellipse"),
        ("1–9", "pick a label (in select mode: relabel the selected shape)"),
        ("Delete or Backspace", "remove the selected shape"),
        ("Enter or double-click", "finish a polygon or line"),
        ("Escape", "cancel the shape being drawn, deselect"),
        ("Wheel, + / −", "zoom"),
        ("Space-drag, middle-drag, arrow keys", "pan"),
        ("F", "fit the image"),
    ],
    "lidarannotation": [
        ("1–9", "pick a label (relabels the selected cuboid)"),
        ("R / Shift+R", "rotate the selected cuboid ±5°"),
        ("[ / ]", "previous / next frame"),
        ("Delete or Backspace", "remove the selected cuboid"),
        ("Wheel, + / −", "zoom"),
        ("Space-drag, arrow keys", "pan"),
    ],
    "comparison": [
        ("A / B", "pick the better response (pairwise)"),
        ("1–9", "how much better (pairwise)"),
        ("Alt+↑ / Alt+↓", "move the focused response up or down (ranking)"),
    ],
    "namedentityrecognition": [("1–9", "label the selected text")],
    "categorization": [("1–9", "pick a category")],
    "videoannotation": [
        ("[ / ] (Shift: 10)", "previous / next frame"),
        ("1–9", "pick a label (relabels the selected track)"),
        ("N", "start a new track (then draw)"),
        ("Arrow keys (Shift: ×10)", "nudge the track's box here (a keyframe), or move the crosshair"),
        ("Space", "place a corner at the crosshair (two make a box)"),
        ("C", "copy the track's previous keyframe to this frame"),
        ("H", "the object is hidden from this frame to its next keyframe"),
        ("Delete or Backspace", "remove the track's keyframe on this frame"),
        ("Wheel, + / −, space-drag", "zoom, pan"),
    ],
    "textcollection": [],
}


def has_browser_tool(task_type: str, params: dict) -> bool:
    """Every task type has its tool; a video is given as frame images or as one file
    (``attachment`` + ``frame_count``, decoded in the browser)."""
    if task_type == "videoannotation":
        return bool(params.get("frames") or (params.get("attachment") and params.get("frame_count")))
    return task_type in TOOLS


def tool_context(task_type: str, data: dict, *, api_hint: str = "") -> dict:
    """What ``workspace/_tool.html`` and the page's scripts need for one task type's tool."""
    has_tool = has_browser_tool(task_type, data["params"])
    return {
        "task_type": task_type,
        "task_type_label": TaskType(task_type).label if task_type in TaskType.values else task_type,
        "has_tool": has_tool,
        "data": data,
        "api_hint": api_hint,
        "scripts": [f"annotation/tools/{name}" for name in TOOLS.get(task_type, [])] if has_tool else [],
    }


def lease_warning_seconds(lease_seconds: int) -> int:
    """How long before the lease runs out the page warns (``QUORUM_LEASE_WARNING_SECONDS``, at
    most half the lease)."""
    return max(5, min(settings.QUORUM_LEASE_WARNING_SECONDS, lease_seconds // 2))


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def annotator_page(view):
    """Signed in, with an annotator profile (else a readable 403 page); passes the annotator."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        annotator = selectors.annotator_for_user(user=request.user)
        return view(request, annotator, *args, **kwargs)

    return wrapper


def _json_error(error: DomainError) -> JsonResponse:
    return JsonResponse(error_body(error.code, error.message, error.details), status=error.status_code)


def _json_body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("The request body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.", code="invalid_json")
    version = body.get("claim_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationFailed(
            "claim_version: an integer is required.",
            code="invalid_request",
            details={"field": "claim_version"},
        )
    return body


# The project the annotator chose on the work page (kept in the session until they choose "any"):
# ``next`` claims only there; without a choice the platform's serving order applies.
CHOSEN_PROJECT = "workspace_project"


def _next_url(request: HttpRequest, annotator) -> str:
    """Claim the next task (or resume the live lease) in the chosen project, if any, and answer its
    page; the work page with a message when there is none."""
    chosen = request.session.get(CHOSEN_PROJECT)
    try:
        claim = services.assignment_claim(annotator=annotator, project_id=chosen, resume=True)
    except TooManyRequests as exc:
        messages.error(request, readable(exc.message))
        return reverse("workspace-home")
    if claim is None:
        if chosen:
            messages.info(
                request,
                "No task is waiting for you in the project you chose. Choose another below, "
                "or let Quorum choose for you.",
            )
        else:
            messages.info(request, "No task is available for you right now. Try again in a few minutes.")
        return reverse("workspace-home")
    return reverse("workspace-assignment", args=[claim.assignment.pk])


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency}"


def _work_row(row: dict, chosen: str | None) -> dict:
    """``work_selectors.available_projects``'s row, worded for the page."""
    pay = _money(row["pay_per_answer"], row["currency"])
    if row["pay_per_answer_min"] != row["pay_per_answer"]:
        pay = f"{_money(row['pay_per_answer_min'], row['currency'])} – {pay}"
    standing = row["standing"]
    if standing["status"] == "new":
        standing_text = "New to you"
    else:
        parts = [f"{standing['answers']} accepted"]
        if standing["gold_accuracy"] is not None:
            parts.append(f"gold accuracy {_percent(standing['gold_accuracy'])} %")
        if standing["agreement"] is not None:
            parts.append(f"agreement {_percent(standing['agreement'])} %")
        standing_text = "In good standing: " + ", ".join(parts)
    waiting = row["tasks_waiting"]
    return row | {
        "pay_text": pay,
        "standing_text": standing_text,
        "waiting_text": f"{waiting}+" if row["tasks_waiting_capped"] else str(waiting),
        "chosen": chosen == row["project"],
        "lease_minutes": max(1, round(row["lease_seconds"] / 60)),
    }


@require_GET
@annotator_page
def home(request, annotator):
    live = selectors.live_assignments_for_annotator(annotator=annotator)
    chosen = request.session.get(CHOSEN_PROJECT)
    work = (
        [_work_row(r, chosen) for r in work_selectors.available_projects(annotator=annotator)]
        if annotator.status == annotator.Status.ACTIVE
        else []
    )
    if chosen and not any(w["chosen"] for w in work):
        chosen = None  # no longer open to them: the platform's order applies again
        request.session.pop(CHOSEN_PROJECT, None)
    return render(
        request,
        "workspace/home.html",
        {
            "annotator": annotator,
            "live": live,
            "work": work,
            "chosen": next((w for w in work if w["chosen"]), None),
            "reviews": work_selectors.reviews_waiting(reviewer=annotator) if annotator.is_reviewer else None,
            "shortcuts": COMMON_SHORTCUTS,
        },
    )


@require_POST
@annotator_page
def next_task(request, annotator):
    """Start working: in the project the form names (remembered for the next tasks), in any
    project (``project=any`` forgets the choice), or as chosen before."""
    choice = request.POST.get("project")
    if choice == "any":
        request.session.pop(CHOSEN_PROJECT, None)
    elif choice:
        if not any(r["project"] == choice for r in work_selectors.available_projects(annotator=annotator)):
            messages.error(request, "That project is not open to you any more; choose another.")
            return redirect("workspace-home")
        request.session[CHOSEN_PROJECT] = choice
    return redirect(_next_url(request, annotator))


@require_GET
@annotator_page
def assignment_page(request, annotator, assignment_id):
    assignment = selectors.assignment_get_for_annotator(annotator=annotator, assignment_id=assignment_id)
    task = assignment.task
    now = timezone.now()
    ended = None
    if assignment.status != Assignment.Status.ACTIVE:
        ended = "This task is no longer yours to answer: it was " + assignment.status + "."
    elif assignment.leased_until <= now:
        ended = LEASE_MESSAGES["lease_expired"]
    data = {
        "assignment_id": str(assignment.pk),
        "claim_version": assignment.claim_version,
        "task_type": task.task_type,
        "params": task.params,
        "lease_seconds": assignment.project.lease_seconds,
        "leased_until": assignment.leased_until.isoformat(),
        "server_now": now.isoformat(),
        "lease_warning_seconds": lease_warning_seconds(assignment.project.lease_seconds),
        "initial": prelabels.workspace_hypothesis(task=task, project=assignment.project),
        "initial_source": "hypothesis",
        "urls": {
            "submit": reverse("workspace-submit", args=[assignment.pk]),
            "heartbeat": reverse("workspace-heartbeat", args=[assignment.pk]),
        },
    }
    return render(
        request,
        "workspace/assignment.html",
        {
            "assignment": assignment,
            "task": task,
            "instructions": assignment.project.instructions,
            "ended": ended,
            **tool_context(
                task.task_type, data, api_hint=f"POST /api/v1/work/assignments/{assignment.pk}/submit"
            ),
            "shortcuts": COMMON_SHORTCUTS + TOOL_SHORTCUTS.get(task.task_type, []),
        },
    )


@require_POST
@annotator_page
def submit(request, annotator, assignment_id):
    """JSON in (``claim_version``, ``answer``), JSON out: where to go next, or the error."""
    try:
        body = _json_body(request)
        services.assignment_submit(
            annotator=annotator,
            assignment_id=assignment_id,
            claim_version=body["claim_version"],
            answer=body.get("answer"),
        )
    except DomainError as exc:
        return _json_error(exc)
    messages.success(request, "Answer submitted.")
    return JsonResponse({"submitted": True, "next_url": _next_url(request, annotator)})


@require_POST
@annotator_page
def heartbeat(request, annotator, assignment_id):
    try:
        body = _json_body(request)
        assignment = services.assignment_heartbeat(
            annotator=annotator, assignment_id=assignment_id, claim_version=body["claim_version"]
        )
    except DomainError as exc:
        return _json_error(exc)
    return JsonResponse({"leased_until": assignment.leased_until.isoformat()})


def _give_back(service, verb: str):
    @require_POST
    @annotator_page
    def view(request, annotator, assignment_id):
        try:
            version = int(request.POST.get("claim_version", ""))
        except ValueError:
            messages.error(request, "The form was missing its claim version; reload the task and try again.")
            return redirect("workspace-home")
        try:
            service(annotator=annotator, assignment_id=assignment_id, claim_version=version)
        except Conflict as exc:
            messages.error(request, LEASE_MESSAGES.get(exc.code, exc.message))
            return redirect("workspace-home")
        if verb == "skipped":
            messages.success(request, "Task skipped; you will not be shown it again.")
            return redirect(_next_url(request, annotator))
        messages.success(request, "Task released back to the queue. You can start again whenever you like.")
        return redirect("workspace-home")

    view.__name__ = f"{verb}_view"
    return view


skip = _give_back(services.assignment_skip, "skipped")
release = _give_back(services.assignment_release, "released")


@require_GET
@annotator_page
def earnings(request, annotator):
    balances = billing_selectors.payable_balances(user_id=annotator.user_id)
    payouts = billing_selectors.payouts_for_user(user_id=annotator.user_id)
    submissions = selectors.submissions_for_annotator(annotator=annotator)
    return render(
        request,
        "workspace/earnings.html",
        {
            "annotator": annotator,
            "balances": sorted(balances.items()) or [("USD", 0)],
            "payouts": payouts,
            "submissions": submissions,
        },
    )


@require_GET
@annotator_page
def accuracy(request, annotator):
    counts = selectors.submission_counts_for_annotator(annotator=annotator)
    decided = counts["accepted"] + counts["rejected"]
    # Per project, without its name (it may name the client): the task type says what the work was.
    standings = [
        row
        | {
            "task_type": TaskType(row["task_type"]).label,
            "gold_accuracy": _percent(row["gold_accuracy"]),
            "agreement": _percent(row["agreement"]),
            "status": row["status"].capitalize(),
        }
        for row in quality_selectors.annotator_stats(annotator=annotator)
    ]
    return render(
        request,
        "workspace/accuracy.html",
        {
            "annotator": annotator,
            "counts": counts,
            "standings": standings,
            "acceptance": None if not decided else round(100 * counts["accepted"] / decided, 1),
        },
    )


urlpatterns = [
    path("", home, name="workspace-home"),
    path("next", next_task, name="workspace-next"),
    path("a/<str:assignment_id>/", assignment_page, name="workspace-assignment"),
    path("a/<str:assignment_id>/submit", submit, name="workspace-submit"),
    path("a/<str:assignment_id>/heartbeat", heartbeat, name="workspace-heartbeat"),
    path("a/<str:assignment_id>/skip", skip, name="workspace-skip"),
    path("a/<str:assignment_id>/release", release, name="workspace-release"),
    path("earnings/", earnings, name="workspace-earnings"),
    path("accuracy/", accuracy, name="workspace-accuracy"),
]
