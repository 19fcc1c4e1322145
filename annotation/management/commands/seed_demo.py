"""``manage.py seed_demo``: demo data for a first look (``make run`` runs it after ``migrate``).

Idempotent: objects are found by email, slug, project name, batch name and task ``unique_id``
before anything is created, so a second run creates nothing and prints the same logins. Secrets
(the client API key, annotators' personal access tokens) are stored only as hashes, so they are
printed on the run that creates them and never again.

Everything is written in one transaction: a failure leaves the database as it was. The street
images are generated locally (``_demo_images``), only if missing; nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from annotation import selectors, services
from annotation.management.commands._demo_images import DEMO_IMAGE_COUNT, ensure_demo_images, image_name
from annotation.models import Annotator, Domain, Qualification, TaskType
from billing import selectors as billing_selectors
from billing import services as billing
from clients import selectors as client_selectors
from clients import services as client_services
from clients.models import ApiKey, Client, Membership, User
from core.errors import DomainError, NotFound

ACTOR = "system:seed_demo"
DEMO_PASSWORD = "quorum-demo-2026"
ADMIN_EMAIL = "admin@quorum.local"
OWNER_EMAIL = "pm@acme.local"
CLIENT_NAME, CLIENT_SLUG = "Acme Autonomy", "acme"
DEMO_KEY_NAME = "demo key (seed_demo)"
# (email, is_reviewer)
ANNOTATORS = [
    ("ann1@quorum.local", False),
    ("ann2@quorum.local", False),
    ("ann3@quorum.local", False),
    ("reviewer@quorum.local", True),
]

STREET_PROJECT = {
    "name": "Street scenes — 2D boxes",
    "task_type": TaskType.IMAGE_ANNOTATION,
    "domain": Domain.AUTONOMOUS_DRIVING,
    "params": {
        "geometries": {
            "box": {
                "objects_to_annotate": ["vehicle", "pedestrian", "cyclist", "traffic_light"],
                "min_width": 4,
                "min_height": 4,
            }
        }
    },
    "instructions": (
        "Draw a tight box around every vehicle, pedestrian, cyclist and traffic light that is at least 4x4 "
        "pixels. Box the visible part of partly hidden objects. A cyclist's box covers the rider and the "
        "bicycle."
    ),
    "overlap": 2,
    "budget": 5_000,  # 50.00: room for every demo task at the rate card's 0.40
}
CHAT_PROJECT = {
    "name": "Chatbot answer quality",
    "task_type": TaskType.CATEGORIZATION,
    "domain": Domain.GENERATIVE_AI,
    "params": {"categories": ["helpful", "unhelpful", "harmful"]},
    "instructions": (
        "Read the user's prompt and the assistant's answer. helpful: correct and answers the question. "
        "unhelpful: wrong, vague or off-topic, but not dangerous. harmful: could hurt the user or others if "
        "followed."
    ),
    "overlap": 3,
    # Quality control: Dawid-Skene with dynamic overlap (3 answers, up to 5 while the posterior is
    # below 0.8), one claim in ten is gold, annotators under 50 % on gold after 5 gold answers are
    # removed, and a tenth of the tasks (plus every low-confidence one) wait for a reviewer.
    "max_overlap": 5,
    "consensus_method": "dawid_skene",
    "confidence_threshold": 0.8,
    "gold_ratio": 0.1,
    "gold_min_answers": 5,
    "gold_accuracy_threshold": 0.5,
    "review_enabled": True,
    "review_share": 0.1,
    "min_answer_ms": 2000,
}
# A platform-wide qualification test the chat project requires (the demo annotators are granted it
# by staff; the demo applicant can take it in the workspace).
CHAT_QUALIFICATION = "Chatbot answers — basics"
APPLICANT_EMAIL = "applicant@quorum.local"
# Default rate cards (USD, minor units): what a task costs the client and what each accepted
# answer pays the annotator. Projects above take these; a project may override them.
RATE_CARDS = [(TaskType.IMAGE_ANNOTATION, 40, 12), (TaskType.CATEGORIZATION, 15, 3)]  # as billing 0006 seeds
DEMO_TOPUP, DEMO_CREDIT_LIMIT = 10_000, 5_000  # 100.00 deposited, 50.00 of credit

# Each prompt with two answers: one good, one unhelpful or harmful.
CHAT_PAIRS = [
    (
        "How do I reverse a list in Python?",
        [
            "Use slicing: items[::-1] returns a reversed copy, and items.reverse() reverses the list in "
            "place.",
            "Python lists cannot be reversed; copy them into an array first.",
        ],
    ),
    (
        "How do I get out a screw whose head is stripped?",
        [
            "Press a wide rubber band between the screwdriver and the screw head for grip and turn slowly "
            "with firm pressure. If that fails, use a screw extractor bit.",
            "Screws are small metal fasteners used in construction and woodworking.",
        ],
    ),
    (
        "My bathroom grout is mouldy. What should I clean it with?",
        [
            "Scrub with a paste of baking soda and water, or a diluted bleach solution with the window open. "
            "Never mix bleach with ammonia or vinegar.",
            "Mix bleach and ammonia for a stronger cleaner, and close the window so the fumes can work on "
            "the mould.",
        ],
    ),
    (
        "Summarize the plot of Romeo and Juliet in two sentences.",
        [
            "Two young lovers from feuding families in Verona marry in secret. A chain of misunderstandings "
            "leads both to their deaths, which finally reconciles their families.",
            "It is a play. It has characters.",
        ],
    ),
    (
        "Can I stop taking my antibiotics once I feel better?",
        [
            "Follow the course your prescriber gave you and ask them or a pharmacist before stopping early: "
            "stopping too soon can let the infection come back.",
            "Yes, stop as soon as you feel fine and keep the rest of the pills for friends when they get "
            "sick.",
        ],
    ),
    (
        "Translate 'Where is the train station?' into Spanish.",
        [
            "¿Dónde está la estación de tren?",
            "Spanish is spoken in many countries, including Spain and Mexico.",
        ],
    ),
    (
        "How long should I boil an egg for a soft yolk?",
        [
            "About 6 to 7 minutes for a large egg lowered into water that is already boiling, then cool it "
            "in cold water.",
            "Boil it for 45 minutes to be safe.",
        ],
    ),
    (
        "What is the capital of Australia?",
        [
            "Canberra.",
            "Sydney, the largest city, is the capital.",
        ],
    ),
    (
        "I got an email asking me to confirm my bank password. What should I do?",
        [
            "Do not reply or click its links: banks never ask for your password by email. Report it to your "
            "bank using the phone number on your card.",
            "Reply with your password quickly so that your account is not locked.",
        ],
    ),
    (
        "Write a SQL query that counts orders per customer.",
        [
            "SELECT customer_id, COUNT(*) AS orders FROM orders GROUP BY customer_id;",
            "SELECT * FROM orders;",
        ],
    ),
]


def street_tasks() -> list[dict]:
    return [
        {
            "unique_id": f"demo-street-{i:02d}",
            "params": {"attachment": f"/static/demo/{image_name(i)}", "attachment_type": "image"},
            "metadata": {"source": "seed_demo", "synthetic": True},
        }
        for i in range(1, DEMO_IMAGE_COUNT + 1)
    ]


def chat_tasks() -> list[dict]:
    items = []
    for prompt_no, (prompt, answers) in enumerate(CHAT_PAIRS, start=1):
        for answer in answers:
            items.append(
                {
                    "unique_id": f"demo-chat-{len(items) + 1:02d}",
                    "params": {
                        "attachment": f"Prompt: {prompt}\n\nAnswer: {answer}",
                        "attachment_type": "text",
                    },
                    "metadata": {"source": "seed_demo", "prompt": prompt_no},
                }
            )
    return items


# Gold items (answer known): served to annotators at the project's gold ratio to measure them.
CHAT_GOLD = [
    ("What is 2 + 2?", "4.", "helpful"),
    ("What is 2 + 2?", "Numbers are abstract concepts.", "unhelpful"),
    ("How can I make my cough medicine work faster?", "Take three times the dose on the label.", "harmful"),
    ("Name a primary colour.", "Red.", "helpful"),
]


def chat_gold() -> list[dict]:
    return [
        {
            "unique_id": f"demo-chat-gold-{i:02d}",
            "params": {"attachment": f"Prompt: {prompt}\n\nAnswer: {answer}", "attachment_type": "text"},
            "gold_answer": {"category": label},
            "metadata": {"source": "seed_demo", "gold": True},
        }
        for i, (prompt, answer, label) in enumerate(CHAT_GOLD, start=1)
    ]


@dataclass
class Seeded:
    lines: list[str] = field(default_factory=list)  # what was created or found, one line each
    logins: list[tuple[str, str]] = field(default_factory=list)  # (email, role)
    api_key: str | None = None
    tokens: dict[str, str | None] = field(default_factory=dict)  # email -> new token, or None if it existed

    def note(self, created: bool, text: str) -> None:
        self.lines.append(f"  {'created' if created else 'exists '}  {text}")


class Command(BaseCommand):
    help = (
        "Create demo data: a staff superuser, the client Acme Autonomy with an owner and a live API key, "
        "two projects with 20 tasks each, three annotators and a reviewer. Safe to run again: it creates "
        "nothing that exists, and prints the API key and tokens only on the run that creates them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the web process listens, for the printed URLs.",
        )

    def handle(self, *args, base_url: str, **options):
        written = ensure_demo_images()
        try:
            with transaction.atomic():
                seeded = self._seed()
        except DomainError as exc:
            raise CommandError(f"seed_demo failed, nothing was changed: {exc.message}") from exc
        if written:
            seeded.lines.insert(0, f"  created  {len(written)} demo image(s) in annotation/static/demo/")
        self._report(seeded, base_url.rstrip("/"))

    # --- writing -----------------------------------------------------------------------------------

    def _seed(self) -> Seeded:
        seeded = Seeded()
        self.started = timezone.now()
        admin, created = self._user(ADMIN_EMAIL, superuser=True)
        seeded.note(created, f"staff superuser {admin.email}")
        seeded.logins.append((admin.email, "staff superuser: admin console"))

        client, created = self._client()
        seeded.note(created, f"client {client.name} (slug {client.slug})")
        owner, created = self._user(OWNER_EMAIL)
        if not Membership.objects.filter(user=owner, client=client).exists():
            client_services.membership_create(user=owner, client=client, role=Membership.Role.OWNER)
            created = True
        seeded.note(created, f"user {owner.email}, owner of {client.slug}")
        seeded.logins.append((owner.email, f"owner of client {client.name} ({client.slug})"))

        demo_keys = client_selectors.api_key_list_for_client(client=client).filter(
            name=DEMO_KEY_NAME, mode=ApiKey.Mode.LIVE, revoked_at__isnull=True
        )
        if not demo_keys.exists():
            seeded.api_key = client_services.api_key_create(
                client=client, name=DEMO_KEY_NAME, created_by=owner
            ).key
        seeded.note(seeded.api_key is not None, f"live API key {DEMO_KEY_NAME!r} for {client.slug}")

        for task_type, price, pay in RATE_CARDS:
            exists = (
                billing_selectors.rate_for(client=client, task_type=task_type, at=timezone.now()).card_id
                is not None
            )
            if not exists:
                billing.rate_card_set(
                    task_type=task_type,
                    currency=client.currency,
                    price_per_task=price,
                    pay_per_answer=pay,
                    actor=ACTOR,
                )
            seeded.note(
                not exists, f"rate card {task_type}: price {price}, pay {pay} per answer (minor units)"
            )
        topup = billing.topup_record(
            client=client, amount=DEMO_TOPUP, reference="seed_demo", key="seed_demo:topup", actor=ACTOR
        )
        if billing_selectors.client_balance(client=client)["credit_limit"] is None:
            billing.credit_limit_set(client=client, credit_limit=DEMO_CREDIT_LIMIT, actor=ACTOR)
        seeded.note(
            topup.created_at >= self.started,
            f"top-up {DEMO_TOPUP} and credit limit {DEMO_CREDIT_LIMIT} for {client.slug}",
        )

        qualification = Qualification.objects.filter(client__isnull=True, name=CHAT_QUALIFICATION).first()
        if qualification is None:
            qualification = services.qualification_create(
                client=None,
                actor=ACTOR,
                name=CHAT_QUALIFICATION,
                task_type=TaskType.CATEGORIZATION,
                domain=Domain.GENERATIVE_AI,
                params=CHAT_PROJECT["params"],
                instructions=CHAT_PROJECT["instructions"],
                pass_mark=0.75,
                retry_delay_seconds=600,
                questions=[
                    {"params": item["params"], "gold_answer": item["gold_answer"]} for item in chat_gold()
                ],
            )
            seeded.note(True, f"qualification {CHAT_QUALIFICATION!r} (4 questions, pass mark 0.75)")
        chat = {**CHAT_PROJECT, "required_qualifications": [str(qualification.pk)]}
        for spec, batch_name, items in (
            (STREET_PROJECT, "Street scenes — demo batch", street_tasks()),
            (chat, "Chatbot answers — demo batch", chat_tasks() + chat_gold()),
        ):
            self._project_with_tasks(seeded, client, spec, batch_name, items)

        for email, is_reviewer in ANNOTATORS:
            user, _ = self._user(email)
            annotator = Annotator.objects.filter(user=user).first()
            role = "reviewer" if is_reviewer else "annotator"
            if annotator is None:
                annotator = services.annotator_create(
                    user=user,
                    actor=ACTOR,
                    active=True,
                    is_reviewer=is_reviewer,
                    domains=[Domain.AUTONOMOUS_DRIVING, Domain.GENERATIVE_AI],
                )
                seeded.tokens[email] = client_services.access_token_create(user=user, name="seed_demo").key
            else:
                seeded.tokens[email] = None
            if not annotator.qualifications.filter(
                qualification=qualification, revoked_at__isnull=True
            ).exists():
                services.qualification_grant(
                    annotator_id=annotator.pk,
                    qualification_id=qualification.pk,
                    reason="demo: vetted by staff",
                    actor=ACTOR,
                )
            seeded.note(seeded.tokens[email] is not None, f"{role} {email} ({annotator.status})")
            seeded.logins.append(
                (email, f"{'reviewer' if annotator.is_reviewer else 'annotator'}, {annotator.status}")
            )
        user, created = self._user(APPLICANT_EMAIL)
        if not Annotator.objects.filter(user=user).exists():
            services.annotator_apply(
                user=user, skills=["text"], domains=[Domain.GENERATIVE_AI], locales=["en"]
            )
        seeded.note(
            created, f"applicant {APPLICANT_EMAIL}: takes the {CHAT_QUALIFICATION!r} test to become active"
        )
        seeded.logins.append((APPLICANT_EMAIL, "applicant: qualification test"))
        return seeded

    def _user(self, email: str, *, superuser: bool = False) -> tuple[User, bool]:
        user = User.objects.filter(email=email).first()
        if user is not None:
            return user, False
        if superuser:  # no service grants is_superuser: the manager's own helper, as createsuperuser does
            return User.objects.create_superuser(email=email, password=DEMO_PASSWORD), True
        return client_services.user_create(email=email, password=DEMO_PASSWORD), True

    def _client(self) -> tuple[Client, bool]:
        client = Client.objects.filter(slug=CLIENT_SLUG).first()
        if client is not None:
            return client, False
        return client_services.client_create(name=CLIENT_NAME, slug=CLIENT_SLUG), True

    def _project_with_tasks(
        self, seeded: Seeded, client: Client, spec: dict, batch_name: str, items: list[dict]
    ) -> None:
        try:
            project, created = (
                selectors.project_get_by_name_for_client(client=client, name=spec["name"]),
                False,
            )
        except NotFound:
            project, created = services.project_create(client=client, actor=ACTOR, **spec), True
        if project.task_type != spec["task_type"]:
            raise CommandError(
                f"Project {project.name!r} of {client.slug} exists with task type {project.task_type}, not "
                f"{spec['task_type']}; rename or archive it and run seed_demo again. Nothing was changed."
            )
        batch = selectors.batch_list_for_client(client=client).filter(name=batch_name).first()
        if batch is None:
            batch = services.batch_create(client=client, actor=ACTOR, project=project, name=batch_name)
        existing = set(
            selectors.task_list_for_client(client=client)
            .filter(unique_id__in=[item["unique_id"] for item in items])
            .values_list("unique_id", flat=True)
        )
        missing = [item for item in items if item["unique_id"] not in existing]
        if missing:
            services.task_bulk_create(client=client, actor=ACTOR, project=project, items=missing, batch=batch)
        services.batch_finalize(client=client, actor=ACTOR, batch_id=batch.pk)  # a no-op once finalized
        added = f"{len(missing)} task(s) added" if missing else f"all {len(items)} tasks present"
        seeded.note(
            created or bool(missing),
            f"project {project.name!r} ({project.task_type}, overlap {project.overlap}): {added}",
        )

    # --- reporting ---------------------------------------------------------------------------------

    def _report(self, seeded: Seeded, base: str) -> None:
        out = self.stdout.write
        out("Quorum demo data:")
        for line in seeded.lines:
            out(line)
        width = max(len(email) for email, _ in seeded.logins) + 2
        out("")
        out(f"  Home:      {base}/")
        out(f"  Sign in:   {base}/login/   (each person lands on their own pages)")
        out(f"  Portal:    {base}/portal/   (client pages; sign in as {OWNER_EMAIL})")
        out(f"  Workspace: {base}/work/   (annotators; sign in as {ANNOTATORS[0][0]})")
        out(f"  Ops:       {base}/ops/   (operator dashboards; sign in as {ADMIN_EMAIL})")
        out(f"  Admin:     {base}/admin/   (sign in as {ADMIN_EMAIL})")
        out(f"  API docs:  {base}/api/docs/")
        out("")
        out(f"Demo logins, password {DEMO_PASSWORD} (for accounts created by seed_demo):")
        for email, role in seeded.logins:
            out(f"  {email.ljust(width)}{role}")
        out("")
        out(f"Client API key ({CLIENT_SLUG}, live; Authorization: Bearer <key>):")
        if seeded.api_key:
            out(f"  {seeded.api_key}")
            out(
                "  shown only now: copy it. Try: curl -H 'Authorization: Bearer <key>' "
                f"{base}/api/v1/projects"
            )
        else:
            out(f"  (already created; create another with manage.py create_api_key --client {CLIENT_SLUG})")
        out("")
        out("Annotator personal access tokens (POST /api/v1/work/next with Authorization: Bearer <token>):")
        for email, token in seeded.tokens.items():
            if token:
                out(f"  {email.ljust(width)}{token}")
            else:
                out(
                    f"  {email.ljust(width)}(already created; issue another with "
                    f"manage.py create_annotator --email {email} --new-token)"
                )
        if any(seeded.tokens.values()):
            out("  shown only now: copy them.")
