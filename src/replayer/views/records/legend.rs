//! `--legend`: every key the records view can print, with its meaning, its unit, and the
//! option that enables it when one does. The keys are those of the record types of
//! [`crate::replayer::views::records::kflowd`]: a test there serializes a record of each kind with every field present
//! and checks that this list names exactly its keys, in their order (the keys inside
//! application messages come from `protocols::legend`).

use crate::replayer::views::records::protocols;

/// (key, meaning) for every key of the records view, in output order.
pub fn legend() -> Vec<(&'static str, &'static str)> {
    let mut keys: Vec<(&'static str, &'static str)> = vec![
        ("InfoSequenceNumber", "number of the record in this output: 1, 2, ... (deterministic)"),
        ("InfoTimestamp", "event time of the record's last event (UTC, ns)"),
        ("InfoMonitor", "filesystem | socket | process"),
        ("InfoExport", "why the record left: close (the last fd of the file or socket in the process closed, or an exec closed it: close-on-exec), delete, rename, link, max-events (--max-events), process-exit, exit, tcp-close, idle / active (-t), end-of-trace"),
        ("InfoHostName", "host name of the recorded host"),
        ("InfoHostIP", "first non-loopback address of the recorded host"),
        ("InfoHostToken", "the token given with -T"),
        ("InfoSystem", "operating system of the recorded host (uname)"),
        ("InfoKernel", "kernel release of the recorded host (uname)"),
        ("InfoVersion", "kellect version that replayed the trace"),
        ("InfoUptime", "seconds from the start of recording to InfoTimestamp"),
        ("ProcParent", "name (comm) of the parent process"),
        ("Proc", "name (comm) of the process"),
        ("ProcVersion", "installed package version of the executable (dpkg; record with -v)"),
        ("ProcUser", "user name of ProcUID on the recorded host"),
        ("ProcGroup", "group name of ProcGID on the recorded host"),
        ("ProcPPID", "parent process id"),
        ("ProcPID", "process id"),
        ("ProcTID", "thread id of the last event"),
        ("ProcExecId", "stable id of the process image (a process between two execs), the same as the events view's exec_id: base64 of BOOT_ID:START_NS:TGID (boot id of the recorded host; boot-time ns when the image began: its exec, else the fork that made the process, else its start time in the snapshot at record start, 0 if none was seen; process id)"),
        ("ProcAncestors", "process records: the images the process was started under, nearest first, at most 16, each {ProcExecId, Proc (comm as it began), ProcPID}"),
        ("ProcUID", "real user id"),
        ("ProcGID", "real group id"),
        ("ProcAge", "seconds since the process started (fork or, before the recording, its start time)"),
        ("ContainerId", "the container the process is in: its id (64 hex digits; systemd-nspawn and LXC: its name), found in the path of its cgroup (CgroupPath); every record of a process in a container has it, others none. Select with --container ID (in full or its first 12 characters)"),
        ("ContainerRuntime", "docker | containerd | cri-o | podman | cri (a Kubernetes container of the cgroupfs driver) | systemd-nspawn | lxc: the runtime whose cgroup naming the path follows"),
        ("ContainerPod", "the Kubernetes pod's uid, for a container of a pod"),
        ("CgroupPath", "the process's cgroup (v2 hierarchy; on a v1 or hybrid host the v1 one that names a container), from the recorded cgroup tree and the cgroup_mkdir and cgroup_attach_task tracepoints"),
        ("ProcExe", "process records: the executable exec ran (path as the kernel resolved it)"),
        ("ProcArgv", "process records: the arguments (the first 16)"),
        ("ProcArgc", "process records: how many arguments the program was given (also those ProcArgv leaves out)"),
        ("ProcArgvTruncated", "process records: true when ProcArgv is not the whole list (over 16 arguments, or the argument area cut at 4095 bytes)"),
        ("ProcExecTime", "process records: when exec ran (UTC, ns)"),
        ("ProcExitCode", "process records: exit status (0-255)"),
        ("ProcExitSignal", "process records: the signal that ended the process, if one did"),
        ("ProcMD5", "process records: MD5 of the executable (record with -c)"),
        ("ProcSHA256", "process records: SHA-256 of the executable (record with -c)"),
        ("FilePath", "directory of the file, ending in /"),
        ("File", "file name (the new name after a rename)"),
        ("FileOrigin", "the old name of a renamed file; the target of a link"),
        ("FileVersion", "installed package version of the file (dpkg; record with -v)"),
        ("FileMode", "regular | symlink | hardlink"),
        ("FileEventCount", "number of events aggregated"),
        ("FileEvents", "events by kind, non-zero counts only: CREATE, OPEN, OPEN_EXEC, ACCESS (read), ATTRIB (chmod), MODIFY (write, truncate), CLOSE_WRITE, CLOSE_NOWRITE, MOVED_FROM, MOVED_TO, DELETE. An fd is followed from the syscall that made it (open, dup, fork, exec's close-on-exec); an fd the replay did not see made (taken over from before the recording, or of a process forgotten to stay within memory, as a warning says) is unknown rather than stale: its reads, writes and closes are not counted"),
        ("FileEventsDuration", "seconds from the first to the last event"),
        ("FileInode", "inode number. This and the File* keys below are the file's attributes after the record's last event, from the kernel's copy of the inode (read at open, exec and every fd-based syscall) updated by what path-based syscalls do (chmod, truncate, link, unlink, rename); a key is left out while its value is unknown: never shown, or changed by a syscall that does not say to what. A file whose inode number the kernel hands out again after a delete is a new file"),
        ("FileInodeLinkCount", "number of hard links (after the event: 0 after the unlink of the last link; counted through link, unlink and rename)"),
        ("FileDevice", "device (hex major<<8|minor, h), what is mounted, mount point, filesystem type"),
        ("FilePermissions", "mode in octal and as ls shows it (a chmod by path sets it; type letter ?: a file the trace never showed, type unknown)"),
        ("FileUser", "owner's user name"),
        ("FileGroup", "owner's group name"),
        ("FileUID", "owner's user id"),
        ("FileGID", "owner's group id"),
        ("FileSize", "size in bytes at the last event (a truncate by path sets it)"),
        ("FileSizeChange", "bytes gained (or lost) between the first and the last event; only if not 0 and both are known"),
        ("FileAccessTime", "last access time (UTC, ns)"),
        ("FileStatusChangeTime", "last status change time (UTC, ns); unknown (left out) after a chmod, truncate, link, unlink or rename by path, which set it, until a later open or fd-based syscall shows the inode again"),
        ("FileModificationTime", "last modification time (UTC, ns); unknown (left out) after a truncate by path, until the inode is shown again"),
        ("FileModificationTimeChange", "seconds the modification time moved during the record; only if not 0 and both are known"),
        ("FileMD5", "MD5 of the file, executables only (record with -c)"),
        ("FileSHA256", "SHA-256 of the file, executables only (record with -c)"),
        ("SockProtocol", "TCP | UDP"),
        ("SockRole", "CLIENT | SERVER (accepted, also through a dup of the accepted fd, or received first)"),
        ("SockState", "TCP state at export (TCP_ESTABLISHED, TCP_CLOSE, ...)"),
        ("SockReset", "an RST ended the connection: RX (received) or TX (sent)"),
        ("SockFamily", "AF_INET | AF_INET6 | AF_UNIX"),
        ("SockLocalIP", "local address"),
        ("SockLocalPort", "local port"),
        ("SockRemoteIP", "remote address"),
        ("SockRemotePort", "remote port"),
        ("SockAddress", "UNIX socket path (@name: abstract)"),
        ("SockTxInterface", "interface of the connection: index:name:mac (the one its packets were last received on)"),
        ("SockTxDataPackets", "TCP segments sent with data"),
        ("SockTxPackets", "TCP: segments sent; UDP and UNIX: messages sent"),
        ("SockTxPacketsRetrans", "TCP segments retransmitted"),
        ("SockTxPacketsDups", "TCP segments the peer reported as duplicates (D-SACK: tcp_sock.dsack_dups). This and the SockTxFlags, SockRxPackets* (but SockRxPackets), SockRxFlags and SockRxTTL keys need record -e packets: each socket's packets counted in the kernel (net:net_dev_queue, net:netif_receive_skb, skb:kfree_skb, sock:sock_rcvqueue_full), written with its state changes, at close and every second; they are counted from the socket's start, not reset by an active export"),
        ("SockTxFlags", "TCP packets sent per flag combination, non-zero only: SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK, RST, RST-ACK, ... (the SYN, FIN, RST, PSH and ACK flags joined by -; URG, ECE and CWR are not part of a combination; a GSO packet counts once, as tcpdump on the interface shows it)"),
        ("SockTxDuration", "seconds from the first to the last send"),
        ("SockTxBytes", "payload bytes sent by the process"),
        ("SockTxBytesAcked", "TCP bytes acknowledged by the peer (SYN and FIN count one each)"),
        ("SockTxBytesRetrans", "TCP bytes retransmitted"),
        ("SockTxRTO", "TCP retransmission timeout, ms (needs the kernel's HZ, read from /boot/config-* at record time)"),
        ("SockRxInterface", "interface the connection's packets were last received on: index:name:mac"),
        ("SockRxDataPackets", "TCP segments received with data"),
        ("SockRxPackets", "TCP: segments received; UDP and UNIX: messages received"),
        ("SockRxPacketsQueued", "packets waiting in the socket's receive queue at its last counters"),
        ("SockRxPacketsDrop", "packets the kernel dropped for the socket (sk_drops, as /proc/net/udp and ss -m show it)"),
        ("SockRxPacketsDropReasons", "beyond kflowd: packets of the socket the kernel freed as dropped, per reason (skb:kfree_skb's enum skb_drop_reason without SKB_DROP_REASON_, named by the recording kernel), OTHER past 4 reasons, RCVQUEUE_FULL for sock:sock_rcvqueue_full"),
        ("SockRxPacketsReorder", "TCP packets received out of order (tcp_sock.rcv_ooopack)"),
        ("SockRxPacketsFrag", "IPv4 fragments received for the socket (TCP and UDP)"),
        ("SockRxFlags", "TCP packets received per flag combination (as SockTxFlags)"),
        ("SockRxDuration", "seconds from the first to the last receive"),
        ("SockRxBytes", "payload bytes received by the process"),
        ("SockRxTTL", "TTL (IPv6: hop limit) of the last packet received (TCP and UDP)"),
        ("SockRTT", "TCP smoothed round-trip time, seconds"),
        ("SockAge", "seconds from the socket's first to its last event in this record"),
        ("App", "application protocol decoded: DNS | HTTP | SYSLOG (record with -p)"),
        ("AppTxDns", "DNS messages sent (at most 4)"),
        ("AppRxDns", "DNS messages received (at most 4)"),
        ("AppTxHttp", "HTTP messages sent (at most 4)"),
        ("AppRxHttp", "HTTP messages received (at most 4)"),
        ("AppTxSyslog", "SYSLOG messages sent (at most 4)"),
        ("AppRxSyslog", "SYSLOG messages received (at most 4)"),
    ];
    keys.extend(protocols::legend());
    keys
}

/// How a value that is not UTF-8 is written (printed after the keys; `replayer::bytes`).
pub const NOT_UTF8: &str = "A text value that is not valid UTF-8 (a name, path, argument, comm, socket path, DNS, HTTP or syslog text) has each byte outside valid UTF-8 written \\xNN and each \\ as \\\\, and the key <Key>Bytes after it holds its exact bytes in lowercase hex (ProcBytes, FileBytes, SockAddressBytes; inside App messages too: NameBytes, value_bytes after a lowercase key; for ProcArgv an array as long, null for elements that are UTF-8). A value without such a key is exactly its UTF-8. The table shows the \\xNN escape; Parquet holds the bytes in its Bytes column.";

#[cfg(test)]
mod tests {
    use super::*;

    fn meaning(key: &str) -> &'static str {
        legend()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m)
            .unwrap_or_else(|| panic!("no {key}"))
    }

    /// The legend says where values no syscall reveals stay unknown rather than stale.
    #[test]
    fn says_what_stays_unknown() {
        assert!(meaning("FileEvents").contains("unknown rather than stale"));
        assert!(meaning("FileEvents").contains("forgotten to stay within memory"));
        assert!(meaning("FileInode").contains("left out while its value is unknown"));
        assert!(meaning("InfoExport").contains("close-on-exec"));
        assert!(meaning("SockRole").contains("dup of the accepted fd"));
    }
}
