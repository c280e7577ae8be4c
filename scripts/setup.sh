# Sourced by scripts/demo.sh and scripts/test.sh: makes sure what kellect's build needs is
# installed. The recorder compiles BPF C (clang) and links libbpf (libelf, zlib).
set -euo pipefail

kellect_need_packages() {
    local missing=()
    command -v clang >/dev/null 2>&1 || missing+=(clang)
    command -v make >/dev/null 2>&1 || missing+=(make)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    [ -e /usr/include/libelf.h ] || [ -e /usr/include/elfutils/libelf.h ] || missing+=(libelf-dev)
    [ -e /usr/include/zlib.h ] || missing+=(zlib1g-dev)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "kellect: installing build dependencies: ${missing[*]}" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "kellect: missing ${missing[*]}; install them as root:" >&2
            echo "  apt-get install -y clang libelf-dev zlib1g-dev pkg-config make" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "kellect: no apt-get here; install clang, libelf, zlib headers, pkg-config and make" >&2
        return 1
    fi
    "${sudo[@]}" apt-get update -qq
    kellect_apt_updated=1
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        clang libelf-dev zlib1g-dev pkg-config make >/dev/null
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

# The live records tests talk to real peers on loopback: a DNS server (dnsmasq) and a DNS
# client (dig). Called by scripts/test.sh only: the build and the demo do not need them.
kellect_need_test_tools() {
    local missing=()
    command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
    command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "kellect: installing test tools: ${missing[*]}" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "kellect: missing ${missing[*]}; install them as root:" >&2
            echo "  apt-get install -y ${missing[*]}" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "kellect: no apt-get here; install dnsmasq and dig (bind9 utilities)" >&2
        return 1
    fi
    # Once per run: kellect_need_packages may have updated the lists already.
    if [ -z "${kellect_apt_updated:-}" ]; then
        "${sudo[@]}" apt-get update -qq
        kellect_apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        "${missing[@]}" >/dev/null
}

kellect_need_packages
kellect_need_cargo
