"""The annotator workspace in a real browser (Chromium through Playwright, on the live server):
drawing boxes with the mouse, ranking responses by drag and drop, the lease kept alive by the
page, a refused answer shown next to the tool with the work kept, and an expired lease explained."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from annotation.models import Assignment, Submission
from tests.annotation.factories import AnnotatorFactory, BoxProjectFactory, ProjectFactory, TaskFactory
from tests.browser.conftest import login, make_user, screenshot

IMAGE = {"attachment": "/static/demo/street-01.png", "attachment_width": 640, "attachment_height": 360}


def annotator(email: str):
    return AnnotatorFactory(user=make_user(email))


def start_working(page, email: str):
    login(page, email)
    expect(page).to_have_url(re.compile(r"/work/$"))
    page.get_by_role("button", name="Start working").click()
    expect(page).to_have_url(re.compile(r"/work/a/[0-9a-f-]+/$"))
    expect(page.locator("#tool-root")).to_have_attribute("data-ready", "true")


def drag_on_canvas(page, canvas, view, start, end):
    """Drag from image pixel ``start`` to ``end`` with the mouse."""
    box = canvas.bounding_box()
    ratio = box["width"] / view["width"]

    def at(point):
        return box["x"] + (point[0] * view["scale"] + view["ox"]) * ratio, box["y"] + (
            point[1] * view["scale"] + view["oy"]
        ) * ratio

    page.mouse.move(*at(start))
    page.mouse.down()
    page.mouse.move(*at(end), steps=8)
    page.mouse.up()


def test_an_annotator_draws_two_boxes_with_the_mouse_and_submits(page):
    project = BoxProjectFactory(lease_seconds=600)
    task = TaskFactory(project=project, params={**project.params, **IMAGE})
    worker = annotator("boxes@example.test")

    start_working(page, "boxes@example.test")
    tool = page.locator("#tool-root")
    expect(tool).to_have_attribute("data-image-loaded", "true")
    canvas = page.get_by_test_id("image-canvas")
    view = page.evaluate(
        "() => { const v = Quorum.active.view; return {scale: v.scale, ox: v.ox, oy: v.oy, width: "
        "v.canvas.width}; }"
    )
    page.keyboard.press("1")  # car
    drag_on_canvas(page, canvas, view, (100, 80), (220, 200))
    page.get_by_role("radio", name="2 pedestrian").click()
    drag_on_canvas(page, canvas, view, (300, 100), (360, 300))
    expect(tool).to_have_attribute("data-shapes", "2")
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("box · pedestrian")
    screenshot(page, "two-boxes")
    page.get_by_role("button", name="Submit (Enter)").click()

    expect(page).to_have_url(re.compile(r"/work/$"))
    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    submission = Submission.objects.get()
    assert (submission.task_id, submission.annotator_id) == (task.pk, worker.pk)
    boxes = submission.answer["annotations"]
    assert [(b["type"], b["label"]) for b in boxes] == [("box", "car"), ("box", "pedestrian")]
    expected = [(100, 80, 120, 120), (300, 100, 60, 200)]
    for b, (left, top, width, height) in zip(boxes, expected, strict=True):
        # the mouse lands on whole screen pixels: within one screen pixel of the intended corner
        tolerance = 1.5 / view["scale"]
        assert abs(b["left"] - left) <= tolerance and abs(b["top"] - top) <= tolerance
        assert abs(b["width"] - width) <= 2 * tolerance and abs(b["height"] - height) <= 2 * tolerance
    screenshot(page, "submitted")


def test_another_annotator_ranks_two_responses_by_drag_and_drop_and_submits(page):
    responses = [
        {"id": "resp-a", "text": "Paris is the capital of France."},
        {"id": "resp-b", "text": "The capital of France is Paris, on the Seine."},
    ]
    params = {"prompt": "What is the capital of France?", "responses": responses, "mode": "ranking"}
    project = ProjectFactory(task_type="comparison", params={"mode": "ranking"}, lease_seconds=600)
    TaskFactory(project=project, params=params)
    AnnotatorFactory()  # someone else, who never sees this page
    worker = annotator("ranker@example.test")

    # The page's clock is Playwright's: the heartbeat is due when the test says so, not after some
    # seconds of real time during which a slow machine could let a short lease run out.
    page.clock.install()
    start_working(page, "ranker@example.test")
    assignment = Assignment.objects.get(annotator=worker)
    with page.expect_response(lambda r: r.url.endswith("/heartbeat") and r.status == 200):
        page.clock.run_for("03:20")  # a third of the lease: the page keeps the lease alive on its own
    assignment_after = Assignment.objects.get(pk=assignment.pk)
    assert assignment_after.leased_until > assignment.leased_until

    tool = page.locator("#tool-root")
    expect(tool).to_have_attribute("data-ranking", "resp-a,resp-b")
    page.drag_and_drop('[data-id="resp-b"]', '[data-id="resp-a"]')
    expect(tool).to_have_attribute("data-ranking", "resp-b,resp-a")
    expect(page.get_by_role("listitem").filter(has_text="Response B").first).to_have_attribute(
        "aria-label", "Rank 1: Response B"
    )
    # the keyboard path moves it back and forth again
    page.get_by_role("button", name="Move Response B down").click()
    expect(tool).to_have_attribute("data-ranking", "resp-a,resp-b")
    page.get_by_role("button", name="Move Response B up").click()
    expect(tool).to_have_attribute("data-ranking", "resp-b,resp-a")
    page.get_by_label("Justification (optional)").fill("B names the river too.")
    screenshot(page, "ranked")
    page.get_by_label("Justification (optional)").press("Control+Enter")

    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    submission = Submission.objects.get()
    assert submission.annotator_id == worker.pk
    assert submission.answer == {"ranking": ["resp-b", "resp-a"], "justification": "B names the river too."}


def test_a_refused_answer_is_shown_next_to_the_tool_and_the_work_is_kept(page):
    fields = [
        {"field_id": "summary", "type": "text", "title": "Summary", "required": True},
        {"field_id": "score", "type": "number", "title": "Score", "min": 0, "max": 10},
    ]
    project = ProjectFactory(task_type="textcollection", params={"fields": fields})
    TaskFactory(
        project=project,
        params={"fields": fields, "attachments": [{"type": "text", "content": "A long article."}]},
    )
    annotator("forms@example.test")

    start_working(page, "forms@example.test")
    page.get_by_label("Summary (required)").fill("Short and clear.")
    page.get_by_label("Score").fill("12")
    page.get_by_role("button", name="Submit (Enter)").click()

    error = page.locator("#tool-error")
    expect(error).to_contain_text("Not saved: annotations.score: 12 is greater than the maximum of 10")
    expect(page.get_by_label("Summary (required)")).to_have_value("Short and clear.")
    screenshot(page, "refused")
    assert not Submission.objects.exists()
    page.get_by_label("Score").fill("9")
    page.get_by_role("button", name="Submit (Enter)").click()
    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    assert Submission.objects.get().answer == {"annotations": {"summary": "Short and clear.", "score": 9}}


def test_a_submit_after_the_lease_expired_shows_the_message_and_a_way_on(page):
    project = ProjectFactory(params={"categories": ["car", "truck"]})
    TaskFactory(
        project=project,
        params={"categories": ["car", "truck"], "attachment": "A red hatchback", "attachment_type": "text"},
    )
    worker = annotator("late@example.test")

    start_working(page, "late@example.test")
    Assignment.objects.filter(annotator=worker).update(leased_until=timezone.now() - timedelta(seconds=1))
    page.keyboard.press("1")
    expect(page.get_by_role("radio", name="1 · car")).to_have_attribute("aria-checked", "true")
    page.keyboard.press("Enter")

    message = page.locator("#lease-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("Your lease on this task expired")
    expect(page.get_by_role("button", name="Get the next task")).to_be_focused()
    expect(page.get_by_role("button", name="Submit (lease ended)")).to_be_disabled()
    screenshot(page, "lease-expired")
    assert not Submission.objects.exists()


def test_a_submit_after_signing_out_says_so_and_keeps_the_work(page):
    project = ProjectFactory(params={"categories": ["car", "truck"]})
    TaskFactory(
        project=project,
        params={"categories": ["car", "truck"], "attachment": "A red hatchback", "attachment_type": "text"},
    )
    annotator("signedout@example.test")

    start_working(page, "signedout@example.test")
    page.context.clear_cookies()  # the session ended (signed out in another tab, or it expired)
    page.get_by_role("radio", name="2 · truck").click()
    page.get_by_role("button", name="Submit (Enter)").click()

    expect(page.locator("#tool-error")).to_contain_text("Not saved: you are signed out.")
    expect(page.get_by_role("radio", name="2 · truck")).to_have_attribute("aria-checked", "true")
    assert not Submission.objects.exists()
