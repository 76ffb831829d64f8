"""Sweep guards: the scheduler handshake is bounded by the connect timeout (a port that
accepts and never answers, a port that answers HTTP), sweep names are plain file names, and
the job count is checked before any job is expanded.  Sockets listen on 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from emt.cli import main
from emt.experiments.sweep import probe_scheduler
from emt.experiments.sweep_config import parse_sweep_config

GRID = {"task": ["repeat-copy-3"], "hidden": [8], "l2": [0.0], "threshold": [0.9], "seed": [1]}


def _serve(reply: bytes | None) -> Iterator[str]:
    """A listener on 127.0.0.1 that accepts connections and then either stays silent
    (``reply`` None) or answers ``reply`` to whatever it receives (an HTTP server)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            if reply is not None:
                conn.settimeout(0.2)

                def answer(c: socket.socket = conn) -> None:
                    try:
                        c.recv(65536)
                        c.sendall(reply)
                    except OSError:
                        pass

                threading.Thread(target=answer, daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for c in conns:
            c.close()
        server.close()


@pytest.fixture
def silent_port() -> Iterator[str]:
    yield from _serve(None)


@pytest.fixture
def http_port() -> Iterator[str]:
    yield from _serve(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def test_a_port_that_accepts_and_never_answers_times_out(silent_port) -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match="accepted the connection but sent no Dask handshake "
                       "within 1 s"):
        probe_scheduler(silent_port, timeout=1.0)
    assert time.monotonic() - start < 3.0


def test_a_port_that_answers_http_is_not_a_scheduler(http_port) -> None:
    # An HTTP server speaks only when spoken to; the probe sends nothing, so it times out,
    # and a server that does answer first with text is named as not speaking Dask.
    with pytest.raises(ValueError, match="no Dask handshake|answers HTTP"):
        probe_scheduler(http_port, timeout=1.0)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"

    def greet() -> None:
        conn, _ = server.accept()
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        time.sleep(0.5)
        conn.close()

    t = threading.Thread(target=greet, daemon=True)
    t.start()
    try:
        with pytest.raises(ValueError, match="answers HTTP, not the Dask protocol"):
            probe_scheduler(address, timeout=2.0)
    finally:
        t.join()
        server.close()


@pytest.mark.parametrize("address", ["tcp://127.0.0.1", "tcp://:8786", "tcp://h:99999"])
def test_malformed_addresses(address) -> None:
    with pytest.raises(ValueError, match="expected tcp://HOST:PORT"):
        probe_scheduler(address, timeout=1.0)


def test_sweep_cli_exits_2_on_a_silent_scheduler_and_writes_nothing(
        tmp_path, capsys, silent_port) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[grid]\ntask = ["repeat-copy-3"]\nhidden = [8]\nl2 = [0.0]\n'
                    'threshold = [0.9]\nseed = [1]\n[fixed]\nsteps = 10\n')
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["sweep", str(path), "--out", str(out), "--scheduler", silent_port]) == 2
    assert time.monotonic() - start < 30.0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no Dask handshake" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["../../x", "/etc/cron.d/x", "a/b", "..", ".hidden", "-rf",
                                  "x" * 101, "", "tab\tname"])
def test_sweep_names_must_be_plain_file_names(name) -> None:
    with pytest.raises(ValueError, match="must be a plain file name"):
        parse_sweep_config({"name": name, "grid": GRID})


def test_plain_names_are_accepted() -> None:
    assert parse_sweep_config({"name": "table1-quick.v2_b", "grid": GRID}).name == \
        "table1-quick.v2_b"


def test_a_million_jobs_are_refused_before_expansion() -> None:
    grid = {**GRID, "seed": list(range(1000)), "hidden": list(range(1, 1001))}
    start = time.monotonic()
    with pytest.raises(ValueError, match="the number of jobs = 1000000 is above the limit "
                       "10000 .*EMT_LIMIT_MAX_SWEEP_JOBS"):
        parse_sweep_config({"grid": grid})
    assert time.monotonic() - start < 2.0


def test_a_million_workers_are_refused_before_a_cluster_starts(tmp_path, capsys) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[grid]\ntask = ["repeat-copy-3"]\nhidden = [8]\nl2 = [0.0]\n'
                    'threshold = [0.9]\nseed = [1]\n[fixed]\nsteps = 10\n')
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1000000"]) == 2
    err = capsys.readouterr().err
    assert "--workers = 1000000 is above the limit 256" in err and not out.exists()
