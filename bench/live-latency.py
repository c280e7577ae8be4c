#!/usr/bin/env python3
"""How long after its export condition a record appears in `kellect live`.

Runs `kellect live -m socket -o json-min` on a workload that closes a TCP connection every
second (curl against a local HTTP server), reads the records as they are printed, and
compares each record's InfoTimestamp (the event time of the connection's close) with the
wall-clock time the line arrived. Needs root. Usage: sudo python3 bench/live-latency.py [N]
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
kellect = os.environ.get("KELLECT", "target/release/kellect")
port = 18090
with tempfile.TemporaryDirectory() as tmp:
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        workload = f"for i in $(seq {n}); do curl -s -o /dev/null http://127.0.0.1:{port}/; sleep 1; done"
        live = subprocess.Popen(
            [kellect, "live", "-m", "socket", "-o", "json-min", "-p", f"http=tcp/{port}",
             "--", "sh", "-c", workload],
            stdout=subprocess.PIPE, text=True)
        delays = []
        for line in live.stdout:
            arrived = time.time()
            record = json.loads(line)
            if record.get("InfoExport") != "tcp-close":
                continue
            # "Sat, Nov 21 2026 08:18:07.104877381 UTC": nanoseconds cut to microseconds.
            text = record["InfoTimestamp"]
            stamp, frac = text[:-4].rsplit(".", 1)
            at = datetime.datetime.strptime(stamp, "%a, %b %d %Y %H:%M:%S").replace(
                tzinfo=datetime.timezone.utc).timestamp() + int(frac) / 1e9
            delays.append(arrived - at)
        live.wait()
    finally:
        server.terminate()
delays.sort()
if not delays:
    sys.exit("no socket records were printed")
print(f"{len(delays)} socket records: delay from TCP close to output "
      f"median {delays[len(delays) // 2] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
