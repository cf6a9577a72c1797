#!/bin/sh
# The official mariadb image's entrypoint, in short: an empty data directory gets the
# system tables, root's password (MARIADB_ROOT_PASSWORD) and MARIADB_DATABASE once,
# then the server runs as mysql on every address.
set -eu
password="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:?the image needs MARIADB_ROOT_PASSWORD}}"
database="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
        --auth-root-authentication-method=normal --skip-test-db >/dev/null
    mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
    server=$!
    for _ in $(seq 100); do
        mariadb --socket=/run/mysqld/init.sock -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.2
    done
    {
        [ -z "$database" ] || echo "CREATE DATABASE \`$database\`;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$password';"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$password';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    } | mariadb --socket=/run/mysqld/init.sock -uroot
    kill "$server"
    wait "$server" || true
fi
if [ "$1" = mariadbd ]; then
    shift
    exec mariadbd --user=mysql --bind-address=0.0.0.0 "$@"
fi
exec "$@"
