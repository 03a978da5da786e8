#!/usr/bin/env bash
# Install the bot into .venv and start it with the settings from .env (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[charts]'
if [ ! -f .env ] && [ -z "${DISCORD_TOKEN:-}" ]; then
  echo "No .env found: copy .env.example to .env and fill in DISCORD_TOKEN, IMAGE_PROVIDER and IMAGE_API_KEY." >&2
  exit 2
fi
exec .venv/bin/python bot.py "$@"
