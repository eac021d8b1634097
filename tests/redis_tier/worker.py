"""One "process" of the multi-process tests: a TieredCache driven by lines on stdin.

Usage: ``python worker.py URL PREFIX BACKEND [OP_TIMEOUT]``. Commands (one per line),
each answered by one JSON line on stdout:

* ``fill KEY``: read KEY until it sits in L1 -> ``{"ok": true}``
* ``write KEY VALUE``: ``set`` it -> ``{"before": t}`` (monotonic time just before)
* ``drop KEY``: wait until KEY left L1 by an invalidation push -> ``{"at": t}``
* ``stampede N KEYS MS``: N concurrent ``get_or_load`` over KEYS keys, a loader
  of MS milliseconds -> ``{"loads": n, "seconds": s}``
* ``quit``
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import anyio

from sweepcache import Cache
from sweepcache.redis import RedisCache, TieredCache


def main() -> None:
    url, prefix, backend = sys.argv[1:4]
    anyio.run(serve, url, prefix, backend=backend)


async def serve(url: str, prefix: str) -> None:
    drops: dict[str, float] = {}
    original = TieredCache.on_keys

    def on_keys(self: TieredCache[Any, Any], keys: list[bytes] | None) -> None:
        now = time.monotonic()
        held = [key for key in keys or () if self.get_nowait(key[len(prefix) :].decode(), None)]
        original(self, keys)
        for key in held:  # only keys this L1 held: a drop, not a no-op
            drops.setdefault(key[len(prefix) :].decode(), now)

    TieredCache.on_keys = on_keys  # type: ignore[method-assign]
    op_timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 0.25
    tiered = TieredCache[str, Any](
        l1=Cache(default_ttl=60), l2=RedisCache(url=url, prefix=prefix, op_timeout=op_timeout)
    )
    stdin = anyio.wrap_file(sys.stdin)
    async with tiered:
        with anyio.fail_after(10):
            while not tiered.link_up:  # noqa: ASYNC110 - polls state that has no event
                await anyio.sleep(0.005)
        reply({"ready": True})
        while True:
            line = (await stdin.readline()).split()
            if not line or line[0] == "quit":
                break
            command, args = line[0], line[1:]
            if command == "fill":
                with anyio.fail_after(5):
                    while True:
                        await tiered.get(args[0])
                        await anyio.sleep(0.01)  # late pushes of earlier writes land first
                        if tiered.get_nowait(args[0], None) is not None:
                            break
                drops.pop(args[0], None)
                reply({"ok": True})
            elif command == "write":
                before = time.monotonic()
                await tiered.set(args[0], args[1])
                reply({"before": before})
            elif command == "drop":
                with anyio.fail_after(5):
                    while args[0] not in drops:  # noqa: ASYNC110 - set by a patched hook
                        await anyio.sleep(0.001)
                reply({"at": drops[args[0]]})
            elif command == "stampede":
                reply(await stampede(tiered, int(args[0]), int(args[1]), int(args[2]) / 1000))


async def stampede(
    tiered: TieredCache[str, Any], requests: int, keys: int, seconds: float
) -> dict[str, float]:
    loads = 0

    def loader(key: str) -> Any:
        async def load() -> str:
            nonlocal loads
            loads += 1
            await anyio.sleep(seconds)
            return f"value of {key}"

        return load

    async def call(index: int) -> None:
        key = f"cold{index % keys}"
        assert await tiered.get_or_load(key, loader(key), ttl=60, timeout=30) == f"value of {key}"

    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        for index in range(requests):
            tg.start_soon(call, index)
    return {"loads": loads, "seconds": time.monotonic() - began}


def reply(payload: object) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
