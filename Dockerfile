# The service's image: one image, three roles (bin/entrypoint web|worker|scheduler).
#   docker build -t mailing-service .
#   docker compose up            # PostgreSQL, web, worker and scheduler (compose.yaml)

# Front-end packages (Bootstrap, Tom Select, Chart.js) come from npm, as with `make setup`.
FROM node:22-slim AS assets
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHON=python \
    WEB_BIND=0.0.0.0:8000
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY --from=assets /app/node_modules ./node_modules
COPY . .
# The service runs as a user of its own; it writes only var/ (logs) and staticfiles/.
RUN useradd --system --create-home --home-dir /home/app app \
    && mkdir -p var/log var/mail staticfiles \
    && chown -R app:app var staticfiles
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request, sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["bin/entrypoint"]
CMD ["web"]
