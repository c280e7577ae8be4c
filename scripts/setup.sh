# Sourced by scripts/demo.sh and scripts/test.sh: makes sure what kellect's build needs is
# installed. The recorder compiles BPF C (clang) and links libbpf (libelf, zlib).
set -euo pipefail

# kellect_apt_install WHAT PACKAGE...: installs Debian packages, as root or through sudo,
# updating the package lists once per run.
kellect_apt_install() {
    local what=$1
    shift
    echo "kellect: installing $what: $*" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "kellect: missing $*; install them as root: apt-get install -y $*" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "kellect: no apt-get here; install the equivalents of: $*" >&2
        return 1
    fi
    if [ -z "${kellect_apt_updated:-}" ]; then
        "${sudo[@]}" apt-get update -qq
        kellect_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

kellect_need_packages() {
    local missing=()
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -e /usr/include/libelf.h ] || [ -e /usr/include/elfutils/libelf.h ] || missing+=(libelf-dev)
    [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    [ ${#missing[@]} -eq 0 ] || kellect_apt_install "build dependencies" "${missing[@]}"
}

kellect_need_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "kellect: cargo is not installed; install Rust (https://rustup.rs) first" >&2
        return 1
    fi
}

# The live tests run real workloads and talk to real peers on loopback: a DNS server
# (dnsmasq) and client (dig), an HTTP client (curl), python3 for scripted peers and
# clients, a C compiler for the catalogue workload, DuckDB (Python's duckdb module) for the
# Parquet tests, tcpdump for the packet counter tests. Called by scripts/test.sh only: the build and the demo do not need them.
kellect_need_test_tools() {
    local missing=()
    command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
    command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
    command -v logger >/dev/null 2>&1 || missing+=(bsdutils)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v strace >/dev/null 2>&1 || missing+=(strace)
    # The programs tests/differential.rs runs under strace.
    command -v git >/dev/null 2>&1 || missing+=(git)
    command -v tar >/dev/null 2>&1 || missing+=(tar)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
    command -v man >/dev/null 2>&1 || missing+=(man-db) # renders `kellect man`
    # tests/report.rs renders `kellect report` headless (screenshot and DOM).
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    # tests/live/packets.rs compares kellect's per-socket packet counters with a capture.
    command -v tcpdump >/dev/null 2>&1 || [ -x /usr/sbin/tcpdump ] || missing+=(tcpdump)
    [ ${#missing[@]} -eq 0 ] || kellect_apt_install "test tools" "${missing[@]}"
    kellect_need_duckdb
}

# tests/parquet.rs reads kellect's Parquet and NDJSON with DuckDB, through Python's duckdb
# module (from PyPI; --break-system-packages: Debian's python3 refuses pip otherwise). As
# root, or through sudo, into the python3 the tests run.
kellect_need_duckdb() {
    python3 -c 'import duckdb' >/dev/null 2>&1 && return 0
    python3 -m pip --version >/dev/null 2>&1 || kellect_apt_install "pip" python3-pip
    echo "kellect: installing test tools: duckdb (PyPI)" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    fi
    "${sudo[@]}" python3 -m pip install --quiet --break-system-packages duckdb
}

kellect_need_packages
kellect_need_cargo
