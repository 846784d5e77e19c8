# syntax=docker/dockerfile:1
# Parley's production image. Its entry point is bin/start, the start command of docs/deploy.md:
# static files (collected here, at build time), migrations under a lock, then the server.
#   docker build -t parley .          compose.yaml runs it with PostgreSQL and Redis.
ARG PYTHON_VERSION=3.13

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# Runtime dependencies only, the versions and hashes of requirements.lock (what `make run` installs);
# every one ships manylinux wheels, so no compiler is needed.
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock

FROM python:${PYTHON_VERSION}-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PARLEY_STATIC_ROOT=/app/staticfiles \
    PARLEY_VAR_DIR=/app/var \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid parley --home-dir /app --no-create-home --shell /usr/sbin/nologin parley
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code belongs to root and is read-only for the server; only staticfiles/ and var/ are its own
# (var/media: uploaded pictures; compose mounts a volume there, which starts owned by parley).
COPY . /app
# Placeholders: settings need them to load; collectstatic touches no database, no secret.
RUN SECRET_KEY=image-build-placeholder-never-used-at-run-time-0123456789 \
    ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=sqlite:////tmp/unused.sqlite3 \
    python manage.py parley_collectstatic --verbosity 0 \
    && rm -f /tmp/unused.sqlite3* \
    && mkdir -p /app/var/media \
    && chown -R parley:parley /app/staticfiles /app/var
USER parley
EXPOSE 8000
# bin/healthcheck asks /healthz as the proxy would (Host from ALLOWED_HOSTS, X-Forwarded-Proto).
HEALTHCHECK --interval=10s --timeout=6s --start-period=60s --retries=3 CMD ["/app/bin/healthcheck"]
# Runtime settings come from the environment (docs/deploy.md): SECRET_KEY, ALLOWED_HOSTS,
# DATABASE_URL, REDIS_URL, PROXY_HEADERS, WORKERS. `docker exec <container> python manage.py ...`
# runs management commands (createsuperuser, parley_token) beside the server.
ENTRYPOINT ["/app/bin/start"]
