"""Data-parallel training on one machine without opening a port to the network: ``--processes N``.

``torchrun`` starts a TCP rendezvous store that listens on every interface of the machine, whatever
``--master_addr`` says (measured with ``ss -ltn``: ``*:29500``), so on a laptop on a shared network anybody who
can reach the port can talk to the training job. On one machine nothing needs a port at all: the N processes
meet through a file store (a file in a private temporary folder) and gloo's connections between them use
the loopback interface only. ``shoestring pretrain vampire data -o out --processes 2`` does that; it runs the
same command in N processes with the environment torchrun would give them (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``), so the training code cannot tell the difference. For several machines use ``torchrun``
(see the README), on a network you trust.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

INIT_ENV = "SHOESTRING_INIT_METHOD"


def loopback_interface() -> str | None:
    """The loopback interface's name (``lo`` on Linux, ``lo0`` on macOS), or None when none is found."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):  # pragma: no cover - platforms without if_nameindex
        return None
    for name in ("lo", "lo0"):
        if name in names:
            return name
    return next((n for n in names if n.startswith("lo")), None)


def strip_option(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option VALUE`` / ``option=VALUE`` (the launcher's own option, not the workers')."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == option:
            skip = True
            continue
        if arg.startswith(option + "="):
            continue
        out.append(arg)
    return out


def launch_local(n: int, argv: list[str]) -> int:
    """Run ``python -m shoestring *argv`` in ``n`` processes joined by a file store; return the first failing
    exit status (the others are stopped then), or 0."""
    env = dict(os.environ)
    iface = loopback_interface()
    if iface and "GLOO_SOCKET_IFNAME" not in env:
        env["GLOO_SOCKET_IFNAME"] = iface
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or n) // n)))
    with tempfile.TemporaryDirectory(prefix="shoestring-store-") as folder:
        os.chmod(folder, 0o700)
        store = os.path.join(folder, "store")
        procs = []
        for rank in range(n):
            worker = {**env, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(n),
                      "LOCAL_WORLD_SIZE": str(n), INIT_ENV: f"file://{store}"}
            procs.append(subprocess.Popen([sys.executable, "-m", "shoestring", *argv], env=worker))
        status = 0
        try:
            while procs:
                for p in list(procs):
                    code = p.poll()
                    if code is None:
                        continue
                    procs.remove(p)
                    if code != 0 and status == 0:
                        status = code if code > 0 else 128 - code  # killed by signal N: 128 + N, as shells say
                        for other in procs:  # one failed: the others would wait for it forever
                            other.send_signal(signal.SIGTERM)
                time.sleep(0.05)
        except KeyboardInterrupt:
            for p in procs:
                p.send_signal(signal.SIGINT)
            for p in procs:
                p.wait()
            return 130
    return status
