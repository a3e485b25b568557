#!/bin/sh
# Makes the contents of the store's files volume ($FILES_DIR, default /files)
# equal those of $BACKUP_DIR/files.tar.gz (made by files-archive.sh): what is
# there is removed, then the archive is extracted.
#
# $FILES_DIR itself stays (it is the volume's mount point), as does the file
# system's lost+found. Works as root (owners restored from the archive's
# numbers) and as the user that owns the files (they become its own).
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
FILES_DIR=${FILES_DIR:-/files}
IN=$BACKUP_DIR/files.tar.gz

die() {
    echo "files-extract.sh: $*" >&2
    exit 1
}

[ -d "$FILES_DIR" ] || die "$FILES_DIR is not a directory"
[ -f "$IN" ] || die "$IN does not exist"

# A damaged archive must be found before the files are removed, not after.
tar --list --gzip --file="$IN" >/dev/null || die "$IN is not a readable tar.gz archive"

# Every entry of $FILES_DIR but lost+found ("! -name . -prune": the top
# level only, in POSIX find).
find "$FILES_DIR/." ! -name . -prune ! -name lost+found -exec rm -rf -- {} + \
    || die "could not remove the contents of $FILES_DIR"

if [ "$(id -u)" = 0 ]; then
    owner="--same-owner --numeric-owner"
else
    owner="--no-same-owner"
fi
# shellcheck disable=SC2086 # $owner holds two options or one
tar --extract --gzip --file="$IN" --directory="$FILES_DIR" --preserve-permissions $owner \
    || die "extracting $IN into $FILES_DIR failed; its contents are incomplete: run the restore again"

echo "files-extract.sh: $FILES_DIR now holds the contents of $IN"
