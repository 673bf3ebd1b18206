#!/usr/bin/env bash
# A real streaming replica of the local PostgreSQL 15 and the dashboard served from it: see replica.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=.venv/bin/python
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" -u bench/replica/replica.py "$@"
