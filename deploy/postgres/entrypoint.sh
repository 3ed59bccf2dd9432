#!/bin/sh
# Initialises the data directory on first start, then runs Postgres in the foreground.
set -eu
BIN=/usr/lib/postgresql/15/bin
USER_NAME="${POSTGRES_USER:-wharf}"
PASSWORD="${POSTGRES_PASSWORD:-wharf}"
DB="${POSTGRES_DB:-wharf}"
mkdir -p "$PGDATA" /run/postgresql
chown -R postgres:postgres "$PGDATA" /run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp); echo "$PASSWORD" > "$pwfile"; chown postgres "$pwfile"
  su postgres -c "$BIN/initdb -D '$PGDATA' --username='$USER_NAME' --pwfile='$pwfile' --auth=scram-sha-256 -E UTF8" >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  su postgres -c "$BIN/pg_ctl -D '$PGDATA' -o \"-c listen_addresses=''\" -w start" >/dev/null
  su postgres -c "PGPASSWORD='$PASSWORD' psql -q -U '$USER_NAME' -d postgres -c \"CREATE DATABASE \\\"$DB\\\"\"" 2>/dev/null || true
  su postgres -c "$BIN/pg_ctl -D '$PGDATA' -m fast -w stop" >/dev/null
fi
# POSTGRES_SETTINGS: more server settings, "name=value" separated by spaces (e.g. what a
# benchmark needs to load pg_stat_statements); refused unless plain words.
extra=""
for setting in ${POSTGRES_SETTINGS:-}; do
  case "$setting" in
    *=*) ;;
    *) echo "POSTGRES_SETTINGS: '$setting' is not name=value" >&2; exit 2 ;;
  esac
  if printf '%s' "$setting" | grep -q '[^A-Za-z0-9_.,:=/-]'; then
    echo "POSTGRES_SETTINGS: '$setting' may hold only letters, digits and _ . , : = / -" >&2
    exit 2
  fi
  extra="$extra -c $setting"
done
exec su postgres -c "exec $BIN/postgres -D '$PGDATA' -c listen_addresses='*' -c fsync=${POSTGRES_FSYNC:-on} -c max_connections=200$extra"
