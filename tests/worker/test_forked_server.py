"""``outlast worker`` starts its fork server as a fork of itself (``warm(fork=True)``).

No interpreter starts on the way to the first child: the fork server and the resource
tracker run ``multiprocessing``'s own code in forks of the program, which hold nothing of
it but standard input and output and the descriptors that code is given. A child of such a
server is like any other: it starts processes of its own with ``multiprocessing`` as usual
(a new interpreter for ``spawn``, a fork server of its own), without deadlocking on a lock
the program held while it forked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from outlast.worker import forkserver

#: run in a worker's child (a module of its own: a child does not run the main script)
PROBE = """
import multiprocessing, os


def probe(out):
    import multiprocessing, multiprocessing.util
    from multiprocessing import forkserver as mp_forkserver
    mp_forkserver._forkserver._forkserver_address = None  # as a worker's child does
    mp_forkserver._forkserver._forkserver_alive_fd = None
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    own = multiprocessing.get_context("forkserver").Process(target=os.getpid)
    own.start()
    own.join(30)
    spawned = multiprocessing.get_context("spawn").Process(target=os.getpid)
    spawned.start()
    spawned.join(30)
    out.send({"own_server": own.exitcode, "spawned": spawned.exitcode, "fds": len(fds),
              "spawns_as_ever": multiprocessing.util.spawnv_passfds.__module__})
"""

SCRIPT = """
import json, sys, threading
from outlast.worker import forkserver

if __name__ == "__main__":
    if sys.argv[1] == "thread":  # another thread: a fork would copy it half-way
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    forkserver.warm(fork=True)
    from forked_probe import probe

    with open(f"/proc/{forkserver.server_pid()}/cmdline", "rb") as f:
        cmdline = f.read()
    with open("/proc/self/cmdline", "rb") as f:
        own_cmdline = f.read()
    parent, child = forkserver.CONTEXT.Pipe()
    process = forkserver.CONTEXT.Process(target=probe, args=(child,),
                                         name=forkserver.CHILD_NAME)
    process.start()
    result = parent.recv() if parent.poll(30) else None
    process.join(30)
    with open(f"/proc/{forkserver.server_pid()}/comm") as f:  # named by now: it served
        comm = f.read().strip()
    print(json.dumps({"forked": cmdline == own_cmdline, "comm": comm,
                      "result": result, "exitcode": process.exitcode}))
"""


def run(tmp_path: Path, mode: str) -> dict[str, object]:
    script = tmp_path / "forked_server.py"
    script.write_text(SCRIPT)
    (tmp_path / "forked_probe.py").write_text(PROBE)
    out = subprocess.run([sys.executable, str(script), mode], check=True, timeout=60,
                         capture_output=True, text=True).stdout
    return dict(json.loads(out.splitlines()[-1]))


def test_the_fork_server_of_a_starting_program_is_a_fork_whose_children_start_processes(
        tmp_path: Path) -> None:
    forked, new = run(tmp_path, "start"), run(tmp_path, "thread")
    assert (forked["forked"], new["forked"]) == (True, False)  # a thread: a new interpreter
    # told apart from the program it shares a command line with by its kernel name
    assert forked["comm"] == forkserver.FORK_SERVER_NAME != new["comm"]
    assert forked["exitcode"] == new["exitcode"] == 0
    # a child of either holds the same descriptors, and starts processes as ever
    assert forked["result"] == new["result"] == {
        "own_server": 0, "spawned": 0, "fds": new["result"]["fds"],  # type: ignore[index]
        "spawns_as_ever": "multiprocessing.util"}
