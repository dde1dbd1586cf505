#!/usr/bin/env bash
# postgres-down.sh - stops the cluster that scripts/postgres-up.sh started (fast shutdown:
# open sessions are disconnected). Safe to run twice, and when PostgreSQL is not installed.
# The project's own copy of shared/scripts/postgres-down.sh.
# Environment: PG_VERSION, PG_CLUSTER as in postgres-up.sh.
set -uo pipefail
CLUSTER=${PG_CLUSTER:-main}
VER=${PG_VERSION:-$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)}
[ -n "$VER" ] || { echo "postgres-down: postgresql not installed" >&2; exit 0; }
command -v pg_ctlcluster >/dev/null || { echo "postgres-down: pg_ctlcluster not found" >&2; exit 0; }
if pg_ctlcluster "$VER" "$CLUSTER" status >/dev/null 2>&1; then
  pg_ctlcluster -m fast "$VER" "$CLUSTER" stop && echo "postgres-down: stopped $VER/$CLUSTER" >&2
else
  echo "postgres-down: $VER/$CLUSTER not running" >&2
fi
exit 0
