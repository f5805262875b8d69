# One image for the Engram API and worker (docker-compose.yml picks the command and the healthcheck).
# The embedded Postgres / Temporal dev server wheels come along as dependencies but are unused here:
# in this image ENGRAM_DATABASE_URL and ENGRAM_TEMPORAL_ADDRESS point at real servers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY engram ./engram
COPY api ./api
COPY workflows ./workflows
COPY activities ./activities
COPY worker.py ./
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /var/lib/engram --create-home engram

USER engram
ENV ENGRAM_DATA_DIR=/var/lib/engram \
    ENGRAM_API_HOST=0.0.0.0 \
    ENGRAM_API_PORT=8283
EXPOSE 8283
CMD ["engram", "api"]
