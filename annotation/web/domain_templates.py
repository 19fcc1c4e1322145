"""Domain templates for a new project: predefined params for the existing task types, so a
client starts from a working label schema ("2D boxes: vehicles, pedestrians, cyclists, traffic
lights") instead of a blank JSON document. Each template's params pass the task type's project
schema (``tasktypes.check_project_params``); ``tests/web`` checks every one.

A template with a label list may take the client's own labels in its place (``labels``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from annotation.models import Domain, TaskType


@dataclass(frozen=True)
class DomainTemplate:
    key: str
    title: str
    description: str
    task_type: str
    domain: str
    params: dict
    instructions: str
    overlap: int = 1
    label_path: tuple[str, ...] = ()  # where the label list sits in params (empty: no labels to replace)
    upload_hint: str = ""  # what a row of the upload file holds for this template
    example_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        node: Any = self.params
        for part in self.label_path:
            node = node[part]
        return list(node) if self.label_path else []

    def params_with(self, labels: list[str] | None) -> dict:
        params = copy.deepcopy(self.params)
        if labels and self.label_path:
            node = params
            for part in self.label_path[:-1]:
                node = node[part]
            node[self.label_path[-1]] = labels
        return params


IMAGE_ROW = "attachment (an image URL), optional attachment_width / attachment_height in pixels"
TEMPLATES: list[DomainTemplate] = [
    DomainTemplate(
        key="av-2d-boxes",
        title="2D boxes: vehicles, pedestrians, cyclists, traffic lights",
        description="Camera frames; a tight box around every road user and traffic light.",
        task_type=TaskType.IMAGE_ANNOTATION,
        domain=Domain.AUTONOMOUS_DRIVING,
        params={
            "geometries": {
                "box": {
                    "objects_to_annotate": ["vehicle", "pedestrian", "cyclist", "traffic_light"],
                    "min_width": 4,
                    "min_height": 4,
                }
            }
        },
        instructions="Draw a tight box around every vehicle, pedestrian, cyclist and traffic light of at "
        "least 4x4 pixels. Box the visible part of partly hidden objects.",
        overlap=2,
        label_path=("geometries", "box", "objects_to_annotate"),
        upload_hint=IMAGE_ROW,
    ),
    DomainTemplate(
        key="av-polygons",
        title="Polygons: drivable area and lane markings",
        description="Camera frames; polygons around drivable road, lines along lane markings.",
        task_type=TaskType.IMAGE_ANNOTATION,
        domain=Domain.AUTONOMOUS_DRIVING,
        params={
            "geometries": {
                "polygon": {"objects_to_annotate": ["drivable_area", "sidewalk"]},
                "line": {"objects_to_annotate": ["lane_marking", "curb"]},
            }
        },
        instructions="Outline the drivable road surface and the sidewalk with polygons; trace lane markings "
        "and curbs with lines.",
        overlap=2,
        label_path=("geometries", "polygon", "objects_to_annotate"),
        upload_hint=IMAGE_ROW,
    ),
    DomainTemplate(
        key="av-lidar-cuboids",
        title="3D cuboids on LiDAR",
        description="Point-cloud frames; a 3D cuboid (centre, size, yaw) around every road user.",
        task_type=TaskType.LIDAR_ANNOTATION,
        domain=Domain.AUTONOMOUS_DRIVING,
        params={"labels": ["car", "truck", "pedestrian", "cyclist"]},
        instructions="Place a cuboid around every car, truck, pedestrian and cyclist; keep the same uuid "
        "across frames.",
        overlap=2,
        label_path=("labels",),
        upload_hint='frames (JSON list of {"url": …, "timestamp": …})',
    ),
    DomainTemplate(
        key="genai-pairwise",
        title="Pairwise preference (RLHF)",
        description="Two model responses to one prompt; pick the better one on a 7-point scale and say why.",
        task_type=TaskType.COMPARISON,
        domain=Domain.GENERATIVE_AI,
        params={"mode": "pairwise", "likert_scale": 7, "require_justification": True},
        instructions="Read the prompt and both responses. Choose the more helpful, honest and harmless one, "
        "rate how strongly, and justify your choice in one or two sentences.",
        overlap=3,
        upload_hint='prompt, responses (JSON list of two {"id": …, "text": …})',
    ),
    DomainTemplate(
        key="genai-ranking",
        title="Response ranking",
        description="Several model responses to one prompt; drag them into order, best first.",
        task_type=TaskType.COMPARISON,
        domain=Domain.GENERATIVE_AI,
        params={"mode": "ranking"},
        instructions="Rank the responses from best to worst for helpfulness and correctness.",
        overlap=3,
        upload_hint='prompt, responses (JSON list of {"id": …, "text": …})',
    ),
    DomainTemplate(
        key="genai-sft",
        title="SFT demonstrations",
        description="A prompt; the annotator writes the ideal assistant answer.",
        task_type=TaskType.TEXT_COLLECTION,
        domain=Domain.GENERATIVE_AI,
        params={
            "fields": [
                {
                    "field_id": "demonstration",
                    "type": "text",
                    "title": "The ideal assistant response",
                    "required": True,
                    "max_length": 20000,
                }
            ]
        },
        instructions="Write the response an expert, careful assistant would give. Be correct, complete and "
        "concise.",
        upload_hint='attachments (JSON list of {"type": "text", "content": the prompt})',
    ),
    DomainTemplate(
        key="genai-rubric",
        title="Rubric rating",
        description="A prompt and a response; rate them on a 1–5 rubric and name the main problem.",
        task_type=TaskType.TEXT_COLLECTION,
        domain=Domain.GENERATIVE_AI,
        params={
            "fields": [
                {
                    "field_id": "overall",
                    "type": "rating",
                    "title": "Overall quality",
                    "required": True,
                    "scale": 5,
                    "rubric": [
                        {"score": 1, "description": "wrong or harmful"},
                        {"score": 3, "description": "partly right"},
                        {"score": 5, "description": "correct, complete and clear"},
                    ],
                },
                {
                    "field_id": "problem",
                    "type": "category",
                    "title": "Main problem",
                    "required": True,
                    "choices": ["none", "incorrect", "incomplete", "unsafe", "off_topic"],
                },
            ]
        },
        instructions="Rate the response against the rubric and choose its main problem (none if it has "
        "none).",
        overlap=3,
        upload_hint='attachments (JSON list of {"type": "text", "content": …})',
    ),
    DomainTemplate(
        key="genai-categorization",
        title="Answer quality categories",
        description="A prompt and an answer; one category each (helpful, unhelpful, harmful).",
        task_type=TaskType.CATEGORIZATION,
        domain=Domain.GENERATIVE_AI,
        params={"categories": ["helpful", "unhelpful", "harmful"]},
        instructions="helpful: correct and answers the question. unhelpful: wrong or vague but not "
        "dangerous. harmful: could hurt the user or others if followed.",
        overlap=3,
        label_path=("categories",),
        upload_hint="attachment (the text, or an image URL), attachment_type (text or image)",
    ),
    DomainTemplate(
        key="text-ner",
        title="Named entities",
        description="A text; mark the spans of people, organizations and places.",
        task_type=TaskType.NAMED_ENTITY_RECOGNITION,
        domain=Domain.OTHER,
        params={"labels": ["PERSON", "ORG", "LOC"]},
        instructions="Select every mention of a person, an organization or a place, and give it its label.",
        overlap=2,
        label_path=("labels",),
        upload_hint="text",
    ),
]
BY_KEY = {template.key: template for template in TEMPLATES}
