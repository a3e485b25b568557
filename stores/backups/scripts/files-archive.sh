#!/bin/sh
# Archives the contents of the store's files volume ($FILES_DIR, default
# /files: WordPress's wp-content, say) to $BACKUP_DIR/files.tar.gz.
#
# Paths in the archive are relative ("./uploads/…"), owners numeric (the
# restoring container's /etc/passwd need not know them), modes kept.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
FILES_DIR=${FILES_DIR:-/files}
OUT=$BACKUP_DIR/files.tar.gz
PART=$OUT.partial

die() {
    echo "files-archive.sh: $*" >&2
    exit 1
}

[ -d "$FILES_DIR" ] || die "$FILES_DIR is not a directory"
[ -d "$BACKUP_DIR" ] || die "$BACKUP_DIR is not a directory"

# A stale archive from an earlier run must never pass for this run's result.
rm -f "$OUT" "$PART"
trap 'rm -f "$PART"' EXIT
trap 'exit 1' HUP INT TERM

# The archive holds the directory's entries, not the directory itself ("."):
# extracting "." would set the mount point's owner and mode, which a user that
# does not own it may not. lost+found belongs to the volume's file system, not
# to the store (and only root may read it). The patterns take hidden entries
# too; those that match nothing are skipped.
set --
for path in "$FILES_DIR"/* "$FILES_DIR"/.[!.]* "$FILES_DIR"/..?*; do
    entry=./${path#"$FILES_DIR"/}
    if [ "$entry" != ./lost+found ] && { [ -e "$path" ] || [ -L "$path" ]; }; then
        set -- "$@" "$entry"
    fi
done
status=0
if [ $# -eq 0 ]; then
    # An empty directory: an archive with no entries.
    tar --create --gzip --file="$PART" --files-from=/dev/null || status=$?
else
    tar --create --gzip --file="$PART" --directory="$FILES_DIR" --numeric-owner -- "$@" || status=$?
fi
case $status in
    0) ;;
    # GNU tar's 1 means a file changed while it was read: the store is live,
    # the archive is whole and holds the file as it was at one moment.
    1) echo "files-archive.sh: warning: files changed while they were archived" >&2 ;;
    *) die "tar could not archive $FILES_DIR (exit status $status)" ;;
esac

mv "$PART" "$OUT"
echo "files-archive.sh: $FILES_DIR archived to $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes)"
