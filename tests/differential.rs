//! The differential test against strace: real programs (git, tar, make with gcc, coreutils,
//! ssh-keygen with sort, python3's http.server with curl) run under `strace -f` while
//! kellect records the run, and every syscall of the catalogue that kellect turns into an
//! event is compared, thread by thread and in order, by name, result (value or errno),
//! path arguments as passed (with their dirfd) and fd arguments. Any difference fails.

use crate::util::{strace_args, strace_calls, strace_joined, strace_string};

/// The log parser the comparison rests on: interrupted calls joined, arguments split
/// outside strings and brackets, strings unescaped, padding before the result ignored.
#[test]
fn strace_logs_are_parsed_whole() {
    let log = "7 read(3,  <unfinished ...>\n\
               8 openat(AT_FDCWD, \"a, \\\"b\\\"\\303\\251\\n\", O_RDONLY) = -1 ENOENT (No such file)\n\
               8 --- SIGCHLD {si_signo=SIGCHLD} ---\n\
               7 <... read resumed>\"xy\", 2) = 2\n\
               9 close(4)                          = 0\n\
               9 exit_group(0 <unfinished ...>\n";
    let joined = strace_joined(log);
    let calls: Vec<_> = strace_calls(&joined)
        .map(|c| (c.tid, c.name, strace_args(c.rest)))
        .collect();
    assert_eq!(calls.len(), 4, "{joined}");
    assert_eq!(
        calls[0],
        ("7", "read", vec!["3", "\"xy\"", "2"]),
        "{joined}"
    );
    assert_eq!(calls[1].2[1], "\"a, \\\"b\\\"\\303\\251\\n\"");
    assert_eq!(
        strace_string(calls[1].2[1]).unwrap(),
        "a, \"b\"\u{e9}\n".as_bytes()
    );
    assert_eq!(calls[2], ("9", "close", vec!["4"]));
    assert_eq!(calls[3].1, "exit_group");
    assert!(joined.ends_with("exit_group(0) = ?"), "{joined}");
    assert_eq!(strace_string("NULL"), None);
    assert_eq!(strace_string("\"\\x41\\0\"...").unwrap(), b"A\0");
}

#[cfg(feature = "record")]
mod live {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use kellect::syscalls::{Field, Out, Syscall, D_CONTEXT, PRCTL_RECORDED, SYSCALLS};
    use serde_json::Value;

    use super::{strace_args, strace_calls, strace_joined, strace_string};
    use crate::live::live;
    use crate::util::{events, info, record_in};

    /// A syscall's result as both can tell it.
    #[derive(Debug, Clone, PartialEq)]
    enum Ret {
        Value(i64),
        /// The errno's name (strace: `-1 ENOENT (...)`, kellect: `error`).
        Error(String),
        /// strace's `?`: the thread died in the call (or was never seen leaving it), so
        /// strace could not read its result; kellect's, whatever it is, is accepted.
        Unknown,
    }

    /// One syscall as compared: what both sides must agree on.
    #[derive(Debug, Clone)]
    struct Call {
        name: String,
        ret: Ret,
        /// Per [`Field::Path`] of the row, in order: its dirfd (`AT_FDCWD` or the number,
        /// when the row has one) and the path as passed (`None`: not a readable string).
        paths: Vec<(Option<String>, Option<String>)>,
        /// Per [`Field::Fd`] and [`Field::NewFd`] of the row, in order: the fd argument;
        /// then the two fds the kernel filled in (pipe, pipe2, socketpair).
        fds: Vec<Option<i64>>,
    }

    impl PartialEq for Call {
        fn eq(&self, o: &Call) -> bool {
            let ret = self.ret == o.ret || self.ret == Ret::Unknown || o.ret == Ret::Unknown;
            self.name == o.name && ret && self.paths == o.paths && self.fds == o.fds
        }
    }

    /// The rows compared: every syscall kellect makes an event of (the context-only ones,
    /// fork/clone/exit and socket, have no event of their own).
    fn compared_rows() -> BTreeMap<&'static str, &'static Syscall> {
        SYSCALLS
            .iter()
            .filter(|r| r.event.is_some() && r.capture.flags & D_CONTEXT == 0)
            .map(|r| (r.name, r))
            .collect()
    }

    /// A path field of a row: its key, slot, and dirfd (key and argument), if any.
    type PathArg = (&'static str, u8, Option<(&'static str, u8)>);

    /// The path and fd arguments a row's fields name: [`PathArg`]s, and (key, argument)
    /// of each fd.
    fn row_args(row: &Syscall) -> (Vec<PathArg>, Vec<(&'static str, u8)>) {
        let mut paths = Vec::new();
        let mut fds = Vec::new();
        for f in row.fields {
            match *f {
                Field::Path {
                    key, slot, dirfd, ..
                } => paths.push((key, slot, dirfd)),
                Field::Fd(key, a) | Field::NewFd(key, a) => fds.push((key, a)),
                _ => {}
            }
        }
        (paths, fds)
    }

    /// The thread's calls as strace saw them, per thread.
    fn straced(log: &str) -> BTreeMap<u64, Vec<Call>> {
        let rows = compared_rows();
        let mut out: BTreeMap<u64, Vec<Call>> = BTreeMap::new();
        let joined = strace_joined(log);
        for call in strace_calls(&joined) {
            let Ok(tid) = call.tid.parse::<u64>() else {
                continue;
            };
            // strace 6.1 names syscalls newer than itself by number.
            let name = match call.name.strip_prefix("syscall_0x") {
                Some(hex) => {
                    let nr = u32::from_str_radix(hex, 16).ok();
                    let row = SYSCALLS
                        .iter()
                        .find(|r| r.x86_64.is_some() && r.x86_64 == nr);
                    row.map_or(call.name, |r| r.name)
                }
                None => call.name,
            };
            let Some(row) = rows.get(name) else {
                continue;
            };
            let args = strace_args(call.rest);
            let arg = |i: u8| args.get(i as usize).copied().unwrap_or("");
            // The BPF side records only these options and commands (bpf/kellect.bpf.c,
            // on_sys_enter): strace's other ones are left out here.
            match name {
                "fcntl" if !["F_DUPFD", "F_DUPFD_CLOEXEC"].contains(&arg(1)) => continue,
                "prctl" if !PRCTL_RECORDED.iter().any(|(_, n)| *n == arg(0)) => continue,
                "bpf" => panic!("these programs make no bpf() call: {}", call.line),
                _ => {}
            }
            let (path_args, fd_args) = row_args(row);
            let slot_arg = |slot: u8| {
                let a = if slot == 0 {
                    row.capture.path0
                } else {
                    row.capture.path1
                };
                a.checked_sub(1)
            };
            let paths = path_args
                .iter()
                .map(|&(_, slot, dirfd)| {
                    let path = slot_arg(slot)
                        .and_then(|a| strace_string(arg(a)))
                        .map(|b| String::from_utf8_lossy(&b).into_owned());
                    (dirfd.map(|(_, d)| arg(d).to_owned()), path)
                })
                .collect();
            let mut fds: Vec<Option<i64>> =
                fd_args.iter().map(|&(_, a)| arg(a).parse().ok()).collect();
            if let Out::FdPair(a) = row.capture.out {
                // pipe, pipe2, socketpair: `[3, 4]` (an address when it failed).
                let pair = arg(a.saturating_sub(1)).strip_prefix('[');
                let mut pair = pair
                    .and_then(|p| p.strip_suffix(']'))
                    .unwrap_or("")
                    .split(',');
                fds.extend([0, 1].map(|_| pair.next().and_then(|f| f.trim().parse().ok())));
            }
            let ret_text = call.rest.rsplit_once(" = ").map_or("", |(_, r)| r);
            let mut words = ret_text.split_whitespace();
            let ret = match (words.next(), words.next()) {
                (Some("?"), Some(e)) if e.starts_with('E') => Ret::Error(e.to_owned()),
                (Some("?"), _) => Ret::Unknown,
                (Some("-1"), Some(e)) if e.starts_with('E') => Ret::Error(e.to_owned()),
                (Some(v), _) => Ret::Value(match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).expect(call.line) as i64,
                    None => v.parse().expect(call.line),
                }),
                (None, _) => panic!("no result: {}", call.line),
            };
            out.entry(tid).or_default().push(Call {
                name: name.to_owned(),
                ret,
                paths,
                fds,
            });
        }
        out
    }

    /// The same calls as kellect recorded them, per thread (every thread of the recording,
    /// strace's own included).
    fn recorded(events: &[Value]) -> BTreeMap<u64, Vec<(Call, bool)>> {
        let rows = compared_rows();
        let mut out: BTreeMap<u64, Vec<(Call, bool)>> = BTreeMap::new();
        for e in events {
            let Some(row) = e["syscall"].as_str().and_then(|n| rows.get(n)) else {
                continue;
            };
            // io_uring requests carry the syscall they do, but strace sees no syscall.
            if e.get("opcode").is_some() {
                continue;
            }
            let (path_args, fd_args) = row_args(row);
            let paths = path_args
                .iter()
                .map(|(key, _, dirfd)| {
                    let dirfd = dirfd.map(|(k, _)| match &e[k] {
                        Value::String(s) => s.clone(),
                        v => v.to_string(),
                    });
                    // The path as passed: `<key>_arg` when replay resolved it to another
                    // (null when passed as NULL).
                    let raw = e
                        .get(format!("{key}_arg"))
                        .or_else(|| e.get(*key))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    (dirfd, raw)
                })
                .collect();
            let mut fds: Vec<Option<i64>> = fd_args.iter().map(|(k, _)| e[*k].as_i64()).collect();
            if let Out::FdPair(_) = row.capture.out {
                fds.extend(["fd0", "fd1"].map(|k| e[k].as_i64()));
            }
            let ret = match e["error"].as_str() {
                Some(err) => Ret::Error(err.to_owned()),
                None => Ret::Value(e["ret"].as_i64().expect("ret")),
            };
            let exec_ok = e["event_type"] == "process_exec" && ret == Ret::Value(0);
            out.entry(e["tid"].as_u64().expect("tid"))
                .or_default()
                .push((
                    Call {
                        name: row.name.to_owned(),
                        ret,
                        paths,
                        fds,
                    },
                    exec_ok,
                ));
        }
        out
    }

    /// Records `sh -c SCRIPT` in DIR under `strace -f`, compares, and returns the number
    /// of syscalls compared; panics with every thread's first difference.
    fn differential(what: &str, dir: &Path, script: &str) -> usize {
        let trace = dir.join(format!("{what}.kz"));
        let log = dir.join(format!("{what}.strace"));
        let args = [
            "strace".as_ref(),
            "-f".as_ref(),
            "-qq".as_ref(),
            "-o".as_ref(),
            log.as_os_str(),
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            std::ffi::OsStr::new(script),
        ];
        record_in(dir, &trace, &args);
        let log = std::fs::read_to_string(&log).expect("strace wrote its log");
        let i = info(&trace);
        assert_eq!(
            i["dropped_total"], 0,
            "{what}: a comparison needs every record: {i}"
        );
        let straced = straced(&log);
        let all = events(&trace);
        let mut recorded = recorded(&all);
        // strace's first thread is strace's own child until it execs the program: its
        // calls before that exec (the stop it makes for its parent to attach) are
        // strace's, not the program's, and strace does not show them.
        let first: u64 = log
            .split_whitespace()
            .next()
            .and_then(|t| t.parse().ok())
            .expect("a log");
        let mut before_exec = 0;
        if let Some(calls) = recorded.get_mut(&first) {
            let exec = calls.iter().position(|(_, exec_ok)| *exec_ok).unwrap_or(0);
            before_exec = exec;
            calls.drain(..exec);
        }
        let tids: BTreeSet<u64> = straced.keys().copied().collect();
        let mut diffs = Vec::new();
        let mut compared = 0;
        let mut by_name = BTreeMap::new();
        for tid in &tids {
            let want = &straced[tid];
            let got: Vec<&Call> = recorded
                .get(tid)
                .map(|v| v.iter().map(|(c, _)| c).collect())
                .unwrap_or_default();
            compared += want.len();
            for c in want {
                *by_name.entry(c.name.as_str()).or_insert(0usize) += 1;
            }
            let n = want.len().max(got.len());
            if let Some(at) = (0..n).find(|&i| want.get(i) != got.get(i).copied()) {
                let show = |v: Option<&Call>| v.map_or("(none)".to_owned(), |c| format!("{c:?}"));
                let around = |i: usize| {
                    (i.saturating_sub(2)..(i + 3).min(n))
                        .map(|j| {
                            format!(
                                "  #{j}\n    strace:  {}\n    kellect: {}",
                                show(want.get(j)),
                                show(got.get(j).copied())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                diffs.push(format!(
                    "thread {tid}: {} calls straced, {} recorded; first difference at #{at}:\n{}",
                    want.len(),
                    got.len(),
                    around(at)
                ));
            }
        }
        // Threads strace does not show must be strace's own (itself, and the children
        // it forks to test ptrace before it starts the program): none of the program's.
        let untraced: Vec<u64> = recorded
            .keys()
            .filter(|t| !tids.contains(t) && **t != first)
            .copied()
            .collect();
        for e in all.iter().filter(|e| {
            e["tid"]
                .as_u64()
                .is_some_and(|t| untraced.contains(&t) || (t == first && !straced.contains_key(&t)))
        }) {
            assert!(
                ["strace", "kellect"].contains(&e["comm"].as_str().unwrap_or("")),
                "{what}: kellect recorded a thread strace does not show: {e}"
            );
        }
        eprintln!(
            "{what}: {compared} syscalls compared in {} threads ({before_exec} of strace's \
             child before its exec left out; threads only kellect saw, strace's own: {untraced:?})\n\
             {what}: by syscall: {by_name:?}",
            tids.len()
        );
        assert!(
            diffs.is_empty(),
            "{what}: kellect and strace differ\n{}\nstrace log: {}",
            diffs.join("\n"),
            dir.join(format!("{what}.strace")).display()
        );
        compared
    }

    /// Runs the comparison of a test: in a new directory, which `prepare` fills and for
    /// which it returns the script; at least `min` syscalls must have been compared.
    fn compare(what: &str, min: usize, prepare: impl FnOnce(&Path) -> String) {
        if !live() {
            return;
        }
        let dir = tempfile::Builder::new()
            .prefix("kellect-differential")
            .tempdir()
            .unwrap();
        let script = prepare(dir.path());
        let n = differential(what, dir.path(), &script);
        assert!(n >= min, "{what}: only {n} syscalls compared");
    }

    #[test]
    fn git_init_add_commit_matches_strace() {
        compare("git", 500, |_| {
            "export HOME=$PWD GIT_CONFIG_NOSYSTEM=1; git init -q repo && cd repo && \
             echo hello > a && mkdir d && echo world > d/b && git add . && \
             git -c user.name=k -c user.email=k@example.com commit -q -m first && \
             git rm -q d/b && git -c user.name=k -c user.email=k@example.com commit -q -m second && \
             git log --oneline > ../log"
                .into()
        });
    }

    #[test]
    fn tar_create_and_extract_matches_strace() {
        compare("tar", 200, |_| {
            "mkdir -p tree/sub && echo one > tree/a && echo two > tree/sub/b && \
             ln -s a tree/link && chmod 600 tree/a && tar cf t.tar tree && mkdir out && \
             tar xf t.tar -C out && tar tvf t.tar > list"
                .into()
        });
    }

    #[test]
    fn make_with_gcc_matches_strace() {
        compare("make", 1000, |dir| {
            let hello = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";
            std::fs::write(dir.join("hello.c"), hello).unwrap();
            let rules = "hello: hello.o\n\tcc -o $@ $^\nhello.o: hello.c\n\tcc -O1 -c -o $@ $<\n";
            std::fs::write(dir.join("Makefile"), rules).unwrap();
            "make -s && ./hello > out".into()
        });
    }

    #[test]
    fn coreutils_copy_move_remove_matches_strace() {
        compare("coreutils", 300, |_| {
            "mkdir -p src/deep && seq 1 5000 > src/numbers && echo x > src/deep/y && \
             cp -r src copy && cp src/numbers one && cat one > two && mv copy moved && \
             mv two moved/deep/ && ln one hard && ln -s one soft && touch -m -t 200001010000 one && \
             chmod 640 hard && rm -r moved && rm soft hard && rmdir src/deep 2>/dev/null; ls -l > listing"
                .into()
        });
    }

    #[test]
    fn ssh_keygen_and_sort_match_strace() {
        compare("keygen", 100, |_| {
            "ssh-keygen -q -t ed25519 -N '' -C differential -f key && \
             sort -r key.pub key > sorted && sort -u -o sorted sorted"
                .into()
        });
    }

    #[test]
    fn python_http_server_and_curl_match_strace() {
        compare("http", 1000, |dir| {
            std::fs::write(dir.join("index.html"), "<p>differential</p>\n").unwrap();
            // A port free a moment ago; curl retries until the server listens.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            format!(
                "python3 -m http.server --bind 127.0.0.1 {port} 2>server.log & \
                 for i in $(seq 1 300); do curl -sf -o page http://127.0.0.1:{port}/index.html && break; \
                 sleep 0.1; done; curl -s -o missing http://127.0.0.1:{port}/nothing-here; \
                 kill $!; wait; cmp page index.html"
            )
        });
    }
}
