#!/bin/sh
# The entrypoint of the Redis stand-in image (localcluster/store-images.sh),
# following the official redis image's contract: arguments that start with "-"
# (or a .conf file) are given to redis-server, which runs in /data as
# whichever user the pod gives it (the chart: redis, 999). A stand-in for tests
# on the local cluster's real node, where the official image cannot be pulled.
set -eu

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
# The official image turns protected mode off (it is built with it off): the
# pod's network and its policies decide who reaches Redis, and without this a
# password-less Redis answers every client not on loopback with DENIED.
if [ "$1" = redis-server ]; then
    shift
    # A configuration file stays the first argument, as redis-server requires.
    if [ -n "${1:-}" ] && [ "${1%.conf}" != "$1" ]; then
        conf=$1
        shift
        set -- redis-server "$conf" --protected-mode no "$@"
    else
        set -- redis-server --protected-mode no "$@"
    fi
fi
cd /data
exec "$@"
