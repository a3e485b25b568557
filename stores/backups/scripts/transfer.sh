#!/bin/sh
# Moves a backup's objects between $BACKUP_DIR (default /backup) and object
# storage, through presigned S3 URLs the platform hands the Job.
#
#   transfer.sh put   uploads the objects (writing SHA256SUMS first, when listed)
#   transfer.sh get   downloads them (checking them against SHA256SUMS, when listed)
#
# Environment:
#   BACKUP_OBJECTS  the objects' names, separated by spaces
#                   (e.g. "database.dump files.tar.gz SHA256SUMS")
#   BACKUP_URL_<i>  for the i-th name (from 0), a presigned URL for that one
#                   object and this one method (PUT or GET)
#   TRANSFER_RETRIES  how many times a transfer is tried again after a network
#                   error, a timeout, 408, 429 or 5xx (default 3, a second apart
#                   and more)
#
# The URLs' query strings hold their signatures: they are never printed, and
# they stay off command lines (curl reads its URL from standard input, node
# from its environment). curl is used where the image has it; the Medusa
# image (node:22-bookworm-slim) has none, so there node does the work.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
TRANSFER_RETRIES=${TRANSFER_RETRIES:-3}
SUMS=SHA256SUMS

die() {
    echo "transfer.sh: $*" >&2
    exit 1
}

MODE=${1:-}
case $MODE in
    put) METHOD=PUT ;;
    get) METHOD=GET ;;
    *) die "usage: transfer.sh put|get" ;;
esac
[ -n "${BACKUP_OBJECTS:-}" ] || die "BACKUP_OBJECTS is not set"
[ -d "$BACKUP_DIR" ] || die "$BACKUP_DIR is not a directory"
case $TRANSFER_RETRIES in
    '' | *[!0-9]*) die "TRANSFER_RETRIES must be a number, not '$TRANSFER_RETRIES'" ;;
esac
export TRANSFER_RETRIES

# The names are split on spaces and must never be taken for patterns.
set -f

# Every name is a plain file name (nothing that could leave $BACKUP_DIR or
# be read as an option), and every one has its URL.
i=0
for name in $BACKUP_OBJECTS; do
    case $name in
        .* | -* | *[!A-Za-z0-9._-]*) die "object name '$name' is not a plain file name" ;;
    esac
    eval "url=\${BACKUP_URL_$i:-}"
    # shellcheck disable=SC2154 # url is set by the eval above
    [ -n "$url" ] || die "BACKUP_URL_$i (the URL for $name) is not set"
    i=$((i + 1))
done

if command -v curl >/dev/null 2>&1; then
    CLIENT=curl
elif command -v node >/dev/null 2>&1; then
    CLIENT=node
else
    die "this image has neither curl nor node to transfer with"
fi

TMP=$(mktemp -d) || die "cannot make a temporary directory: ${TMPDIR:-/tmp} must be writable"
# A download cut short leaves no file behind under the object's name or any other.
part=
trap 'rm -rf "$TMP" ${part:+"$part"}' EXIT
trap 'exit 1' HUP INT TERM

# node's http and https modules stream the file up with its length declared
# (S3 refuses a presigned PUT sent chunked) and downloads to disk, each with
# backpressure: node's fetch, given the file as a stream, held a whole 300 MB
# upload in memory (Node 20, undici 6). A few retries for what may pass
# (network errors, 408, 429, 5xx); a connection idle for a minute fails.
cat >"$TMP/transfer.js" <<'JS'
'use strict';
const fs = require('node:fs');
const { pipeline } = require('node:stream/promises');

const [method, name, file] = process.argv.slice(2);
const url = process.env.TRANSFER_URL;
const retries = Number(process.env.TRANSFER_RETRIES);
const target = new URL(url);
const transport = target.protocol === 'https:' ? require('node:https') : require('node:http');
// The query string, and each of its values long enough to be a secret (the
// signature, the credential): an error body may quote them (S3's
// SignatureDoesNotMatch gives the signature back).
const query = target.search;
const secrets = [query, ...query.slice(1).split('&').map((p) => p.slice(p.indexOf('=') + 1))]
  .filter((s) => s.length >= 8);
const redact = (text) => secrets.reduce((t, s) => t.split(s).join('...'), String(text));
const fail = (message) => {
  process.stderr.write(`transfer.sh: ${redact(message)}\n`);
  process.exit(1);
};
const transient = (status) => [408, 429, 500, 502, 503, 504].includes(status);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One request; resolves with the response once its headers are in.
function request() {
  return new Promise((resolve, reject) => {
    // Named in the bucket's access log (node's http module sends no User-Agent).
    const headers = { 'user-agent': `store-backup node/${process.versions.node}` };
    let source = null;
    if (method === 'PUT') {
      headers['content-length'] = fs.statSync(file).size;
      source = fs.createReadStream(file);
    }
    const req = transport.request(target, { method, headers, timeout: 60000 }, resolve);
    req.on('timeout', () => req.destroy(new Error('no answer for 60 s')));
    req.on('error', reject);
    if (source) {
      source.on('error', (error) => req.destroy(error));
      source.pipe(req);
    } else {
      req.end();
    }
  });
}

async function firstBytes(response, limit) {
  const chunks = [];
  let length = 0;
  for await (const chunk of response) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= limit) break;
  }
  response.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8').replace(/[^\x20-\x7e\u00a0-\uffff]/g, ' ');
}

async function main() {
  let response;
  for (let attempt = 1; ; attempt += 1) {
    try {
      response = await request();
      if (!transient(response.statusCode) || attempt > retries) break;
      response.resume();
    } catch (error) {
      if (attempt > retries) fail(`${method} ${name} failed: ${error.message}`);
    }
    await sleep(1000);
  }
  const status = response.statusCode;
  if (status < 200 || status > 299) {
    // Redacted before it is cut short, so that no part of a secret is left.
    const body = redact(await firstBytes(response, 4096)).slice(0, 200);
    fail(`${method} ${name} failed: HTTP ${status} from ${target.origin}${target.pathname}: ${body}`);
  }
  if (method === 'GET') {
    await pipeline(response, fs.createWriteStream(file));
    const expected = response.headers['content-length'];
    const got = fs.statSync(file).size;
    if (expected !== undefined && Number(expected) !== got) {
      fail(`${method} ${name} failed: ${got} bytes arrived of the ${expected} announced`);
    }
  } else {
    response.resume();
  }
}

main().catch((error) => fail(`${method} ${name} failed: ${error.message}`));
JS

# transfer NAME FILE URL: PUTs FILE, or GETs into FILE, or fails saying why
# (the HTTP status and the first bytes of the answer) without the query string.
transfer() {
    name=$1 file=$2 url=$3
    where=${url%%\?*}
    if [ "$CLIENT" = node ]; then
        TRANSFER_URL=$url node "$TMP/transfer.js" "$METHOD" "$name" "$file"
        return
    fi
    if [ "$METHOD" = PUT ]; then
        body=$TMP/answer
        set -- --upload-file "$file"
    else
        body=$file
        set --
    fi
    # curl reads the URL from its configuration on standard input ("url" in
    # double quotes, where \ and " are escaped). --upload-file sends the
    # file's length as Content-Length. --retry: timeouts, 408, 429 and 5xx;
    # --speed-*: a transfer stalled for a minute fails rather than hangs.
    status=0
    code=$(printf 'url = "%s"\n' "$(printf '%s' "$url" | sed 's/[\\"]/\\&/g')" \
        | curl --config - --silent --show-error --output "$body" --write-out '%{http_code}' \
            --retry "$TRANSFER_RETRIES" --retry-delay 1 --retry-connrefused --connect-timeout 10 \
            --speed-limit 1 --speed-time 60 "$@" 2>"$TMP/curl.err") || status=$?
    if [ "$status" != 0 ]; then
        # curl's own messages name the host, never the query string; redacted all the same.
        die "$METHOD $name failed: $(redact <"$TMP/curl.err" | tr '\n' ' ')(curl exit status $status)"
    fi
    case $code in
        2??) ;;
        # Redacted before it is cut short, so that no part of a secret is left.
        *) die "$METHOD $name failed: HTTP $code from $where: $(dd if="$body" bs=4096 count=1 2>/dev/null \
            | tr -c '[:print:]' ' ' | redact | cut -c 1-200)" ;;
    esac
}

# Removes from what it reads the current URL's query string, and each of its
# values long enough to be a secret (the signature, the credential): an error
# body may quote them (S3's SignatureDoesNotMatch gives the signature back).
redact() {
    QUERY=${url#"$where"} awk '
        BEGIN {
            q = ENVIRON["QUERY"]
            n = 0
            if (length(q) >= 8) secret[++n] = q
            count = split(substr(q, 2), params, "&")
            for (k = 1; k <= count; k++) {
                value = params[k]
                sub(/^[^=]*=/, "", value)
                if (length(value) >= 8) secret[++n] = value
            }
        }
        {
            for (k = 1; k <= n; k++)
                while ((i = index($0, secret[k])) > 0)
                    $0 = substr($0, 1, i - 1) "..." substr($0, i + length(secret[k]))
            print
        }'
}

size() {
    wc -c <"$1" | tr -d ' '
}

listed_sums=
others=
for name in $BACKUP_OBJECTS; do
    if [ "$name" = "$SUMS" ]; then listed_sums=1; else others="$others $name"; fi
done

# url_of NAME: the URL given for NAME.
url_of() {
    i=0
    for candidate in $BACKUP_OBJECTS; do
        if [ "$candidate" = "$1" ]; then
            eval "printf '%s' \"\$BACKUP_URL_$i\""
            return
        fi
        i=$((i + 1))
    done
}

if [ "$MODE" = put ]; then
    for name in $others; do
        [ -f "$BACKUP_DIR/$name" ] || die "$BACKUP_DIR/$name does not exist"
    done
    if [ -n "$listed_sums" ]; then
        # Relative names, so that `sha256sum -c` checks them wherever they are downloaded.
        # shellcheck disable=SC2086 # one argument per name
        (cd "$BACKUP_DIR" && if [ -n "$others" ]; then sha256sum -- $others; fi) >"$TMP/$SUMS" \
            || die "could not checksum the objects in $BACKUP_DIR"
        mv "$TMP/$SUMS" "$BACKUP_DIR/$SUMS"
    fi
    # SHA256SUMS goes last: its presence in the bucket says the others are all there.
    for name in $others ${listed_sums:+$SUMS}; do
        transfer "$name" "$BACKUP_DIR/$name" "$(url_of "$name")"
        echo "transfer.sh: put $name ($(size "$BACKUP_DIR/$name") bytes)"
    done
else
    for name in $BACKUP_OBJECTS; do
        part=$BACKUP_DIR/$name.partial
        rm -f "$BACKUP_DIR/$name" "$part"
        transfer "$name" "$part" "$(url_of "$name")"
        mv "$part" "$BACKUP_DIR/$name"
        part=
        echo "transfer.sh: got $name ($(size "$BACKUP_DIR/$name") bytes)"
    done
    if [ -n "$listed_sums" ]; then
        # Only the downloaded objects are checked, but every one of them must
        # have its line.
        : >"$TMP/check"
        for name in $others; do
            NAME=$name awk '$2 == ENVIRON["NAME"]' "$BACKUP_DIR/$SUMS" >>"$TMP/check"
            grep -q " $name\$" "$TMP/check" || die "$SUMS has no checksum for $name"
        done
        (cd "$BACKUP_DIR" && sha256sum --check --quiet --strict "$TMP/check") \
            || die "checksum mismatch: the downloaded objects are not the ones that were uploaded"
        echo "transfer.sh: checked$others against $SUMS"
    fi
fi
