"""The WSGI application (the Procfile's granian serves ``config.wsgi:application``).

Once Django is set up and the URLconf (with every view, serializer and model it imports) is loaded,
``gc.freeze()`` moves all those objects (about 141,000) out of the cyclic garbage collector's
generations. They live as long as the process, yet every full collection walked them again: in
3,000 claim + submit cycles in-process (``make bench-cycle-cpu``, with ``--gc-unfreeze`` for the
state before), one full collection took 73 ms of CPU, a pause for every thread of the process;
frozen, the three full collections of the same run took 2.2 ms each. Reference counting is
unchanged, and objects made while serving requests are collected as before.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports the URLconf now, not at the first request
gc.freeze()
