//! `-v` and `-c`: package versions and checksums of executables, learned at record time
//! (the analyst does not have the host's files), shown in the records view.

use std::process::Command;

use crate::live::live;
use crate::util::{json_lines, kellect, run_ok};

fn tool(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("runs");
    assert!(out.status.success(), "{cmd} {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn versions_and_checksums_of_executables() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.kz");
    let status = kellect()
        .args([
            "record",
            "-q",
            "-v",
            "-c",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "/usr/bin/true",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let out = run_ok(&["replay", trace.to_str().unwrap(), "-o", "json-min"]);
    let records = json_lines(&out.stdout);

    let version = tool("dpkg-query", &["-W", "-f=${Version}", "coreutils"]);
    let md5 = tool("md5sum", &["/usr/bin/true"]);
    let sha = tool("sha256sum", &["/usr/bin/true"]);
    let md5 = md5.split_whitespace().next().unwrap();
    let sha = sha.split_whitespace().next().unwrap();

    let process = records
        .iter()
        .find(|r| r["InfoMonitor"] == "process" && r["ProcExe"] == "/usr/bin/true")
        .unwrap_or_else(|| panic!("no process record for /usr/bin/true: {records:#?}"));
    assert_eq!(process["ProcVersion"], version.as_str(), "{process}");
    assert_eq!(process["ProcMD5"], md5, "{process}");
    assert_eq!(process["ProcSHA256"], sha, "{process}");

    // The executable's own file record (OPEN_EXEC) carries them too.
    let file = records
        .iter()
        .find(|r| {
            r["InfoMonitor"] == "filesystem"
                && r["File"] == "true"
                && r["FileEvents"]["OPEN_EXEC"].as_u64().is_some()
        })
        .unwrap_or_else(|| panic!("no OPEN_EXEC record for true: {records:#?}"));
    assert_eq!(file["FileVersion"], version.as_str(), "{file}");
    assert_eq!(file["FileMD5"], md5, "{file}");
    assert_eq!(file["FileSHA256"], sha, "{file}");

    // Without -v/-c none of these keys appear.
    let plain = dir.path().join("plain.kz");
    run_ok(&[
        "record",
        "-q",
        "-o",
        plain.to_str().unwrap(),
        "--",
        "/usr/bin/true",
    ]);
    let out = run_ok(&["replay", plain.to_str().unwrap(), "-o", "json-min"]);
    for r in json_lines(&out.stdout) {
        for key in [
            "ProcVersion",
            "ProcMD5",
            "ProcSHA256",
            "FileVersion",
            "FileMD5",
            "FileSHA256",
        ] {
            assert!(r.get(key).is_none(), "{key} without -v/-c: {r}");
        }
    }
}
