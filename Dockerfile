# Quorum's image, for operators who deploy with containers (docs/containers.md). One image runs
# every process of the Procfile; compose.yaml's `command:` picks which. Nothing builds it in CI:
# tests/test_container_files.py lints this file (hadolint) and checks it against the Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    PORT=8000

# A fixed numeric id, so volume permissions and Kubernetes' runAsNonRoot can rely on it.
RUN groupadd --system --gid 10001 quorum \
    && useradd --system --uid 10001 --gid quorum --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin quorum

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# The code (.dockerignore keeps out the virtualenv, var/, tests, benchmarks and docs).
COPY . ./

# Static files into var/static (STATIC_ROOT; whitenoise serves them from the web process). Settings need a
# secret key to import in production mode: a throwaway one, for this build step only.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret-collectstatic-only-not-a-secret \
    DJANGO_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
    && mkdir -p var/media \
    && chown -R 10001:10001 var

USER 10001:10001

EXPOSE 8000

# Readiness of the web process (GET /readyz); compose.yaml turns it off for the other processes.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]

# The Procfile's web line, listening on every interface of the container instead of 127.0.0.1.
CMD ["sh", "-c", "exec env GRANIAN_LOG_ACCESS_ENABLED=${WEB_ACCESS_LOG:-on} granian config.wsgi:application --interface wsgi --no-ws --host 0.0.0.0 --port ${PORT:-8000} --workers ${WEB_CONCURRENCY:-2} --blocking-threads ${WEB_THREADS:-4} --respawn-failed-workers --workers-kill-timeout ${WEB_DRAIN_SECONDS:-30} --log-level ${WEB_LOG_LEVEL:-info}"]
