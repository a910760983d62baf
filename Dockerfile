# Image for the web and worker processes of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY crawlers crawlers
COPY hub hub
COPY index index
COPY moderation moderation
COPY api api
COPY cli cli
COPY samplenet samplenet
COPY config config
RUN pip install --no-cache-dir . && useradd --system xinlian
USER xinlian
ENV XINLIAN_CONFIG=/app/config/production.toml
EXPOSE 8000
CMD ["xinlian", "serve", "--host", "0.0.0.0"]
