# The packet counter fixture's workload (fixtures/packets.kz, record -e ...,packets): an HTTP
# GET against a server thread of this same process on 127.0.0.1:PORT (HTTP/1.0: the server
# closes), then 200 datagrams of 512 bytes flooded at a UDP socket on PORT+1 whose receive
# buffer is 1 KiB (most are dropped), kept open 1.5 s so that a periodic pass writes its
# counters. Usage: python3 packets.py PORT
import http.server
import socket
import sys
import threading
import time
import urllib.request

port = int(sys.argv[1])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"x" * 3000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
thread = threading.Thread(target=server.handle_request)
thread.start()
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/").read()
assert len(body) == 3000
thread.join()
server.server_close()

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
receiver.bind(("127.0.0.1", port + 1))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    sender.sendto(b"y" * 512, ("127.0.0.1", port + 1))
time.sleep(1.5)
receiver.close()
sender.close()
