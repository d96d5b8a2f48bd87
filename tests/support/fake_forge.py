#!/usr/bin/env python3
"""A loopback stand-in for the two comment APIs the CI templates call (GitHub issue comments,
GitLab merge-request notes), for tests: it keeps comments in memory and requires one token.

usage: fake_forge.py TOKEN
Prints its port once it listens. GET /__comments returns every comment with how it was last
written (POST or PATCH/PUT), and the number of requests that came without the token."""

import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = sys.argv[1]
comments = {}  # id -> {"id", "thread", "body", "written_by"}
state = {"next": 100, "unauthorized": 0}

GITHUB_LIST = re.compile(r"^/repos/[^/]+/[^/]+/issues/(\d+)/comments$")
GITHUB_ONE = re.compile(r"^/repos/[^/]+/[^/]+/issues/comments/(\d+)$")
GITLAB_LIST = re.compile(r"^/api/v4/projects/[^/]+/merge_requests/(\d+)/notes$")
GITLAB_ONE = re.compile(r"^/api/v4/projects/[^/]+/merge_requests/\d+/notes/(\d+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, value):
        body = json.dumps(value).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self):
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        given = given or self.headers.get("PRIVATE-TOKEN", "")
        if given != TOKEN:
            state["unauthorized"] += 1
            self.reply(401, {"message": "Bad credentials"})
            return False
        return True

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/__comments":
            return self.reply(200, {"comments": list(comments.values()), **state})
        if not self.authorized():
            return
        m = GITHUB_LIST.match(path) or GITLAB_LIST.match(path)
        if m:
            return self.reply(200, [c for c in comments.values() if c["thread"] == m.group(1)])
        self.reply(404, {"message": "not found"})

    def do_POST(self):
        if not self.authorized():
            return
        path = self.path.split("?")[0]
        m = GITHUB_LIST.match(path) or GITLAB_LIST.match(path)
        if not m:
            return self.reply(404, {"message": "not found"})
        state["next"] += 1
        comment = {"id": state["next"], "thread": m.group(1), "body": self.body()["body"], "written_by": "POST"}
        comments[comment["id"]] = comment
        self.reply(201, comment)

    def update(self):
        if not self.authorized():
            return
        path = self.path.split("?")[0]
        m = GITHUB_ONE.match(path) or GITLAB_ONE.match(path)
        if not m or int(m.group(1)) not in comments:
            return self.reply(404, {"message": "not found"})
        comment = comments[int(m.group(1))]
        comment["body"] = self.body()["body"]
        comment["written_by"] = self.command
        self.reply(200, comment)

    do_PATCH = update
    do_PUT = update

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
