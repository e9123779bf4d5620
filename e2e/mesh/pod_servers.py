"""The e2e tier's stand-in for the containers kwok does not run: one real HTTPS server per Ready pod.

For every Ready pod of our Deployments (label app.kubernetes.io/part-of=bluegreen-platform) it serves on
the pod's IP and container port, as the pod's sidecar would: mTLS only (STRICT PeerAuthentication), with a
certificate for the pod's SPIFFE identity minted from istiod's CA, so the gateway's ISTIO_MUTUAL
DestinationRule and its SAN check hold. It answers the readiness path with 200 and everything else with
JSON {color, image, pod, namespace, host, path}. When a pod is deleted it stops as the kubelet would
stop it: it keeps serving through the preStop sleep, then closes its listener and its connections once the
requests in flight are done (within the rest of the grace period).

A control API on loopback: GET /healthz; GET /pods (every server, with its request count);
POST /answer {"namespace", "app", "color", "status", "preStop"} makes that color's servers answer `/` with
`status`; "preStop": false makes them stop at once when deleted (an app that exits on SIGTERM, no preStop hook).
Usage: pod_servers.py --kubeconfig FILE --state DIR --listen HOST:PORT
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

SELECTOR = "app.kubernetes.io/part-of=bluegreen-platform"
TRUST_DOMAIN = "cluster.local"


class CertificateAuthority:
    """istiod's self-signed CA (the istio-ca-secret it creates); one workload certificate per identity."""

    def __init__(self, core: client.CoreV1Api, state: Path):
        self.state = state
        state.mkdir(parents=True, exist_ok=True)
        while True:  # istiod creates the secret at its first start
            try:
                secret = core.read_namespaced_secret("istio-ca-secret", "istio-system").data
                break
            except client.ApiException:
                time.sleep(0.5)
        for key in ("ca-cert.pem", "ca-key.pem"):
            (state / key).write_bytes(base64.b64decode(secret[key]))
        self.root = state / "ca-cert.pem"
        self._lock = threading.Lock()

    def context(self, namespace: str, service_account: str) -> ssl.SSLContext:
        name = f"{namespace}.{service_account}"
        cert, key = self.state / f"{name}.crt", self.state / f"{name}.key"
        with self._lock:
            if not cert.exists():
                spiffe = f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"
                extensions = self.state / f"{name}.ext"
                extensions.write_text(
                    f"subjectAltName=critical,URI:{spiffe}\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n"
                )
                request = subprocess.run(
                    [
                        "openssl",
                        "req",
                        "-new",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:prime256v1",
                        "-nodes",
                        "-keyout",
                        str(key),
                        "-subj",
                        f"/O={TRUST_DOMAIN}",
                    ],
                    check=True,
                    capture_output=True,
                ).stdout
                subprocess.run(
                    [
                        "openssl",
                        "x509",
                        "-req",
                        "-CA",
                        str(self.root),
                        "-CAkey",
                        str(self.state / "ca-key.pem"),
                        "-CAcreateserial",
                        "-days",
                        "2",
                        "-extfile",
                        str(extensions),
                        "-out",
                        str(cert),
                    ],
                    input=request,
                    check=True,
                    capture_output=True,
                )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.root))
        context.verify_mode = ssl.CERT_REQUIRED  # STRICT: a client without a mesh certificate is refused
        context.load_cert_chain(cert, key)
        return context


@dataclass
class Pod:
    namespace: str
    name: str
    app: str
    color: str
    image: str
    ip: str
    port: int
    readiness_path: str
    service_account: str
    pre_stop_seconds: int
    grace_seconds: int

    @classmethod
    def of(cls, pod: Any) -> Pod:
        container = pod.spec.containers[0]
        probe = container.readiness_probe
        pre_stop = container.lifecycle and container.lifecycle.pre_stop
        return cls(
            namespace=pod.metadata.namespace,
            name=pod.metadata.name,
            app=pod.metadata.labels.get("app", ""),
            color=pod.metadata.labels.get("version", ""),
            image=container.image,
            ip=pod.status.pod_ip,
            port=container.ports[0].container_port,
            readiness_path=probe.http_get.path if probe and probe.http_get else "/healthz",
            service_account=pod.spec.service_account_name or "default",
            pre_stop_seconds=pre_stop.sleep.seconds if pre_stop and pre_stop.sleep else 0,
            grace_seconds=pod.spec.termination_grace_period_seconds or 30,
        )


@dataclass
class PodServer:
    pod: Pod
    answers: dict[tuple[str, str, str], int]
    exits_at_once: set[tuple[str, str, str]]
    requests: int = 0
    state: str = "serving"
    stopped_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: set[socket.socket] = field(default_factory=set)
    _gone: threading.Event = field(default_factory=threading.Event)  # set by kill(): no preStop, no grace left

    def start(self, context: ssl.SSLContext) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                server.answer(self)

            do_POST = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        class TLSServer(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, address = self.socket.accept()
                # Headers and body are two writes: without NODELAY, Nagle holds the body for the peer's
                # delayed ACK (40 ms a response).
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # The handshake runs on the handler's thread, so one slow client never blocks accept().
                return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

        self.httpd = TLSServer((self.pod.ip, self.pod.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        host = request.headers.get("Host", "")
        status, body = 200, b"ok\n"
        if path != self.pod.readiness_path:
            with self._lock:
                self.requests += 1
            p = self.pod
            status = self.answers.get((p.namespace, p.app, p.color), 200)
            fields = {"color": p.color, "image": p.image, "pod": p.name, "namespace": p.namespace, "host": host, "path": path}
            body = json.dumps(fields).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json" if path != self.pod.readiness_path else "text/plain")
        request.send_header("Content-Length", str(len(body)))
        if self.state != "serving":
            request.send_header("Connection", "close")  # a stopping app closes connections as they go idle
            request.close_connection = True
        request.end_headers()
        request.wfile.write(body)

    def stop(self) -> None:
        """Deleted: serve through the preStop sleep, then stop accepting and close connections when idle."""
        if self.state != "serving":
            return
        self.state = "stopping"
        threading.Thread(target=self._stop_after_pre_stop, daemon=True).start()

    def _stop_after_pre_stop(self) -> None:
        p = self.pod
        at_once = (p.namespace, p.app, p.color) in self.exits_at_once
        self._gone.wait(0 if at_once else p.pre_stop_seconds)
        self.state = "terminating"
        self.httpd.shutdown()
        self.httpd.server_close()
        deadline = time.monotonic() + (0 if at_once else max(p.grace_seconds - p.pre_stop_seconds, 0))
        while time.monotonic() < deadline and not self._gone.is_set():
            with self._lock:
                if not self._connections:
                    break
            time.sleep(0.05)
        self._kill_connections()
        self.state, self.stopped_at = "stopped", time.time()

    def _kill_connections(self) -> None:
        with self._lock:  # the grace period is over (or every connection is closed): the kubelet kills the rest
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def kill(self) -> None:
        """The pod is gone and kwok has given its IP to a new pod: a kubelet would have stopped this pod's
        containers before its IP was free, so stop now (kwok deletes a pod object at once, grace period or not)."""
        self._gone.set()  # the stop (started here, or already under way) skips the rest of preStop and grace
        self.stop()
        self.httpd.shutdown()  # the listener now, not when the stopping thread gets to it: the new pod binds next
        self.httpd.server_close()

    def report(self) -> dict[str, Any]:
        return {**self.pod.__dict__, "state": self.state, "requests": self.requests}


class PodServers:
    def __init__(self, kubeconfig: str, state: Path):
        config.load_kube_config(config_file=kubeconfig)
        self.core = client.CoreV1Api()
        self.ca = CertificateAuthority(self.core, state)
        self.servers: dict[str, PodServer] = {}  # by pod uid; stopped ones stay for their counts
        self.answers: dict[tuple[str, str, str], int] = {}
        self.exits_at_once: set[tuple[str, str, str]] = set()
        self.lock = threading.Lock()

    def sync(self, event_type: str, pod: Any) -> None:
        uid = pod.metadata.uid
        ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
        deleting = event_type == "DELETED" or pod.metadata.deletion_timestamp is not None
        with self.lock:
            server = self.servers.get(uid)
            if deleting:
                if server:
                    server.stop()
            elif ready and pod.status.pod_ip and server is None:
                server = PodServer(Pod.of(pod), self.answers, self.exits_at_once)
                for holder in self.servers.values():  # a deleted pod's server still on this IP and port
                    if holder.state != "stopped" and (holder.pod.ip, holder.pod.port) == (server.pod.ip, server.pod.port):
                        print(
                            f"stopping {holder.pod.namespace}/{holder.pod.name} early: kwok gave its IP to {pod.metadata.name}", flush=True
                        )
                        holder.kill()
                try:
                    server.start(self.ca.context(server.pod.namespace, server.pod.service_account))
                except OSError as error:
                    print(f"cannot serve {pod.metadata.namespace}/{pod.metadata.name}: {error}", flush=True)
                    return
                self.servers[uid] = server
                print(
                    f"serving {server.pod.namespace}/{server.pod.name} ({server.pod.color}) on {server.pod.ip}:{server.pod.port}",
                    flush=True,
                )

    def run(self) -> None:
        while True:
            try:
                listed = self.core.list_pod_for_all_namespaces(label_selector=SELECTOR)
                live = {p.metadata.uid for p in listed.items}
                for pod in listed.items:
                    self.sync("ADDED", pod)
                with self.lock:
                    for uid, server in self.servers.items():
                        if uid not in live:
                            server.stop()
                stream = watch.Watch().stream(
                    self.core.list_pod_for_all_namespaces,
                    label_selector=SELECTOR,
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=300,
                )
                for event in stream:
                    self.sync(event["type"], event["object"])
            except Exception as error:  # a dropped watch or an expired resource version: list again
                print(f"watch restarted: {error}", flush=True)
                time.sleep(0.5)

    def control(self, listen: str) -> None:
        servers = self

        class Control(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    return self.reply(200, {"ok": True})
                with servers.lock:
                    return self.reply(200, [s.report() for s in servers.servers.values()])

            def do_POST(self) -> None:
                if self.path != "/answer":
                    return self.reply(404, {"error": f"no {self.path}"})
                wanted = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = (wanted["namespace"], wanted["app"], wanted["color"])
                with servers.lock:
                    servers.answers[key] = int(wanted["status"])
                    if wanted.get("preStop", True):
                        servers.exits_at_once.discard(key)
                    else:
                        servers.exits_at_once.add(key)
                self.reply(200, {"ok": True})

            def reply(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        host, port = listen.rsplit(":", 1)
        ThreadingHTTPServer((host, int(port)), Control).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--listen", required=True)
    args = parser.parse_args()
    servers = PodServers(args.kubeconfig, args.state)
    threading.Thread(target=servers.run, daemon=True).start()
    servers.control(args.listen)


if __name__ == "__main__":
    main()
