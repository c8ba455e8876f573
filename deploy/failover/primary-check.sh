#!/bin/sh
# HAProxy's external check of a PostgreSQL node (deploy/failover/haproxy.cfg): it passes (exit 0)
# only on the writable primary, as Patroni's /primary endpoint does; a standby, a demoted node, a
# node that is down or cut off, or one that does not answer within 2 s fails it.
# HAProxy calls it with: <proxy address> <proxy port> <server address> <server port>, and clears the
# environment (2.6 has no preserve-env): it logs in as postgres to the payments database, which
# pg_hba.conf must let in from HAProxy's host (trust in the tests; a ~/.pgpass of HAProxy's user
# otherwise).
# Debian's /usr/bin/psql is a Perl wrapper that picks a version: call the program itself, which
# starts several times faster (a check runs every second, on the database's machine).
for candidate in /usr/lib/postgresql/*/bin/psql; do [ -x "$candidate" ] && psql=$candidate; done
answer=$("${psql:-psql}" "host=$3 port=$4 user=postgres dbname=payments connect_timeout=2 application_name=haproxy-primary-check" \
  -XAtqc "SELECT 'writable' WHERE NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'" 2>/dev/null)
[ "$answer" = writable ]
