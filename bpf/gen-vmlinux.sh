#!/usr/bin/env bash
# Regenerates bpf/vmlinux.h from the running kernel's BTF. The committed header is only
# used for type definitions: CO-RE relocations make the programs run on other kernels.
set -euo pipefail
cd "$(dirname "$0")"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h
echo "bpf/vmlinux.h regenerated from $(uname -r)"
