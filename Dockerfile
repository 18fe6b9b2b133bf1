# Image du bot des partenariats. Construire : docker build -t colibris-partenariats .
# Lancer :  docker run -d --restart unless-stopped --env-file .env \
#             -v colibris-data:/data colibris-partenariats
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATABASE_PATH=/data/partenariats.sqlite3 \
    FLOWS_DIR=/app/conversations

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
# python -m bot imports ./bot, not the installed copy, and PYTHONDONTWRITEBYTECODE keeps Python
# from caching its bytecode: compiled here once, or every start compiles ~80 modules again.
RUN python -m compileall -q bot \
    && pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin colibris \
    && mkdir -p /data && chown colibris:colibris /data && chmod 0700 /data
COPY conversations ./conversations

# Never root: the bot only needs to write its database. The umask keeps what it creates
# (database, journal, lock file) readable by its user only; the bot creates those 0600 itself.
USER colibris
VOLUME ["/data"]
CMD ["sh", "-c", "umask 0077 && exec python -m bot"]
