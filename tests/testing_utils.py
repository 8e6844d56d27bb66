"""Helpers the test modules share: markers for tests that need an optional dependency (skipped, with the reason,
only where it is not installed), the viewer served as a subprocess on a free localhost port, and the quick preset's
overrides for runs that only check wiring."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from workbench.import_utils import VLLM_INSTALL, is_vllm_available

require_vllm = pytest.mark.skipif(not is_vllm_available(), reason=f"needs vLLM: {VLLM_INSTALL}")

# The quick preset cut down for runs whose tests check wiring (which arms ran, what forked what, what was stored),
# not a number that depends on the size: a fifteenth of the SFT steps, a third of the reward and evaluation prompts.
# The loop's prompts and samples per prompt stay (the rm-refresh experiment's arms label 2 × loop.refresh_pairs).
SMALL = ("world.n_sft=240", "sft.epochs=1", "world.n_pref=40", "world.n_eval=16")
SMALL_CLI = tuple(arg for o in SMALL for arg in ("--set", o))  # the same as `workbench run` flags


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_viewer(root, extra_env=None, args=()):
    """`workbench label --root root` on a free port, once it answers: (process, url). Stop it with `stop`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_LABEL_PASSWORD"}
    env.update(PYTHONUNBUFFERED="1", **(extra_env or {}))
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "label", "--root", str(root), "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"viewer exited: {proc.stdout.read()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except urllib.error.HTTPError:
            return proc, url  # up, but answering with a login wall
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("viewer did not start within 90 s")


def listening(port: int) -> list[str]:
    """Addresses listening on `port`, from /proc/net/tcp and tcp6 (Linux)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.rsplit(":", 1)
                if state == "0A" and int(p, 16) == port:  # 0A = LISTEN
                    out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]) if len(addr) == 8 else addr)
    return out


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
