"""A minimal FastCGI client, enough to talk to one `opsplane fcgi` worker socket directly.

Tests use it where going through nginx would hide what the worker itself does: a worker
that the test started on its own socket, and a request the test holds "in flight" (connection
accepted, parameters not yet complete) while the worker is told to stop.

Protocol reference: the FastCGI 1.0 specification (records of 8-byte header + content + padding).
"""

import json
import socket
import struct

FCGI_VERSION = 1
FCGI_BEGIN_REQUEST = 1
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_RESPONDER = 1
REQUEST_ID = 1
MAX_CONTENT = 65535


def _record(rtype, content=b""):
    padding = (-len(content)) % 8
    header = struct.pack(">BBHHBB", FCGI_VERSION, rtype, REQUEST_ID, len(content), padding, 0)
    return header + content + b"\0" * padding


def _records(rtype, data):
    """Split data into records of at most MAX_CONTENT bytes (no terminating empty record)."""
    return b"".join(_record(rtype, data[i:i + MAX_CONTENT]) for i in range(0, len(data), MAX_CONTENT))


def _length(n):
    return struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_params(params):
    out = b""
    for name, value in params.items():
        name_b, value_b = name.encode(), str(value).encode()
        out += _length(len(name_b)) + _length(len(value_b)) + name_b + value_b
    return out


def cgi_params(method, path, query="", headers=None, body=b""):
    """The parameters nginx's fastcgi_params would send for this request."""
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "e2e-fcgi-client",
        "REQUEST_METHOD": method,
        "REQUEST_URI": path + ("?" + query if query else ""),
        "DOCUMENT_URI": path,
        "SCRIPT_NAME": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_NAME": "localhost",
    }
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    return params


class FcgiResponse:
    def __init__(self, status, headers, body, stderr):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body
        self.stderr = stderr

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"FcgiResponse(status={self.status}, headers={self.headers}, body={self.body[:200]!r})"


def parse_cgi_response(stdout, stderr=b""):
    head, sep, body = stdout.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = stdout.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return FcgiResponse(status, headers, body, stderr)


class FcgiConnection:
    """One request on one connection, sent in steps so a test can stop half-way."""

    def __init__(self, socket_path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(socket_path)

    def begin(self):
        self.sock.sendall(_record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", FCGI_RESPONDER, 0)))

    def send_params_bytes(self, encoded):
        """Send a PARAMS record without the terminating empty one (the request stays incomplete)."""
        self.sock.sendall(_records(FCGI_PARAMS, encoded))

    def end_params(self):
        self.sock.sendall(_record(FCGI_PARAMS))

    def send_stdin(self, body=b""):
        self.sock.sendall(_records(FCGI_STDIN, body) + _record(FCGI_STDIN))

    def read_response(self):
        """Read records until END_REQUEST (or EOF); returns FcgiResponse, or None on a bare EOF."""
        stdout, stderr, buf, ended = b"", b"", b"", False
        while not ended:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 8:
                _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
                if rtype == FCGI_STDOUT:
                    stdout += content
                elif rtype == FCGI_STDERR:
                    stderr += content
                elif rtype == FCGI_END_REQUEST:
                    ended = True
                    break
        if not stdout and not ended:
            return None
        return parse_cgi_response(stdout, stderr)

    def close(self):
        self.sock.close()


def request(socket_path, method, path, query="", headers=None, body=b"", timeout=10.0, params=None):
    """Send one complete request to a worker socket and return its FcgiResponse (None on EOF).

    `params`: extra FastCGI parameters as nginx would add them (OPS_ROLE, OPS_AUTH_REQUEST, ...);
    a value of None removes a standard one.
    """
    all_params = cgi_params(method, path, query, headers, body)
    for name, value in (params or {}).items():
        if value is None:
            all_params.pop(name, None)
        else:
            all_params[name] = value
    conn = FcgiConnection(socket_path, timeout)
    try:
        conn.begin()
        conn.send_params_bytes(encode_params(all_params))
        conn.end_params()
        conn.send_stdin(body)
        return conn.read_response()
    finally:
        conn.close()
