"""The pids cgroups themselves (issue 10, item 8): a process joins before it runs, a fork
past ``pids.max`` fails and is counted, removal kills what is left, and a dead host's
empty cgroups are removed by the next host."""

from __future__ import annotations

import os
import subprocess
import sys

from logomesh.plugins.cgroups import PidsCgroup, join, pids_cgroups_available, pids_hierarchy
from tests.conftest import requires

pytestmark = requires(pids_cgroups_available(), "no pids cgroup here")

# Forks until refused, then reports how many children it had and sleeps.
FORKS = """
import os, sys, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children += 1
print(children, flush=True)
time.sleep(60)
"""


def test_a_process_in_its_cgroup_cannot_fork_past_the_limit() -> None:
    hierarchy = pids_hierarchy()
    assert hierarchy is not None
    cgroup = PidsCgroup.create(hierarchy, "test", 5)
    procs = cgroup.join_path()
    child = subprocess.Popen(
        [sys.executable, "-S", "-c", FORKS],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: join(procs),
        start_new_session=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "4"  # itself and four children: five
        assert child.pid in cgroup.pids() and len(cgroup.pids()) == 5
        assert cgroup.refused_forks() >= 1
    finally:
        cgroup.remove()
        child.wait(timeout=10)
    assert not cgroup.path.exists()
    assert cgroup.peak == 5


def test_a_dead_hosts_empty_cgroup_is_removed_by_the_next_host() -> None:
    hierarchy = pids_hierarchy()
    assert hierarchy is not None
    gone = subprocess.run([sys.executable, "-S", "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(gone.stdout)
    abandoned = hierarchy.folder / f"someplugin-{dead_pid}-1"
    mine = hierarchy.folder / f"someplugin-{os.getpid()}-999999"
    abandoned.mkdir()
    mine.mkdir()
    try:
        subprocess.run(
            [sys.executable, "-c", "from logomesh.plugins.cgroups import pids_hierarchy as h; h()"],
            check=True,
            timeout=60,
        )
        assert not abandoned.exists()
        assert mine.exists()  # its host (this test) is alive
    finally:
        for path in (abandoned, mine):
            if path.exists():
                path.rmdir()
