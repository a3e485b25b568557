#!/bin/sh
# Starts the Medusa server from the bundle setup.sh built, once setup is done.
#
# The server pod may start before (or while) the setup Job runs: it waits for
# $APP_DIR/state/setup-done, for at most SETUP_WAIT_SECONDS (default 1800),
# then runs the server in place of this shell so it gets the signals.
set -eu

APP_DIR=${APP_DIR:-/data/app}
PORT=${PORT:-9000}
WAIT=${SETUP_WAIT_SECONDS:-1800}
export PORT MEDUSA_DISABLE_TELEMETRY=true NODE_ENV="${NODE_ENV:-production}"

waited=0
while [ ! -f "$APP_DIR/state/setup-done" ]; do
    if [ "$waited" -ge "$WAIT" ]; then
        echo "start-server: setup not done after ${WAIT} s ($APP_DIR/state/setup-done is missing)" >&2
        exit 1
    fi
    if [ $((waited % 30)) = 0 ]; then echo "start-server: waiting for setup ($APP_DIR/state/setup-done)"; fi
    sleep 2
    waited=$((waited + 2))
done

cd "$APP_DIR/.medusa/server"
# `medusa start` at the project root would look for the admin in the wrong
# place; from the bundle it serves public/admin at /app.
exec ./node_modules/.bin/medusa start
