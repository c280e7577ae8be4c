#!/bin/sh
# The owner, time, extended attribute and copy workload (tests/files2.rs, fixtures/files2.kz):
# files2.c's syscalls in DIR, then what a user would type: a timestamp forged with touch,
# an owner changed with chown, a copy with cp and one through cat (coreutils 9 copies with
# copy_file_range). Usage: files2.sh DIR FILES2_BINARY
set -eu
dir=$1
"$2" "$dir"
: > "$dir/t"
TZ=UTC touch -m -t 197001010000 "$dir/t"
chown 1000:1000 "$dir/t"
cp "$dir/src" "$dir/cp.out"
cat "$dir/src" > "$dir/cat.out"
