#!/bin/sh
# The entrypoint of the Redis stand-in image (localcluster/store-images.sh),
# following the official redis image's contract: arguments that start with "-"
# (or a .conf file) are given to redis-server, which runs in /data as
# whichever user the pod gives it (the chart: redis, 999). A stand-in for tests
# on the local cluster's real node, where the official image cannot be pulled.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
cd /data
exec "$@"
