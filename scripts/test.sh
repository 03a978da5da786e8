#!/usr/bin/env bash
# Install everything the tests need into .venv, lint, and run the whole suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k imagine`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,charts]'
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
