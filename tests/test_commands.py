"""Management commands: create_client, create_api_key, create_annotator, seed_demo, and the demo images."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as BrowserClient

from annotation.management.commands import _demo_images
from annotation.models import Annotator, AnnotatorQualification, Batch, Project, Qualification, Task
from billing import selectors as billing_selectors
from clients.models import AccessToken, ApiKey, Client, Membership, User
from core.models import Event
from tests.annotation.factories import ProjectFactory, TaskFactory
from tests.conftest import api_for_key

DEMO_DIR = Path(_demo_images.__file__).resolve().parents[2] / "static" / "demo"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            Client,
            Membership,
            ApiKey,
            AccessToken,
            Project,
            Batch,
            Task,
            Annotator,
            Qualification,
            AnnotatorQualification,
        )
    }


# --- create_client ---------------------------------------------------------------------------------


def test_create_client_prints_slug_and_id(db):
    output = run("create_client", "Beta Labs", "--slug", "beta", "--currency", "eur")

    client = Client.objects.get()
    assert (client.name, client.slug, client.currency) == ("Beta Labs", "beta", "EUR")
    assert f"slug: beta\nid:   {client.id}\n" in output


def test_create_client_derives_the_slug_from_the_name(db):
    run("create_client", "Acme Autonomy")

    assert Client.objects.get().slug == "acme-autonomy"


@pytest.mark.parametrize(
    "args, message",
    [
        (["Acme again", "--slug", "acme"], "already exists"),
        (["Zeta", "--currency", "dollars"], "ISO 4217"),
        (["!!!"], "letters or digits"),
    ],
)
def test_create_client_refusals_change_nothing(client_a, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_client", *args)

    assert list(Client.objects.values_list("slug", flat=True)) == ["acme"]


# --- create_api_key --------------------------------------------------------------------------------


def test_create_api_key_prints_a_live_key_that_authenticates(client_a):
    output = run("create_api_key", "--client", "acme", "--name", "ci")

    key = last_line(output)
    api_key = ApiKey.objects.get()
    assert key.startswith(f"qk_live_{api_key.prefix}.")
    assert (api_key.client_id, api_key.mode, api_key.name) == (client_a.id, "live", "ci")
    assert key not in output.strip().splitlines()[0]  # the key is printed once, on its own line
    response = api_for_key(key).get("/api/v1/projects")
    assert response.status_code == 200


def test_create_api_key_test_mode_gives_a_test_key(client_a):
    key = last_line(run("create_api_key", "--client", "acme", "--mode", "test"))

    assert key.startswith("qk_test_")
    assert ApiKey.objects.get().mode == "test"
    assert api_for_key(key).get("/api/v1/projects").status_code == 200


def test_create_api_key_unknown_client_creates_nothing(client_a):
    with pytest.raises(CommandError, match="No client with slug 'nope'"):
        run("create_api_key", "--client", "nope")

    assert ApiKey.objects.count() == 0


def test_create_api_key_refuses_a_deactivated_client(client_a):
    Client.objects.filter(pk=client_a.pk).update(is_active=False)

    with pytest.raises(CommandError, match="deactivated"):
        run("create_api_key", "--client", "acme")

    assert ApiKey.objects.count() == 0


# --- create_annotator ------------------------------------------------------------------------------


def test_create_annotator_qualify_all_token_claims_work(db):
    task = TaskFactory(project=ProjectFactory())

    output = run(
        "create_annotator",
        "--email",
        "Ann@Example.test",
        "--password",
        "a-long-passphrase-26",
        "--qualify-all",
    )

    user = User.objects.get()
    annotator = Annotator.objects.get()
    assert (user.email, annotator.user_id, annotator.status, annotator.is_reviewer) == (
        "ann@example.test",
        user.id,
        "active",
        False,
    )
    assert user.check_password("a-long-passphrase-26")
    token = last_line(output)
    assert token.startswith(f"qp_{AccessToken.objects.get(user=user).prefix}.")
    response = api_for_key(token).post("/api/v1/work/next", {}, format="json")
    assert response.status_code == 200
    assert response.json()["assignment"]["task"]["id"] == str(task.id)


def test_create_annotator_without_qualify_all_is_an_applicant_refused_work(db):
    TaskFactory(project=ProjectFactory())

    token = last_line(run("create_annotator", "--email", "new@example.test"))

    annotator = Annotator.objects.get()
    assert annotator.status == "applicant"
    assert not annotator.user.has_usable_password()
    response = api_for_key(token).post("/api/v1/work/next", {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "annotator_not_active"


def test_create_annotator_reviewer_for_an_existing_user(db):
    User.objects.create_user(email="rev@example.test", password="an-existing-password")

    output = run("create_annotator", "--email", "rev@example.test", "--qualify-all", "--reviewer")

    annotator = Annotator.objects.get()
    assert (annotator.status, annotator.is_reviewer) == ("active", True)
    assert "Using existing user rev@example.test." in output
    assert User.objects.get().check_password("an-existing-password")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--email", "weak@example.test", "--password", "short"], "Password rejected"),
        (["--email", "not-an-email"], "valid email"),
        (
            ["--email", "owner@example.test", "--password", "a-long-passphrase-26"],
            "does not change passwords",
        ),
    ],
)
def test_create_annotator_refusals_change_nothing(db, args, message):
    User.objects.create_user(email="owner@example.test", password="an-existing-password")
    before = counts()

    with pytest.raises(CommandError, match=message):
        run("create_annotator", *args)

    assert counts() == before
    assert Event.objects.count() == 0


def test_create_annotator_existing_annotator_needs_new_token(db):
    first = last_line(run("create_annotator", "--email", "ann@example.test", "--qualify-all"))

    with pytest.raises(CommandError, match="already an annotator"):
        run("create_annotator", "--email", "ann@example.test")
    with pytest.raises(CommandError, match="only issues a token"):
        run("create_annotator", "--email", "ann@example.test", "--new-token", "--reviewer")
    assert AccessToken.objects.count() == 1

    second = last_line(run("create_annotator", "--email", "ann@example.test", "--new-token"))

    assert second != first and second.startswith("qp_")
    assert AccessToken.objects.count() == 2
    assert (Annotator.objects.get().status, Annotator.objects.get().is_reviewer) == ("active", False)
    assert api_for_key(second).post("/api/v1/work/next", {}, format="json").status_code == 200


# --- seed_demo -------------------------------------------------------------------------------------

SEEDED = {
    "User": 7,
    "Client": 1,
    "Membership": 1,
    "ApiKey": 1,
    "AccessToken": 4,
    "Project": 2,
    "Batch": 2,
    "Task": 44,
    "Annotator": 5,
    "Qualification": 1,
    "AnnotatorQualification": 4,
}


def logins_block(output: str) -> str:
    start = output.index("Demo logins")
    return output[start : output.index("\n\n", start)]


def test_seed_demo_twice_creates_once_and_prints_secrets_once(db):
    first = run("seed_demo")
    after_first = counts()
    second = run("seed_demo")

    assert after_first == SEEDED
    assert counts() == SEEDED
    assert logins_block(first) == logins_block(second)
    for email in (
        "admin@quorum.local",
        "pm@acme.local",
        "ann1@quorum.local",
        "ann3@quorum.local",
        "reviewer@quorum.local",
    ):
        assert email in logins_block(first)
    assert "quorum-demo-2026" in logins_block(first)
    assert "qk_" not in second and "qp_" not in second
    assert "(already created; create another with manage.py create_api_key --client acme)" in second
    assert "create_annotator --email ann1@quorum.local --new-token" in second
    assert first.count("qk_live_") == 1 and first.count("qp_") == 4
    for url in (
        "http://127.0.0.1:8000/\n",
        "http://127.0.0.1:8000/api/docs/",
        "http://127.0.0.1:8000/admin/",
    ):
        assert url in first and url in second


def test_seed_demo_data_is_usable(db):
    output = run("seed_demo")

    admin = User.objects.get(email="admin@quorum.local")
    assert (admin.is_staff, admin.is_superuser, admin.check_password("quorum-demo-2026")) == (
        True,
        True,
        True,
    )
    assert Membership.objects.get().role == "owner"
    street = Project.objects.get(name="Street scenes — 2D boxes")
    chat = Project.objects.get(name="Chatbot answer quality")
    assert (street.task_type, street.domain, street.overlap) == ("imageannotation", "autonomous_driving", 2)
    assert street.params["geometries"]["box"]["objects_to_annotate"] == [
        "vehicle",
        "pedestrian",
        "cyclist",
        "traffic_light",
    ]
    assert (chat.task_type, chat.domain, chat.overlap) == ("categorization", "generative_ai", 3)
    # Prices and pay come from the demo's rate cards: the tasks keep the figures they were created with.
    assert {(t.price, t.pay) for t in Task.objects.filter(project=street)} == {(40, 12)}
    assert {(t.price, t.pay) for t in Task.objects.filter(project=chat, is_gold=False)} == {(15, 3)}
    # Gold is never charged; the chat project runs the quality controls and requires the test.
    assert {(t.price, t.pay) for t in Task.objects.filter(project=chat, is_gold=True)} == {(0, 3)}
    assert (chat.consensus_method, chat.gold_ratio, chat.review_enabled) == ("dawid_skene", 0.1, True)
    assert chat.required_qualifications.count() == 1
    assert billing_selectors.project_budget(client=street.client, project_id=street.id)["budget"] == 5_000
    position = billing_selectors.client_balance(client=street.client)
    assert (position["funds"], position["credit_limit"]) == (10_000, 5_000)
    assert (
        Task.objects.filter(project=street).count() == 20
        and Task.objects.filter(project=chat, is_gold=False).count() == 20
    )
    assert Task.objects.filter(released=True, is_test=False).count() == 44
    assert Task.objects.get(unique_id="demo-street-01").params == {
        "attachment": "/static/demo/street-01.png",
        "attachment_type": "image",
        **street.params,
    }
    assert Task.objects.get(unique_id="demo-chat-01").params["attachment_type"] == "text"
    assert sorted(Annotator.objects.values_list("user__email", "status", "is_reviewer")) == [
        ("ann1@quorum.local", "active", False),
        ("ann2@quorum.local", "active", False),
        ("ann3@quorum.local", "active", False),
        ("applicant@quorum.local", "applicant", False),
        ("reviewer@quorum.local", "active", True),
    ]

    lines = output.splitlines()
    key = next(line.strip() for line in lines if line.strip().startswith("qk_live_"))
    token = next(
        line.split()[1] for line in lines if line.strip().startswith("ann1@quorum.local") and "qp_" in line
    )
    assert api_for_key(key).get("/api/v1/projects").status_code == 200
    response = api_for_key(token).post("/api/v1/work/next", {}, format="json")
    assert response.status_code == 200
    assert response.json()["assignment"]["task"]["params"]["attachment"].startswith("/static/demo/street-")


def test_seed_demo_adds_only_missing_tasks(db):
    run("seed_demo")
    Task.objects.filter(unique_id__in=["demo-chat-05", "demo-street-20"]).delete()

    output = run("seed_demo")

    assert counts() == SEEDED
    assert "1 task(s) added" in output


def test_demo_images_are_committed_small_pngs(db):
    run("seed_demo")
    names = sorted(p.name for p in DEMO_DIR.glob("street-*.png"))

    assert names == [f"street-{i:02d}.png" for i in range(1, 21)]
    for name in names:
        data = (DEMO_DIR / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (640, 360)
        assert len(data) < 30_000
    response = BrowserClient().get("/static/demo/street-01.png")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (DEMO_DIR / "street-01.png").read_bytes()


def test_demo_image_generator_writes_only_missing_files(tmp_path):
    written = _demo_images.ensure_demo_images(tmp_path, count=3)
    (tmp_path / "street-02.png").unlink()

    again = _demo_images.ensure_demo_images(tmp_path, count=3)

    assert written == ["street-01.png", "street-02.png", "street-03.png"]
    assert again == ["street-02.png"]
    assert (tmp_path / "street-02.png").read_bytes() == _demo_images.street_scene_png(2)
    assert not list(tmp_path.glob("*.tmp"))


# --- create_client --owner-email --------------------------------------------------------------------


def _link_path(output: str) -> str:
    url = next(line for line in output.splitlines() if "/password-reset/" in line)
    return url[url.index("/password-reset/") :]


def test_create_client_with_a_new_owner_prints_a_one_time_password_link(db):
    output = run("create_client", "Beta Labs", "--slug", "beta", "--owner-email", "Boss@Beta.example")

    user = User.objects.get(email="boss@beta.example")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    assert (membership.client.slug, membership.role) == ("beta", "owner")
    assert "owner: boss@beta.example (new user, no password yet)" in output
    assert "--password" not in output

    browser = BrowserClient()
    form = browser.get(_link_path(output), follow=True)
    assert form.status_code == 200 and b"Choose a password" in form.content
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": "owner-pass-2026!x", "new_password2": "owner-pass-2026!x"},
        follow=True,
    )
    assert b"Password set" in done.content
    user.refresh_from_db()
    assert user.check_password("owner-pass-2026!x")
    # The link works once.
    again = BrowserClient().get(_link_path(output), follow=True)
    assert b"This link no longer works" in again.content


def test_create_client_reuses_an_existing_user_as_owner(client_a):
    existing = User.objects.create_user(email="pm@beta.example", password="already-set-2026!")

    output = run("create_client", "Beta Labs", "--owner-email", "pm@beta.example")

    assert User.objects.filter(email="pm@beta.example").count() == 1
    assert Membership.objects.get(user=existing, client__slug="beta-labs").role == "owner"
    assert "sign in with their password" in output and "/password-reset/" not in output


def test_create_client_with_a_bad_owner_email_creates_nothing(db):
    with pytest.raises(CommandError, match="valid email"):
        run("create_client", "Beta Labs", "--owner-email", "not-an-address")

    assert (Client.objects.count(), User.objects.count()) == (0, 0)
