#!/usr/bin/env python3
"""BPF run time of one process's programs, read while it runs: polls /proc/PID/fd for BPF
program fds (anon_inode:bpf-prog) until PID exits, keeping each program's last run_time_ns
and run_cnt from /proc/PID/fdinfo (counted only while kernel.bpf_stats_enabled is 1) and its
name (struct bpf_prog_info.name, by BPF_PROG_GET_FD_BY_ID and BPF_OBJ_GET_INFO_BY_FD). Prints
one line per program that ran: name, runs, total ns, ns per run. Needs root.
Usage: bpf-prog-stats.py PID"""
import ctypes
import os
import sys
import time

BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
SYS_BPF = 321  # x86_64
libc = ctypes.CDLL(None, use_errno=True)


def bpf(cmd, attr):
    return libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))


def prog_name(prog_id):
    """struct bpf_prog_info.name (offset 64, 16 bytes) of program prog_id, or its id."""
    attr = (ctypes.c_uint32 * 4)(prog_id, 0, 0, 0)
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    if fd < 0:
        return f"prog{prog_id}"
    info = ctypes.create_string_buffer(256)
    # union bpf_attr.info: bpf_fd u32, info_len u32, info u64
    class InfoAttr(ctypes.Structure):
        _fields_ = [("fd", ctypes.c_uint32), ("len", ctypes.c_uint32), ("info", ctypes.c_uint64)]
    a = InfoAttr(fd, 256, ctypes.addressof(info))
    rc = bpf(BPF_OBJ_GET_INFO_BY_FD, a)
    os.close(fd)
    if rc < 0:
        return f"prog{prog_id}"
    return info.raw[64:80].split(b"\0")[0].decode(errors="replace") or f"prog{prog_id}"


def main():
    pid = int(sys.argv[1])
    last, names = {}, {}
    while os.path.exists(f"/proc/{pid}"):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            break
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-prog":
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    kv = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            pid_ = int(kv.get("prog_id", "0"))
            if pid_ not in names:
                names[pid_] = prog_name(pid_)
            last[pid_] = (int(kv.get("run_time_ns", "0")), int(kv.get("run_cnt", "0")))
        time.sleep(0.05)
    for pid_, (ns, cnt) in sorted(last.items(), key=lambda x: -x[1][0]):
        if cnt:
            print(f"{names[pid_]} {cnt} {ns} {ns / cnt:.1f}")


main()
