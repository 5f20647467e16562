# The cxkpi worker, generator and CLI (docker-compose.yml builds it).
FROM python:3.11.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY streams ./streams
COPY topics ./topics
COPY dashboards ./dashboards
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home cxkpi
USER cxkpi
ENTRYPOINT ["cxkpi"]
CMD ["worker"]
