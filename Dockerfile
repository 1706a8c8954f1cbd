# Baton: one process, SQLite under a volume by default (set DATABASE_URL for PostgreSQL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install . && useradd --system --uid 10001 --home-dir /data baton && mkdir -p /data && chown baton /data
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
