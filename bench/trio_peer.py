# SPDX-License-Identifier: Apache-2.0 OR MIT
"""Python Trio peer for bench/core_bench.cc: the same scenarios, per-operation times.

Run with Debian's python3-trio: /usr/bin/python3 bench/trio_peer.py
Prints one line per scenario: "<name> <ns per op>".
"""
import time

import trio
import trio.testing


def timed(name, ops, fn):
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    print("%-24s %10.1f ns/op" % (name, best * 1e9 / ops))


async def trivial():
    pass


def spawn_join(n, rounds):
    async def main():
        for _ in range(rounds):
            async with trio.open_nursery() as nursery:
                for _ in range(n):
                    nursery.start_soon(trivial)
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def checkpoint(n):
    async def main():
        for _ in range(n):
            await trio.lowlevel.checkpoint()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def scope_enter_exit(n):
    async def main():
        for _ in range(n):
            with trio.CancelScope():
                pass
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def move_on_after(n):
    async def main():
        for _ in range(n):
            with trio.move_on_after(3600):
                pass
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def sleepers(n):
    async def sleeper(i):
        await trio.sleep((i + 1) * 1e-6)

    async def main():
        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(sleeper, i)
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


if __name__ == "__main__":
    timed("SpawnJoin/100", 100 * 100, lambda: spawn_join(100, 100))
    timed("Checkpoint", 100000, lambda: checkpoint(100000))
    timed("ScopeEnterExit", 100000, lambda: scope_enter_exit(100000))
    timed("MoveOnAfter", 100000, lambda: move_on_after(100000))
    timed("AutojumpSleepers/100000", 100000, lambda: sleepers(100000))
