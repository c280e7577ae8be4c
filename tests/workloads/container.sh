#!/bin/sh
# The container workload of tests/container.rs and fixtures/container.kz: makes the cgroup
# CGROUP (a directory of the v2 hierarchy named like a container runtime's, e.g.
# .../docker-<64 hex>.scope, whose parent exists), moves this shell into it, runs a command
# there (cat of its own /proc/self/cgroup, and a child shell that reads /proc/self/ns/pid),
# then moves back into ROOT (the hierarchy's root) and removes the cgroup.
# Usage: container.sh ROOT CGROUP
set -e
root=$1
cg=$2
mkdir "$cg"
echo $$ > "$cg/cgroup.procs"
cat /proc/self/cgroup > /dev/null
sh -c 'readlink /proc/self/ns/pid > /dev/null'
echo $$ > "$root/cgroup.procs"
rmdir "$cg"
