#!/usr/bin/env bash
# Installs the .deb that scripts/package.sh builds on this machine and removes it again,
# checking what it carries: the binary, the man pages (man -w), the bash/zsh/fish
# completions, the configuration as a conffile, /var/lib/kellect with mode 0700, and the
# systemd unit (systemd-analyze verify); then dpkg -r keeps the configuration and the
# traces directory, and dpkg --purge takes them. Needs root: without it the test fails in
# CI (CI set) and says it did not run elsewhere. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "test-package: FAILED: $*" >&2
    exit 1
}
if [ "$(id -u)" -ne 0 ]; then
    [ -n "${CI:-}" ] && fail "must run as root in CI (it installs a .deb)"
    echo "test-package: NOT RUN: installing a .deb needs root (sudo bash scripts/test-package.sh)" >&2
    exit 0
fi
. scripts/setup.sh
command -v man >/dev/null 2>&1 || kellect_apt_install "man -w" man-db
command -v systemd-analyze >/dev/null 2>&1 || kellect_apt_install "systemd-analyze" systemd
command -v rpm >/dev/null 2>&1 || kellect_apt_install "rpm -qp" rpm

# One package test at a time on this machine: they install the same package.
exec 9>/run/lock/kellect-test-package.lock
flock 9

if dpkg-query -W -f='${Status}' kellect 2>/dev/null | grep -q 'install ok'; then
    fail "a kellect package is installed already; remove it first (dpkg --purge kellect)"
fi
[ ! -e /var/lib/kellect ] || fail "/var/lib/kellect exists already; the test would not know whose it is"
[ ! -e /etc/kellect ] || fail "/etc/kellect exists already; the test would not know whose it is"

start=$SECONDS
bash scripts/package.sh
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
version=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"][0]["version"])')
deb=$(ls "$target"/debian/kellect_"$version"-*_*.deb | tail -n 1)
rpm_file=$(ls "$target"/generate-rpm/kellect-"$version"-*.rpm | tail -n 1)
echo "== packages: $deb, $rpm_file (built in $((SECONDS - start)) s)"

installed=
cleanup() {
    [ -z "$installed" ] || dpkg --purge kellect >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== the .rpm holds the same files, the configuration marked as such"
rpm_list=$(rpm -qpl "$rpm_file" 2>/dev/null)
for f in /usr/bin/kellect /usr/share/man/man1/kellect.1.gz /usr/share/man/man1/kellect-record.1.gz \
    /usr/share/bash-completion/completions/kellect /usr/share/zsh/site-functions/_kellect \
    /usr/share/fish/vendor_completions.d/kellect.fish /usr/lib/systemd/system/kellect.service \
    /etc/kellect/kellect.toml; do
    grep -qxF "$f" <<<"$rpm_list" || fail "the .rpm lacks $f (it holds: $rpm_list)"
done
[ "$(rpm -qpc "$rpm_file" 2>/dev/null)" = /etc/kellect/kellect.toml ] || fail "the .rpm's configuration files: $(rpm -qpc "$rpm_file")"

echo "== dpkg -i"
# Minimal images exclude /usr/share/man from installation (dpkg path-exclude): the test
# checks kellect's man pages, so they are let in.
dpkg --path-include='/usr/share/man/man1/kellect*' -i "$deb"
installed=1

[ "$(command -v kellect)" = /usr/bin/kellect ] || fail "kellect is not /usr/bin/kellect: $(command -v kellect)"
kellect --version | grep -qF "kellect $version (git " || fail "kellect --version: $(kellect --version)"

page=$(man -w kellect) || fail "man -w kellect found no page"
[ "$page" = /usr/share/man/man1/kellect.1.gz ] || fail "man -w kellect: $page"
for sub in record replay info verify live completions man; do
    man -w "kellect-$sub" >/dev/null || fail "man -w kellect-$sub found no page"
done
zcat "$page" | grep -q '^\.TH kellect 1' || fail "$page is not a kellect(1) page"

bash_completion=/usr/share/bash-completion/completions/kellect
bash -c ". $bash_completion && complete -p kellect" | grep -q 'kellect' ||
    fail "$bash_completion does not define the completion of kellect"
grep -q '#compdef kellect' /usr/share/zsh/vendor-completions/_kellect || fail "zsh completion"
grep -q 'complete -c kellect' /usr/share/fish/vendor_completions.d/kellect.fish || fail "fish completion"

conf=/etc/kellect/kellect.toml
dpkg-query -W -f='${Conffiles}\n' kellect | grep -q "^ $conf " || fail "$conf is not a conffile"
grep -qx 'output = "/var/lib/kellect/trace.kz"' "$conf" || fail "$conf: no output key"
[ "$(grep -cv '^\(#.*\)\?$' "$conf")" -eq 3 ] || fail "$conf sets more than output, rotate-size and keep"

[ -d /var/lib/kellect ] || fail "/var/lib/kellect was not made"
[ "$(stat -c '%a %U %G' /var/lib/kellect)" = "700 root root" ] ||
    fail "/var/lib/kellect: $(stat -c '%a %U %G' /var/lib/kellect), not 700 root root"

unit=/usr/lib/systemd/system/kellect.service
verify=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify $unit complained: $verify"
grep -qx 'ExecStart=/usr/bin/kellect record --config /etc/kellect/kellect.toml' "$unit" || fail "$unit: ExecStart"
systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -n 1

# ExecStartPre moves a recording left by an earlier start aside (kept, never overwritten),
# so that a restart can create trace.kz again. Run as systemd would ($$ -> $, %% -> %).
pre=$(sed -n "s/^ExecStartPre=\/bin\/sh -c '\(.*\)'$/\1/p" "$unit" | sed 's/\$\$/$/g; s/%%/%/g')
[ -n "$pre" ] || fail "$unit: no ExecStartPre"
sh -c "$pre" || fail "ExecStartPre failed on an empty /var/lib/kellect"
[ -z "$(ls -A /var/lib/kellect)" ] || fail "ExecStartPre made something in an empty /var/lib/kellect"
echo left-over >/var/lib/kellect/trace.kz
echo left-over >/var/lib/kellect/trace.1.kz
sh -c "$pre" || fail "ExecStartPre failed"
[ ! -e /var/lib/kellect/trace.kz ] || fail "ExecStartPre left trace.kz in place"
moved=$(find /var/lib/kellect -path '/var/lib/kellect/previous-*/trace*.kz' | wc -l)
[ "$moved" -eq 2 ] || fail "ExecStartPre moved $moved of 2 segments aside"
# Only the newest KELLECT_KEEP_PREVIOUS previous-* directories stay; snapshots are not touched.
grep -qx 'Environment=KELLECT_KEEP_PREVIOUS=8' "$unit" || fail "$unit: KELLECT_KEEP_PREVIOUS"
rm -rf /var/lib/kellect/previous-*
for t in 20200101T000001Z 20200101T000002Z 20200101T000003Z 20200101T000004Z; do
    mkdir -m 0700 "/var/lib/kellect/previous-$t"
done
mkdir -m 0700 /var/lib/kellect/trace.snapshot-20200101T000000Z
echo left-over >/var/lib/kellect/trace.kz
KELLECT_KEEP_PREVIOUS=3 sh -c "$pre" || fail "ExecStartPre failed with 5 previous runs"
left=$(cd /var/lib/kellect && echo previous-*)
case "$left" in
"previous-20200101T000003Z previous-20200101T000004Z previous-2"*) ;;
*) fail "ExecStartPre kept $left, not the newest 3" ;;
esac
[ "$(echo $left | wc -w)" -eq 3 ] || fail "ExecStartPre kept $left, not 3"
[ -d /var/lib/kellect/trace.snapshot-20200101T000000Z ] || fail "ExecStartPre deleted a snapshot"
rm -rf /var/lib/kellect/previous-* /var/lib/kellect/trace.snapshot-*

echo "== dpkg -r: the configuration and the traces directory stay"
dpkg -r kellect
[ ! -e /usr/bin/kellect ] || fail "/usr/bin/kellect is still there after dpkg -r"
[ ! -e "$unit" ] || fail "$unit is still there after dpkg -r"
[ ! -e /usr/share/man/man1/kellect.1.gz ] || fail "the man page is still there after dpkg -r"
[ ! -e "$bash_completion" ] || fail "the bash completion is still there after dpkg -r"
[ -f "$conf" ] || fail "dpkg -r removed the conffile $conf"
[ -d /var/lib/kellect ] || fail "dpkg -r removed /var/lib/kellect"

echo "== dpkg --purge: nothing is left"
dpkg --purge kellect
installed=
! dpkg-query -W -f='${Status}' kellect 2>/dev/null | grep -q 'install ok' || fail "still installed"
for gone in "$conf" /etc/kellect /var/lib/kellect; do
    [ ! -e "$gone" ] || fail "$gone is still there after dpkg --purge"
done
echo "test-package: ok ($((SECONDS - start)) s)"
