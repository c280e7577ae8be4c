#!/bin/sh
# The file-life workload of tests/records.rs and fixtures/files.kz: in DIR (empty, on a
# filesystem that hands out a deleted file's inode number again, as ext4 does), a setuid
# chmod by path, a deleted file whose inode number the next file gets, a second link made
# and unlinked, then FILES (tests/workloads/files.c, built) for chmod(2), truncate(2) and
# renameat2 with RENAME_EXCHANGE, RENAME_NOREPLACE and RENAME_WHITEOUT.
# Usage: files.sh DIR FILES
set -e
cd "$1"
umask 022
echo hello > f1
chmod 4755 f1
echo 123456789012345678901234 > old
rm old
echo 123456789012345678 > new
ln new lnk
rm lnk
"$2" .
