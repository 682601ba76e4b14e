"""The local stack's HTTP servers: threads per request and a listen backlog for bursts.

socketserver listens with a backlog of 5: a burst of 30-50 simultaneous requests (many people
clicking at once, a bench) overflows it and the kernel resets connections, which API Gateway, the
Slack Web API and the Lambda extension never do at that scale. The backlog here holds well over
100 connections waiting for a thread.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

LISTEN_BACKLOG = 512


class BurstHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG
