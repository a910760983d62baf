# Image for the web and worker processes of docker-compose.yml (docs/deploy.md).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY crawlers crawlers
COPY hub hub
COPY index index
COPY moderation moderation
COPY api api
COPY cli cli
COPY samplenet samplenet
COPY config config
# The frontier extra (redis, scrapy-redis) is small; crawl.frontier_url turns it on (docs/deploy.md).
RUN pip install -c constraints.txt ".[frontier]" && useradd --system --home-dir /app xinlian && mkdir -p /app/var && chown xinlian /app/var
USER xinlian
ENV XINLIAN_CONFIG=/app/config/production.toml
EXPOSE 8000
# Ctrl-C semantics on `docker stop`: the worker stops its crawls cleanly (their sources are recorded as
# aborted, not left leased) and uvicorn finishes in-flight requests. Python ignores SIGTERM's clean-up.
STOPSIGNAL SIGINT
CMD ["xinlian", "serve", "--host", "0.0.0.0"]
