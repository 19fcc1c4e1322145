"""The portal's project settings page (members and up): instructions, labels and params (a JSON
object, validated as the API validates it), answers per task, priority, deadline, quality
settings, price, pay and budget, through ``services.project_update`` (as
``PATCH /api/v1/projects/{id}``); below the form, who changed what and when, and every version of
the labels/params and instructions (``portal_selectors.project_history``).

Only what changed is sent. Answers per task, labels/params, price and pay apply to tasks created
afterwards (a task keeps what it was created with); the rest is read live and applies at once. A
refused change is shown on the form, with what was typed kept, and changes nothing."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation import selectors, services
from annotation.models import Project
from annotation.services.projects import QUALITY_FIELDS
from annotation.web import portal_selectors
from annotation.web.portal import minor_units
from billing import selectors as billing_selectors
from clients.web.access import WRITE, client_page, page_membership
from clients.web.errors import form_error, readable
from core.errors import DomainError

MONEY_FIELDS = ("price_per_task", "pay_per_answer", "budget")
# Settings that tasks copy when they are created; the others are read live.
NEW_TASKS_ONLY = ("overlap", "params", "price_per_task", "pay_per_answer")


def _money_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        required=False, min_value=0, decimal_places=2, max_digits=12, label=label, help_text=help_text
    )


def _share_field(label: str, help_text: str) -> forms.FloatField:
    return forms.FloatField(min_value=0, max_value=1, label=label, help_text=help_text)


class ParamsField(forms.CharField):
    """A JSON object typed in a text area; shown indented."""

    widget = forms.Textarea(attrs={"rows": 10, "spellcheck": "false"})

    def prepare_value(self, value):
        return json.dumps(value, indent=2, ensure_ascii=False) if isinstance(value, dict) else value

    def to_python(self, value):
        text = super().to_python(value)
        try:
            parsed = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not valid JSON: {exc.msg.lower()} at line {exc.lineno}, column {exc.colno}."
            ) from exc
        if not isinstance(parsed, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"categories": ["car", "bus"]}.')
        return parsed


class ProjectSettingsForm(forms.Form):
    """The project's settings a member may change (the page says which apply to new tasks only)."""

    instructions = forms.CharField(widget=forms.Textarea, required=False, strip=False, max_length=100_000)
    params = ParamsField(
        required=False,
        label="Labels and params (JSON)",
        help_text="The label schema and per-task defaults, as a JSON object; new tasks take them. "
        "Every change is kept as a new version (listed below).",
    )
    overlap = forms.IntegerField(min_value=1, max_value=50, label="Answers per task")
    max_overlap = forms.IntegerField(
        min_value=1,
        max_value=50,
        label="Most answers per task",
        help_text="With low agreement a task asks for more answers, up to this many.",
    )
    priority = forms.IntegerField(
        min_value=-100, max_value=100, help_text="Higher is served first, among your projects (-100 to 100)."
    )
    deadline = forms.DateTimeField(
        required=False,
        label="Deadline (optional)",
        help_text="UTC, e.g. 2027-01-31 18:00. Shown here and to operators; priority decides what is served "
        "first.",
        error_messages={"invalid": "Enter a date and time such as 2027-01-31 18:00."},
    )
    consensus_method = forms.ChoiceField(
        choices=Project.Consensus.choices, label="Consensus", help_text="How answers are combined."
    )
    confidence_threshold = _share_field(
        "Confidence threshold",
        "Below this agreement (0 to 1) a task asks for one more answer, up to the most answers; 0: never.",
    )
    gold_ratio = _share_field("Gold share", "Share of each annotator's tasks that are gold tasks (0 to 1).")
    gold_min_answers = forms.IntegerField(
        min_value=1, max_value=1000, label="Gold answers before judging", help_text="1 to 1,000."
    )
    gold_accuracy_threshold = _share_field(
        "Gold accuracy threshold", "Annotators below this gold accuracy (0 to 1) leave the project; 0: never."
    )
    review_enabled = forms.BooleanField(required=False, label="Review answers before tasks complete")
    review_share = _share_field(
        "Review share", "Share of tasks (0 to 1) a reviewer checks, besides doubtful ones."
    )
    min_answer_ms = forms.IntegerField(
        min_value=0,
        max_value=3_600_000,
        label="Fastest honest answer (ms)",
        help_text="Faster answers are flagged and not counted; 0: no minimum.",
    )
    fraud_flag_limit = forms.IntegerField(
        min_value=0, max_value=1000, label="Flags before suspension", help_text="0: never suspend."
    )
    serving_order = forms.ChoiceField(choices=Project.ServingOrder.choices, label="Serving order")
    show_hypothesis = forms.BooleanField(required=False, label="Show pre-labels to annotators")
    price_per_task = _money_field("Price per task", "In your currency; empty: the rate card's.")
    pay_per_answer = _money_field("Pay per answer", "Paid for each accepted answer; empty: the rate card's.")
    budget = _money_field("Budget", "Cap on committed spend; empty: no budget.")


GROUPS = [
    ("Work", ["instructions", "params", "overlap", "max_overlap", "priority", "deadline"]),
    ("Quality", list(QUALITY_FIELDS)),
    ("Price", list(MONEY_FIELDS)),
]


def _in_units(minor: int | None):
    return None if minor is None else f"{minor / 100:.2f}"


def _to_second(moment):
    return None if moment is None else moment.replace(microsecond=0)


def _settings_now(project, budget) -> dict:
    return {
        "instructions": project.instructions,
        "params": project.params,
        "overlap": project.overlap,
        "max_overlap": project.max_overlap,
        "priority": project.priority,
        "deadline": _to_second(project.deadline),
        **{field: getattr(project, field) for field in QUALITY_FIELDS},
        "price_per_task": project.price_per_task,
        "pay_per_answer": project.pay_per_answer,
        "budget": budget,
    }


@require_http_methods(["GET", "POST"])
@client_page()
def project_settings(request, client, project_id):
    page_membership(request, WRITE)
    project = selectors.project_get_for_client(client=client, project_id=project_id)
    budget = billing_selectors.project_budget(client=client, project_id=project.id)["budget"]
    current = _settings_now(project, budget)
    initial = {k: (_in_units(v) if k in MONEY_FIELDS else v) for k, v in current.items()}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        wanted = {k: (minor_units(v) if k in MONEY_FIELDS else v) for k, v in form.cleaned_data.items()}
        wanted["instructions"] = wanted["instructions"] or ""
        wanted["deadline"] = _to_second(wanted["deadline"])
        changes = {k: v for k, v in wanted.items() if v != current[k]}
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("portal-project-settings", project_id=project.id)
        try:
            services.project_update(client=client, actor=request.user, project_id=project.id, changes=changes)
        except DomainError as exc:
            field = exc.details.get("field") if isinstance(exc.details, dict) else None
            if isinstance(field, str) and field.startswith(("params.", "params[")):
                form.add_error("params", readable(exc.message))  # a key inside the JSON
            else:
                form_error(form, exc)
        else:
            names = ", ".join(form.fields[k].label or k.replace("_", " ") for k in changes)
            messages.success(
                request,
                f"Saved ({names.lower()}). "
                + (
                    "New tasks take answers per task, labels and params, price and pay from now on; "
                    "tasks already created keep theirs."
                    if changes.keys() & set(NEW_TASKS_ONLY)
                    else "These apply at once, to open tasks too."
                ),
            )
            return redirect("portal-project-settings", project_id=project.id)
    margin, source = services.project_prices(
        client=client,
        task_type=project.task_type,
        price_per_task=project.price_per_task,
        pay_per_answer=project.pay_per_answer,
        answers=project.max_overlap,
    )
    return render(
        request,
        "portal/project_settings.html",
        {
            "project": project,
            "form": form,
            "groups": [(title, [form[name] for name in names]) for title, names in GROUPS],
            "margin": margin,
            "source": source,
            "currency": client.currency,
            "history": portal_selectors.project_history(project=project),
        },
        status=400 if request.method == "POST" else 200,
    )
