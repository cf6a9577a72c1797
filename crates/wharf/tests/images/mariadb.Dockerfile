# MariaDB from Debian, with the settings of the official mariadb image
# (MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, or their MYSQL_ names): the container
# tests' server.
FROM wharf-test/debian:12
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client \
    && rm -rf /var/lib/apt/lists/* /var/lib/mysql/* \
    && install -d -o mysql -g mysql /run/mysqld
COPY mariadb-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 3306
CMD ["mariadbd"]
