import factory

from annotation.models import Annotator, Project, Task
from tests.clients.factories import ClientFactory, UserFactory

CATEGORIES = ["car", "pedestrian", "cyclist"]
BOX_PARAMS = {
    "geometries": {"box": {"objects_to_annotate": ["car", "pedestrian"], "min_width": 2, "min_height": 2}}
}


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Project {n}")
    task_type = "categorization"
    domain = "autonomous_driving"
    params = factory.LazyFunction(lambda: {"categories": list(CATEGORIES)})
    overlap = 1
    max_overlap = factory.LazyAttribute(lambda o: o.overlap)
    lease_seconds = 900
    price_per_task = 25
    status = Project.Status.ACTIVE


class BoxProjectFactory(ProjectFactory):
    task_type = "imageannotation"
    params = factory.LazyFunction(lambda: {"geometries": {"box": dict(BOX_PARAMS["geometries"]["box"])}})


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    project = factory.SubFactory(ProjectFactory)
    client = factory.SelfAttribute("project.client")
    task_type = factory.SelfAttribute("project.task_type")
    # A task stores its effective params: the project's label schema overlaid with its own.
    params = factory.LazyAttribute(
        lambda o: {**o.project.params, "attachment": "Is this a car?", "attachment_type": "text"}
    )
    overlap = factory.SelfAttribute("project.overlap")
    price = factory.SelfAttribute("project.price_per_task")
    released = True


class AnnotatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotator

    user = factory.SubFactory(UserFactory)
    status = Annotator.Status.ACTIVE
