"""Each labeling tool in a real browser produces exactly the answer its task type validates:
NER spans picked with the mouse, LiDAR cuboids on the bird's-eye view, pairwise choice and
strength, multiple categories, and the image tool's other shapes with select, move and delete."""

from __future__ import annotations

import re
import struct

from playwright.sync_api import expect

from annotation.models import Submission
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.browser.conftest import TABLET, screenshot
from tests.browser.test_workspace import IMAGE, annotator, drag_on_canvas, start_working


def submit_and_get(page):
    page.get_by_role("button", name="Submit (Enter)").click()
    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    return Submission.objects.get().answer


def select_text(page, locator, start: int, end: int):
    """Select characters [start, end) of the element's text, as a mouse drag would."""
    locator.evaluate(
        """(el, [start, end]) => {
        const node = el.firstChild, range = document.createRange();
        range.setStart(node, start); range.setEnd(node, end);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    }""",
        [start, end],
    )


def test_ner_spans_are_selected_and_labeled_in_code_points(page):
    text = "Ünïcode 😀 Alice met Bob in Paris."
    TaskFactory(
        project=ProjectFactory(task_type="namedentityrecognition", params={"labels": ["person", "place"]}),
        params={"text": text, "labels": ["person", "place"]},
    )
    annotator("ner@example.test")

    start_working(page, "ner@example.test")
    body = page.get_by_test_id("ner-text")
    utf16 = text.encode("utf-16-le")
    start16 = len(text[: text.index("Alice")].encode("utf-16-le")) // 2  # the emoji is two UTF-16 units
    select_text(page, body, start16, start16 + len("Alice"))
    page.keyboard.press("1")
    expect(page.get_by_role("list", name="Labeled spans")).to_contain_text("“Alice” · person")
    paris16 = len(text[: text.index("Paris")].encode("utf-16-le")) // 2
    # after the first label the text is split into pieces; select across the whole element instead
    body.evaluate(
        """(el, [start, end]) => {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        let node, seen = 0, range = document.createRange();
        while ((node = walker.nextNode())) {
            const len = node.textContent.length;
            if (start >= seen && start <= seen + len) range.setStart(node, start - seen);
            if (end >= seen && end <= seen + len) { range.setEnd(node, end - seen); break; }
            seen += len;
        }
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    }""",
        [paris16, paris16 + len("Paris")],
    )
    page.get_by_role("button", name="2 place").click()
    screenshot(page, "spans")
    assert len(utf16) // 2 > len(text)  # the text really has characters outside the BMP

    answer = submit_and_get(page)
    assert answer == {
        "annotations": [
            {"start": text.index("Alice"), "end": text.index("Alice") + 5, "label": "person"},
            {"start": text.index("Paris"), "end": text.index("Paris") + 5, "label": "place"},
        ]
    }


def test_lidar_cuboids_are_drawn_on_the_birds_eye_view_with_height_fields(page):
    frames = [
        {"url": "/media/lidar/000.pcd"},
        {"url": "/media/lidar/001.pcd"},
        {"url": "/media/lidar/002.pcd"},
    ]
    TaskFactory(
        project=ProjectFactory(task_type="lidarannotation", params={"labels": ["car", "pedestrian"]}),
        params={"frames": frames, "labels": ["car", "pedestrian"]},
    )
    annotator("lidar@example.test")
    header = (
        "VERSION .7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
        "WIDTH {n}\nHEIGHT 1\nPOINTS {n}\nDATA {kind}\n"
    )
    ascii_pcd = header.format(n=3, kind="ascii") + "10 2 0.5 1\n11 3 0.2 1\n12 -1 1.4 1\n"
    binary_pcd = header.format(n=2, kind="binary").encode() + struct.pack("<8f", 5, 5, 0, 1, 6, 6, 1, 1)
    # The frames are served by the browser's request routing (the test never leaves 127.0.0.1)
    page.route("**/media/lidar/000.pcd", lambda route: route.fulfill(body=ascii_pcd))
    page.route("**/media/lidar/001.pcd", lambda route: route.fulfill(body=binary_pcd))
    page.route("**/media/lidar/002.pcd", lambda route: route.fulfill(status=404, body="gone"))

    start_working(page, "lidar@example.test")
    status = page.locator(".qw-status")
    expect(status).to_have_text("Frame 1: 3 points.")
    page.keyboard.press("]")
    expect(status).to_have_text("Frame 2: 2 points.")
    page.keyboard.press("]")
    expect(status).to_contain_text(
        "Frame 3 could not be loaded (HTTP 404)"
    )  # the page still works without the cloud
    page.keyboard.press("[")
    page.keyboard.press("[")
    expect(page.get_by_text("Frame 1 of 3")).to_be_visible()
    canvas = page.get_by_test_id("bev-canvas")
    view = page.evaluate(
        "() => { const v = Quorum.active.view; return {scale: v.scale, ox: v.ox, oy: v.oy, width: "
        "v.canvas.width}; }"
    )
    # the bird's-eye view has y up: world (x, y) is at screen (x * scale + ox, -y * scale + oy)
    drag_on_canvas(page, canvas, view, (10, -2), (14, -4))
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "1")
    page.get_by_label("Centre z (m)").fill("0.8")
    page.get_by_label("Height (m)").fill("1.5")
    page.get_by_label("Yaw (degrees)").fill("90")
    screenshot(page, "cuboid")

    answer = submit_and_get(page)
    (cuboid,) = answer["annotations"]
    assert (cuboid["label"], cuboid["frame"], cuboid["center"]["z"], cuboid["size"]["z"]) == (
        "car",
        0,
        0.8,
        1.5,
    )
    assert abs(cuboid["center"]["x"] - 12) < 0.2 and abs(cuboid["center"]["y"] - 3) < 0.2
    assert abs(cuboid["size"]["x"] - 4) < 0.2 and abs(cuboid["size"]["y"] - 2) < 0.2
    assert abs(cuboid["yaw"] - 1.571) < 0.001


def test_pairwise_choice_and_strength_from_the_keyboard(page):
    params = {
        "prompt": "Say hi",
        "mode": "pairwise",
        "likert_scale": 5,
        "responses": [{"id": "x", "text": "Hi!"}, {"id": "y", "text": "Hello there, how can I help?"}],
    }
    TaskFactory(project=ProjectFactory(task_type="comparison", params={"mode": "pairwise"}), params=params)
    annotator("pair@example.test")

    start_working(page, "pair@example.test")
    page.get_by_role("button", name="Submit (Enter)").click()
    expect(page.locator("#tool-error")).to_have_text("Pick the better response first.")
    page.keyboard.press("b")
    page.keyboard.press("4")
    screenshot(page, "pairwise")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Answer submitted.")).to_be_visible()
    assert Submission.objects.get().answer == {"choice": "y", "strength": 4}


def test_multiple_categories_toggle_with_number_keys(page):
    params = {
        "categories": ["red", "green", "blue"],
        "allow_multiple": True,
        "attachment": "A purple thing",
        "attachment_type": "text",
    }
    TaskFactory(project=ProjectFactory(params={"categories": ["red", "green", "blue"]}), params=params)
    annotator("cats@example.test")

    start_working(page, "cats@example.test")
    page.set_viewport_size(TABLET)
    for key in ("1", "3", "2", "2"):
        page.keyboard.press(key)
    assert page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"
    )  # no sideways scrolling on a tablet
    screenshot(page, "tablet")

    assert submit_and_get(page) == {"category": ["red", "blue"]}


def test_image_polygon_line_point_ellipse_select_move_and_delete(page):
    geometries = {
        kind: {"objects_to_annotate": ["lane", "sign"]} for kind in ("polygon", "line", "point", "ellipse")
    }
    project = ProjectFactory(task_type="imageannotation", params={"geometries": geometries})
    TaskFactory(project=project, params={"geometries": geometries, **IMAGE})
    annotator("shapes@example.test")

    start_working(page, "shapes@example.test")
    expect(page.locator("#tool-root")).to_have_attribute("data-image-loaded", "true")
    canvas = page.get_by_test_id("image-canvas")
    v = page.evaluate(
        "() => { const v = Quorum.active.view; return {scale: v.scale, ox: v.ox, oy: v.oy, width: "
        "v.canvas.width}; }"
    )
    box = canvas.bounding_box()

    def at(x, y):
        r = box["width"] / v["width"]
        return box["x"] + (x * v["scale"] + v["ox"]) * r, box["y"] + (y * v["scale"] + v["oy"]) * r

    page.keyboard.press("p")  # polygon: three clicks, then a click on the first vertex closes it
    for point in ((50, 50), (150, 50), (100, 120), (50, 50)):
        page.mouse.click(*at(*point))
    page.keyboard.press("l")  # line: two clicks, Enter ends it
    page.mouse.click(*at(200, 200))
    page.mouse.click(*at(300, 250))
    page.keyboard.press("Enter")
    page.keyboard.press("o")
    page.keyboard.press("2")
    page.mouse.click(*at(400, 100))
    page.keyboard.press("e")
    drag_on_canvas(page, canvas, v, (500, 200), (560, 240))
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "4")
    # select the point, delete it; select the ellipse, move it 20 px left
    page.keyboard.press("v")
    page.mouse.click(*at(400, 100))
    page.keyboard.press("Delete")
    expect(page.locator("#tool-root")).to_have_attribute("data-shapes", "3")
    drag_on_canvas(page, canvas, v, (530, 220), (510, 220))
    screenshot(page, "shapes")

    answer = submit_and_get(page)
    kinds = [(a["type"], a["label"]) for a in answer["annotations"]]
    assert kinds == [("polygon", "lane"), ("line", "lane"), ("ellipse", "sign")]
    polygon, line, ellipse = answer["annotations"]
    tol = 1.5 / v["scale"]
    assert len(polygon["vertices"]) == 3 and len(line["vertices"]) == 2
    for got, want in zip(
        polygon["vertices"] + line["vertices"],
        [(50, 50), (150, 50), (100, 120), (200, 200), (300, 250)],
        strict=True,
    ):
        assert abs(got["x"] - want[0]) <= tol and abs(got["y"] - want[1]) <= tol
    assert abs(ellipse["x"] - 510) <= 2 * tol and abs(ellipse["y"] - 220) <= 2 * tol
    assert abs(ellipse["rx"] - 30) <= tol and abs(ellipse["ry"] - 20) <= tol
    assert re.fullmatch(r"[0-9a-f-]{36}", ellipse["uuid"])


def test_video_tracks_are_drawn_frame_by_frame(page):
    frames = ["/static/demo/street-01.png", "/static/demo/street-02.png", "/static/demo/street-03.png"]
    params = {
        "labels": ["car", "cyclist"],
        "frames": frames,
        "attachment_width": 640,
        "attachment_height": 360,
    }
    TaskFactory(
        project=ProjectFactory(task_type="videoannotation", params={"labels": ["car", "cyclist"]}),
        params=params,
    )
    annotator("video@example.test")

    start_working(page, "video@example.test")
    tool = page.locator("#tool-root")
    expect(tool).to_have_attribute("data-frame-loaded", "0")
    canvas = page.get_by_test_id("video-canvas")
    v = page.evaluate(
        "() => { const v = Quorum.active.view; return {scale: v.scale, ox: v.ox, oy: v.oy, width: "
        "v.canvas.width}; }"
    )
    drag_on_canvas(page, canvas, v, (100, 100), (200, 160))  # track-1 (car) on frame 0
    page.keyboard.press("]")
    page.keyboard.press("c")  # the same box on frame 1
    page.keyboard.press("]")
    drag_on_canvas(page, canvas, v, (120, 100), (220, 160))  # moved on frame 2
    page.keyboard.press("n")
    page.keyboard.press("2")
    drag_on_canvas(page, canvas, v, (400, 200), (440, 300))  # track-2 (cyclist) on frame 2 only
    expect(tool).to_have_attribute("data-tracks", "2")
    screenshot(page, "tracks")

    answer = submit_and_get(page)
    car, cyclist = answer["annotations"]
    assert (car["track_id"], car["label"], [f["frame"] for f in car["frames"]]) == (
        "track-1",
        "car",
        [0, 1, 2],
    )
    assert car["frames"][0] | {"frame": 1} == car["frames"][1]
    assert abs(car["frames"][2]["left"] - 120) <= 1.5 / v["scale"]
    assert (cyclist["track_id"], cyclist["label"], [f["frame"] for f in cyclist["frames"]]) == (
        "track-2",
        "cyclist",
        [2],
    )


def test_taxonomies_form_with_subchoices_and_a_conditional_question(page):
    taxonomies = {
        "helpful": {
            "type": "category",
            "description": "Is the reply helpful?",
            "choices": ["yes", {"choice": "no", "subchoices": ["off-topic", "wrong"]}],
        },
        "harms": {
            "type": "category",
            "description": "Which harms?",
            "choices": ["toxic", "unsafe advice", "privacy"],
            "allow_multiple": True,
            "condition": {"taxonomy": "helpful", "choices": ["no"]},
        },
    }
    TaskFactory(
        project=ProjectFactory(params={"taxonomies": taxonomies}),
        params={
            "taxonomies": taxonomies,
            "attachment": "Use a lighter to find the leak.",
            "attachment_type": "text",
        },
    )
    annotator("tax@example.test")
    start_working(page, "tax@example.test")
    harms = page.get_by_role("group", name="Which harms? (pick one or more)")
    expect(harms).to_be_hidden()  # asked only once "no" (or one of its subchoices) is picked
    page.get_by_text("no …").click()  # open the heading: its subchoices appear
    page.get_by_label("wrong").check()
    expect(harms).to_be_visible()
    page.get_by_label("unsafe advice").check()
    page.get_by_label("toxic").check()
    screenshot(page, "taxonomies")
    page.get_by_label("yes").check()  # changing the parent hides the question again...
    expect(harms).to_be_hidden()
    page.get_by_label("wrong").check()  # ...and brings it back with its picks kept
    assert submit_and_get(page) == {"taxonomies": {"helpful": ["wrong"], "harms": ["toxic", "unsafe advice"]}}
