"""Issue 15 in a real browser: the image tool's rotated boxes, cuboids, handles, attributes, undo and
a keyboard-only path checked with axe-core; a video given as one file decoded in the browser with
keyframe interpolation; pre-labels corrected; a reviewer's fix with the tool; the lease warning.

axe-core (MPL-2.0) is vendored in ``tests/browser/assets/axe-core/`` with its licence and injected
into the page under test; every rule of its default set must pass."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotation import services
from annotation.models import Assignment, Review, Submission
from tests.annotation.factories import AnnotatorFactory, ProjectFactory, TaskFactory
from tests.browser.conftest import login, make_user, screenshot
from tests.browser.test_workspace import IMAGE, annotator, drag_on_canvas, start_working

AXE = Path(__file__).resolve().parent / "assets" / "axe-core" / "axe.min.js"
VIEW = (
    "() => { const v = Quorum.active.view; "
    "return {scale: v.scale, ox: v.ox, oy: v.oy, width: v.canvas.width}; }"
)


def axe_violations(page) -> list[dict]:
    """Run axe-core's default rules on the page; the violations, each with its nodes' targets.

    axe is evaluated through the DevTools protocol, not added as a ``<script>``: the page's
    Content-Security-Policy refuses inline scripts (a test tool must not need a hole in it), and
    ``add_script_tag`` injects the file's text inline."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(
        """async () => {
        const result = await axe.run(document);
        return result.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
    }"""
    )


def screen_point(page, canvas, view, point):
    box = canvas.bounding_box()
    ratio = box["width"] / view["width"]
    return box["x"] + (point[0] * view["scale"] + view["ox"]) * ratio, box["y"] + (
        point[1] * view["scale"] + view["oy"]
    ) * ratio


def submitted_answer(page, button="Submit (Enter)"):
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    return Submission.objects.get().answer


IMAGE_PARAMS = {
    "geometries": {
        "box": {"objects_to_annotate": ["car", "pedestrian"], "can_rotate": True},
        "cuboid": {"objects_to_annotate": ["truck"]},
    },
    "annotation_attributes": {
        "occluded": {"type": "category", "description": "Occluded?", "choices": ["no", "partly", "mostly"]},
        "lights": {
            "type": "category",
            "description": "Lights on",
            "choices": ["head", "brake", "hazard"],
            "allow_multiple": True,
            "conditions": {"label_condition": {"label": ["car", "truck"]}},
        },
    },
}


def image_task(**task):
    project = ProjectFactory(task_type="imageannotation", params=IMAGE_PARAMS, lease_seconds=900)
    return TaskFactory(project=project, params={**IMAGE_PARAMS, **IMAGE}, **task)


def test_image_box_is_drawn_resized_rotated_undone_and_a_cuboid_drawn(page):
    image_task()
    annotator("resize@example.test")
    start_working(page, "resize@example.test")
    expect(page.locator("#tool-root")).to_have_attribute("data-image-loaded", "true")
    canvas = page.get_by_test_id("image-canvas")
    v = page.evaluate(VIEW)

    drag_on_canvas(page, canvas, v, (100, 100), (200, 180))  # a car box, selected once drawn
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "1")
    # resize: drag the bottom-right corner handle from (200, 180) to (260, 220)
    drag_on_canvas(page, canvas, v, (200, 180), (260, 220))
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("box · car · 160×120")
    # move the top-left edge handle on the left edge: the right edge stays
    drag_on_canvas(page, canvas, v, (100, 160), (120, 160))
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("box · car · 140×120")
    page.keyboard.press("Control+z")  # undo the left-edge move
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("box · car · 160×120")
    page.keyboard.press("Control+Shift+z")  # and redo it
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("box · car · 140×120")
    page.keyboard.press("v")
    for _ in range(3):
        page.keyboard.press("r")  # +15°
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("15°")
    screenshot(page, "rotated-box")

    page.keyboard.press("c")  # cuboid: drag the front face, then click where the far face sits
    drag_on_canvas(page, canvas, v, (350, 120), (450, 200))
    page.mouse.click(*screen_point(page, canvas, v, (480, 180)))
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "2")
    screenshot(page, "cuboid")

    answer = submitted_answer(page)
    box, cuboid = answer["annotations"]
    tol = 2 / v["scale"]
    assert (box["type"], box["label"]) == ("box", "car")
    assert abs(box["left"] - 120) <= tol and abs(box["top"] - 100) <= tol
    assert abs(box["width"] - 140) <= 2 * tol and abs(box["height"] - 120) <= 2 * tol
    assert abs(box["rotation"] - 3 * np.pi / 36) < 1e-5
    assert (cuboid["type"], cuboid["label"]) == ("cuboid", "truck")
    face, far = cuboid["vertices"][:4], cuboid["vertices"][4:]
    assert [p["type"] for p in cuboid["vertices"]] == ["face"] * 4 + ["side"] * 4
    for (x, y), p in zip([(350, 120), (450, 120), (450, 200), (350, 200)], face, strict=True):
        assert abs(p["x"] - x) <= tol and abs(p["y"] - y) <= tol
    for near, back in zip(face, far, strict=True):  # the far face is the front face moved by (30, -20)
        assert abs(back["x"] - near["x"] - 30) <= 2 * tol and abs(back["y"] - near["y"] + 20) <= 2 * tol


def test_image_attributes_follow_the_label_conditions(page):
    image_task()
    annotator("attrs@example.test")
    start_working(page, "attrs@example.test")
    expect(page.locator("#tool-root")).to_have_attribute("data-image-loaded", "true")
    canvas = page.get_by_test_id("image-canvas")
    v = page.evaluate(VIEW)

    page.keyboard.press("2")  # pedestrian: "Lights on" applies only to cars and trucks
    drag_on_canvas(page, canvas, v, (300, 100), (340, 200))
    attributes = page.get_by_role("region", name="Attributes of the selected shape")
    expect(attributes.get_by_label("Occluded?")).to_be_visible()
    expect(attributes.get_by_text("Lights on")).to_have_count(0)
    attributes.get_by_label("Occluded?").select_option("partly")
    page.keyboard.press("1")  # car
    drag_on_canvas(page, canvas, v, (80, 80), (200, 160))
    attributes.get_by_label("head").check()
    attributes.get_by_label("hazard").check()
    attributes.get_by_label("Occluded?").select_option("no")
    screenshot(page, "attributes")
    # relabel the car as a pedestrian: the lights no longer apply and are dropped
    page.keyboard.press("v")
    page.keyboard.press("2")
    expect(attributes.get_by_text("Lights on")).to_have_count(0)
    page.keyboard.press("Control+z")  # undo the relabel: the lights come back
    expect(attributes.get_by_label("hazard")).to_be_checked()

    answer = submitted_answer(page)
    pedestrian, car = answer["annotations"]
    assert (pedestrian["label"], pedestrian["attributes"]) == ("pedestrian", {"occluded": "partly"})
    assert (car["label"], car["attributes"]) == ("car", {"lights": ["head", "hazard"], "occluded": "no"})


def test_the_image_tool_works_with_the_keyboard_alone_and_passes_axe(page):
    image_task()
    annotator("keys@example.test")
    start_working(page, "keys@example.test")
    expect(page.locator("#tool-root")).to_have_attribute("data-image-loaded", "true")
    violations = axe_violations(page)
    assert violations == [], violations

    canvas = page.get_by_test_id("image-canvas")
    canvas.focus()  # a keyboard user reaches it with Tab; focus it directly to keep the test short
    expect(canvas).to_be_focused()
    page.keyboard.press("b")  # box tool; the crosshair starts at the image's centre (320, 180)
    for _ in range(10):
        page.keyboard.press("Shift+ArrowLeft")  # (220, 180)
    page.keyboard.press("Space")
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("ArrowDown")  # (270, 211)
    page.keyboard.press("Space")
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "1")
    screenshot(page, "keyboard-box")
    # select mode: the box is selected; nudge it, then resize it by its bottom-right handle
    page.keyboard.press("v")
    page.keyboard.press("]")
    page.keyboard.press("Shift+ArrowRight")  # moved 10 px right: left 230
    page.keyboard.press("h")  # handles in order: top-left, top, top-right, right, bottom-right…
    page.keyboard.press("h")
    page.keyboard.press("h")
    page.keyboard.press("h")
    page.keyboard.press("h")  # bottom-right
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # 2 px wider
    page.keyboard.press("Escape")
    # a cuboid: front face by two points, the far face's offset by a third
    page.keyboard.press("c")
    page.keyboard.press("Space")  # the crosshair is still at (270, 211)
    for _ in range(4):
        page.keyboard.press("Shift+ArrowRight")
    for _ in range(4):
        page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Space")  # front face to (310, 251)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowUp")
    page.keyboard.press("Space")  # far face offset (10, -10)
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "2")
    violations = axe_violations(page)  # with shapes, the attribute form and the status line shown
    assert violations == [], violations
    screenshot(page, "keyboard-done")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    box, cuboid = Submission.objects.get().answer["annotations"]
    assert (box["left"], box["top"], box["width"], box["height"], box["rotation"]) == (230, 180, 52, 31, 0)
    assert [(p["x"], p["y"]) for p in cuboid["vertices"]] == [
        (270, 211),
        (310, 211),
        (310, 251),
        (270, 251),
        (280, 201),
        (320, 201),
        (320, 241),
        (280, 241),
    ]


def write_video(path: Path, frames: int, size=(160, 96), fps: int = 10) -> list[tuple[int, int, int]]:
    """A VP8 WebM whose frame i is one flat colour (returned), so the test can tell the frames apart."""
    av = pytest.importorskip("av", reason="PyAV is in requirements-dev.txt")
    colours = [(32 + (i * 53) % 192, 32 + (i * 97) % 192, 32 + (i * 151) % 192) for i in range(frames)]
    container = av.open(str(path), "w")
    stream = container.add_stream("libvpx", rate=fps)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
    stream.options = {"crf": "4", "b": "2M"}
    for colour in colours:
        pixels = np.zeros((size[1], size[0], 3), np.uint8)
        pixels[:] = colour
        for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return colours


def serve_with_ranges(path: Path):
    """A route handler serving ``path`` as a file server does (S3, nginx): byte ranges answered
    206, which the browser needs to seek in a video."""
    body = path.read_bytes()

    def handler(route):
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", route.request.headers.get("range", ""))
        headers = {"Content-Type": "video/webm", "Accept-Ranges": "bytes"}
        if not wanted:
            route.fulfill(status=200, headers=headers, body=body)
            return
        start = int(wanted.group(1))
        end = min(int(wanted.group(2) or len(body) - 1), len(body) - 1)
        headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
        route.fulfill(status=206, headers=headers, body=body[start : end + 1])

    return handler


def test_a_video_file_is_decoded_in_the_browser_and_box_tracks_interpolate(page, tmp_path):
    colours = write_video(tmp_path / "clip.webm", frames=20)
    page.route("**/media/clip.webm", serve_with_ranges(tmp_path / "clip.webm"))
    params = {"labels": ["car"], "attachment": "/media/clip.webm", "frame_count": 20}
    TaskFactory(
        project=ProjectFactory(task_type="videoannotation", params={"labels": ["car"]}), params=params
    )
    annotator("film@example.test")

    start_working(page, "film@example.test")
    tool = page.locator("#tool-root")
    expect(tool).to_have_attribute("data-frame-loaded", "0")
    canvas = page.get_by_test_id("video-canvas")
    v = page.evaluate(VIEW)

    def colour_at_centre():
        x, y = screen_point(page, canvas, v, (20, 20))
        box = canvas.bounding_box()
        ratio = v["width"] / box["width"]
        return page.evaluate(
            "([x, y]) => Array.from(Quorum.active.view.canvas.getContext('2d').getImageData(x, y, 1, "
            "1).data.slice(0, 3))",
            [round((x - box["x"]) * ratio), round((y - box["y"]) * ratio)],
        )

    def frame_shown():
        """The frame whose colour is nearest the canvas's pixel (they differ by far more than the
        codec's error)."""
        got = colour_at_centre()
        return min(
            range(len(colours)), key=lambda i: sum((a - b) ** 2 for a, b in zip(got, colours[i], strict=True))
        )

    assert frame_shown() == 0
    drag_on_canvas(page, canvas, v, (40, 20), (80, 60))  # keyframe on frame 0
    page.keyboard.press("Shift+]")  # frame 10
    expect(tool).to_have_attribute("data-frame-loaded", "10")
    assert frame_shown() == 10  # really frame 10, decoded by the browser
    page.keyboard.press("ArrowRight")  # the track has no box here yet: the crosshair moves instead
    drag_on_canvas(page, canvas, v, (100, 40), (140, 80))  # keyframe on frame 10
    page.keyboard.press("Shift+[")
    for _ in range(5):
        page.keyboard.press("]")  # frame 5: interpolated, drawn dashed
    expect(tool).to_have_attribute("data-frame-loaded", "5")
    assert frame_shown() == 5
    expect(page.get_by_role("list", name="Tracks")).to_contain_text("interpolated here")
    screenshot(page, "interpolated-frame-5")

    answer = submitted_answer(page)
    (track,) = answer["annotations"]
    frames = track["frames"]
    assert [f["frame"] for f in frames] == list(range(11))
    assert [bool(f.get("interpolated")) for f in frames] == [False] + [True] * 9 + [False]
    first, last = frames[0], frames[10]
    for f in frames[1:10]:
        t = f["frame"] / 10
        for key in ("left", "top", "width", "height"):
            assert abs(f[key] - (first[key] + (last[key] - first[key]) * t)) <= 0.01
    assert abs(first["left"] - 40) < 2 and abs(last["left"] - 100) < 2


def test_pre_labels_are_the_starting_state_and_the_correction_is_the_answer(page):
    hypothesis = {
        "annotations": [
            {
                "uuid": "model-1",
                "type": "box",
                "label": "car",
                "left": 100,
                "top": 100,
                "width": 100,
                "height": 60,
            },
            {
                "uuid": "model-2",
                "type": "box",
                "label": "car",
                "left": 400,
                "top": 200,
                "width": 50,
                "height": 50,
            },
        ]
    }
    task = image_task(hypothesis=hypothesis)
    annotator("prelabel@example.test")

    start_working(page, "prelabel@example.test")
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "2")
    expect(page.locator(".qw-status")).to_contain_text("Starting from 2 pre-labels")
    expect(page.get_by_role("list", name="Shapes drawn")).to_contain_text("pre-label")
    screenshot(page, "pre-labels")
    canvas = page.get_by_test_id("image-canvas")
    v = page.evaluate(VIEW)
    page.keyboard.press("v")
    page.mouse.click(*screen_point(page, canvas, v, (425, 225)))  # the model's false positive
    page.keyboard.press("Delete")
    drag_on_canvas(page, canvas, v, (150, 130), (160, 130))  # move the other 10 px right
    page.keyboard.press("2")  # and relabel it: it was a pedestrian
    screenshot(page, "corrected")

    answer = submitted_answer(page)
    (box,) = answer["annotations"]
    assert (box["uuid"], box["label"]) == ("model-1", "pedestrian")
    assert abs(box["left"] - 110) <= 2 / v["scale"] and box["width"] == 100
    task.refresh_from_db()
    assert task.hypothesis == hypothesis  # kept as sent, for the quality figures


def test_a_reviewer_fixes_an_answer_with_the_image_tool(page):
    params = {"geometries": {"box": {"objects_to_annotate": ["car", "pedestrian"]}}}
    project = ProjectFactory(
        task_type="imageannotation", params=params, overlap=2, review_enabled=True, review_share=1.0
    )
    task = TaskFactory(project=project, params={**params, **IMAGE})
    answers = [
        {
            "annotations": [
                {"type": "box", "label": "car", "left": 60, "top": 40, "width": 200, "height": 120}
            ]
        },
        {
            "annotations": [
                {"type": "box", "label": "car", "left": 70, "top": 50, "width": 190, "height": 110},
                {"type": "box", "label": "pedestrian", "left": 400, "top": 100, "width": 40, "height": 100},
            ]
        },
    ]
    for answer in answers:
        worker = AnnotatorFactory()
        claim = services.assignment_claim(annotator=worker)
        services.assignment_submit(
            annotator=worker,
            assignment_id=claim.assignment.pk,
            claim_version=claim.assignment.claim_version,
            answer=answer,
        )
    AnnotatorFactory(user=make_user("fixer@example.test"), is_reviewer=True)

    login(page, "fixer@example.test")
    expect(page.get_by_test_id("reviews-waiting")).to_have_text("1")
    page.get_by_role("link", name="Open the review queue").click()
    page.get_by_role("button", name="Start reviewing").click()
    expect(page).to_have_url(re.compile(r"/work/review/[0-9a-f-]+/$"))
    expect(page.locator("[data-readonly-answer]")).to_have_count(3)  # two answers and the consensus
    for frame in page.locator("[data-readonly-answer]").all():
        expect(frame).to_have_attribute("data-ready", "true")
    expect(page.get_by_role("list", name="Shapes of the answer 2")).to_contain_text("box · pedestrian")
    page.get_by_role("button", name="Edit from answer 2").click()
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "2")
    expect(page.locator("#tool-root")).to_have_attribute("data-image-loaded", "true")
    canvas = page.get_by_test_id("image-canvas")
    v = page.evaluate(VIEW)
    page.keyboard.press("v")
    page.mouse.click(*screen_point(page, canvas, v, (420, 150)))
    page.keyboard.press("Delete")  # not a pedestrian
    page.mouse.click(*screen_point(page, canvas, v, (165, 105)))  # select the car
    drag_on_canvas(page, canvas, v, (260, 160), (270, 170))  # the car's bottom-right corner, 10 px out
    page.get_by_label("Comment for the record (optional)").fill("Only the car; its box was tight.")
    screenshot(page, "review-fix")
    page.get_by_role("button", name="Record fix (Enter)").click()

    expect(page.get_by_text("Verdict recorded: fix.")).to_be_visible()
    review = Review.objects.get()
    assert (review.verdict, review.comment) == ("fix", "Only the car; its box was tight.")
    (box,) = review.corrected_answer["annotations"]
    tol = 2 / v["scale"]
    assert box["label"] == "car" and abs(box["left"] - 70) <= tol and abs(box["top"] - 50) <= tol
    assert abs(box["width"] - 200) <= 2 * tol and abs(box["height"] - 120) <= 2 * tol
    task.refresh_from_db()
    assert task.status == "completed" and task.response == review.corrected_answer
    screenshot(page, "after-fix")


def test_the_lease_warning_offers_one_click_extension_and_expiry_disables_submit(page):
    project = ProjectFactory(params={"categories": ["car", "truck"]}, lease_seconds=600)
    TaskFactory(
        project=project,
        params={"categories": ["car", "truck"], "attachment": "A van", "attachment_type": "text"},
    )
    worker = annotator("lease@example.test")
    start_working(page, "lease@example.test")
    expect(page.locator("#lease-warning")).to_be_hidden()
    # The annotator walked away: 90 s left, inside the 120 s warning. Reload to see it.
    Assignment.objects.filter(annotator=worker).update(leased_until=timezone.now() + timedelta(seconds=90))
    page.clock.install()
    page.reload()
    warning = page.locator("#lease-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Your lease on this task ends in 1 min")
    expect(page.locator("#lease-clock")).to_contain_text(" left")
    screenshot(page, "lease-warning")
    before = Assignment.objects.get(annotator=worker).leased_until
    with page.expect_response(lambda r: r.url.endswith("/heartbeat") and r.status == 200):
        page.get_by_role("button", name="Keep working (extend the lease)").click()
    expect(warning).to_be_hidden()
    expect(page.locator("#lease-status")).to_contain_text("Lease extended")
    assert Assignment.objects.get(annotator=worker).leased_until > before + timedelta(seconds=400)

    # Gone again until the end: 90 s left, and the page's clock runs past it.
    Assignment.objects.filter(annotator=worker).update(leased_until=timezone.now() + timedelta(seconds=90))
    page.reload()
    expect(warning).to_be_visible()
    page.clock.fast_forward("01:35")
    expect(page.locator("#lease-message")).to_contain_text("Your lease on this task expired")
    expect(page.locator(".qw-lease")).to_contain_text("Lease: expired")
    expect(page.locator(".qw-lease")).not_to_contain_text("expired left")  # issue 14
    expect(page.get_by_role("button", name="Submit (lease ended)")).to_be_disabled()
    expect(page.get_by_role("button", name="Get the next task")).to_be_focused()
    expect(warning).to_be_hidden()
    screenshot(page, "lease-expired")
    page.keyboard.press("1")
    assert not Submission.objects.exists()
