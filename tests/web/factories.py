"""Factories for page tests. People who never sign in with a password (the Django test client's
``force_login`` needs none) get an unusable one: Argon2 hashing is slow on purpose."""

import factory

from clients.models import Membership
from tests.clients.factories import ClientFactory, UserFactory


class NoPasswordUserFactory(UserFactory):
    password = factory.PostGenerationMethodCall("set_unusable_password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # declared after password, so it runs after it
        if create:
            obj.save()


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(NoPasswordUserFactory)
    client = factory.SubFactory(ClientFactory)
    role = Membership.Role.OWNER
