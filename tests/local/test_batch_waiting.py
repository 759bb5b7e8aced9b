"""The runner's wait for worker messages (engine.batch.waiting): one selector kept for the job,
which follows workers as they come and go, including a new connection that reuses a closed one's
descriptor number."""

from __future__ import annotations

import types
from multiprocessing import Pipe

from engine.batch.waiting import Waiter


def worker(name: str):
    parent, child = Pipe()
    return types.SimpleNamespace(name=name, conn=parent), child


def test_ready_names_the_workers_with_a_message_and_follows_replacements() -> None:
    waiter = Waiter()
    try:
        a, a_child = worker("a")
        b, b_child = worker("b")
        assert waiter.ready([a, b], 0.0) == []
        b_child.send("done")
        assert waiter.ready([a, b], 1.0) == [b]
        assert b.conn.recv() == "done" and waiter.ready([a, b], 0.0) == []

        freed = {a.conn.fileno(), a_child.fileno()}
        a.conn.close()  # worker a died and is replaced: its descriptor numbers are free again
        a_child.close()
        c, c_child = worker("c")
        assert {c.conn.fileno(), c_child.fileno()} & freed  # the lowest free numbers come back
        c_child.send("ready")
        assert waiter.ready([b, c], 1.0) == [c]

        b_child.close()  # a dead worker's connection reads EOF: it is reported as ready
        assert b in waiter.ready([b, c], 1.0)
    finally:
        waiter.close()
