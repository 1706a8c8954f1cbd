# Baton: one process, SQLite under a volume by default (set DATABASE_URL for PostgreSQL).
# Packages come from requirements.lock (exact versions and hashes), so a rebuild installs the same ones.
# BASE_IMAGE: any Debian-like image with python3.11 and useradd (docker/local-base.sh makes one
# from Debian packages where Docker Hub is out of reach).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
LABEL baton.stage=build
# BUILD_CA_PEM: extra CA certificates (PEM text) for pip behind an intercepting HTTPS proxy. Used in
# this stage only; the final image copies the installed packages, not the certificate.
ARG BUILD_CA_PEM=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_CERT=/tmp/build-ca.pem
WORKDIR /src
COPY requirements.lock ./
RUN python3 -m venv /opt/baton \
    && cat "$(/opt/baton/bin/python -c 'import pip._vendor.certifi as c; print(c.where())')" > /tmp/build-ca.pem \
    && printf '%s\n' "$BUILD_CA_PEM" >> /tmp/build-ca.pem \
    && /opt/baton/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN /opt/baton/bin/pip install --no-deps . && /opt/baton/bin/pip check

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/baton/bin:$PATH
RUN useradd --system --uid 10001 --home-dir /data baton && mkdir -p /data && chown baton /data
COPY --from=build /opt/baton /opt/baton
WORKDIR /app
COPY ownership.yaml severity.yaml slack-app-manifest.yaml ./

USER baton
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:////data/baton.db \
    BATON_OWNERSHIP_FILE=/app/ownership.yaml \
    BATON_SEVERITY_FILE=/app/severity.yaml \
    BATON_PID_FILE=/data/baton.pid \
    PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT','3000'), timeout=4)"
CMD ["baton", "serve"]
