"""A Python plugin that misbehaves on purpose, for the sandbox tests: what the hostile Rust
plugin (`tests/guests/hostile`) does, done by an interpreter.

It migrates `test/source-hostile-python` 1.x → 2.0.0, and what it does is chosen per
connection by the config field `hostile`: behave (`none`), loop forever, exhaust memory,
recurse without end (`recursion`, with Python's own limit lifted: its frames fill memory) or into Python's
limit (`python-recursion`), raise an exception it does not mean, refuse, return invalid JSON
or the wrong shapes or a giant output, spam the log, read the clock, entropy or a file (each
of which the stubbed WASI of a `--stub-wasi` build turns into a trap), report the
environment it sees or what the interpreter's seeded `random` gives, or report what an
earlier call left in its memory.
"""

import os
import random
import sys
import time

from cutover_plugin import Manifest, Migration, NeedsOperator, RawOutcome, export, info, jsontext

#: Module state: a fresh instance per call starts from the build's snapshot, so a call never
#: sees what an earlier one left here.
CALLS = [0]
SCRATCH = bytearray(1 << 16)


def recurse(depth):
    return recurse(depth + 1) + 1


class Hostile(Migration):
    def manifest(self):
        return Manifest(
            connector="test/source-hostile-python",
            applies_to=">=1.0.0, <2.0.0",
            produces="2.0.0",
            message="A breaking change that exists to test the sandbox.",
            upgrade_deadline="2030-01-01",
            documentation_url="https://example.invalid/hostile",
            guide="Nothing to read.",
        )

    def migrate_documents(self, connection, state):
        config = jsontext.loads(connection.config)
        mode = config.get("hostile", "none")
        raw = lambda config: RawOutcome(config, connection.catalog)  # noqa: E731
        if mode == "none":
            config["migrated"] = True
        elif mode == "loop":
            n = 0
            while True:
                n += 1
        elif mode == "memory":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        elif mode == "recursion":
            sys.setrecursionlimit(1 << 30)
            config["depth"] = recurse(0)
        elif mode == "python-recursion":
            config["depth"] = recurse(0)
        elif mode == "exception":
            raise RuntimeError("hostile plugin raised on purpose")
        elif mode == "refuse":
            raise NeedsOperator("hostile plugin wants a human")
        elif mode == "invalid-json":
            state.write(connection.state)
            return raw('{"config": not json')
        elif mode == "wrong-shape":
            state.write('{"not": "a list"}')
            return raw(connection.config)
        elif mode == "giant-output":
            config["blob"] = "x" * (96 << 20)
        elif mode == "log-spam":
            filler = "y" * 10_000
            for i in range(20_000):
                info(f"line {i} {filler}")
            config["logged"] = True
        elif mode == "clock":
            config["clock"] = time.time()
        elif mode == "entropy":
            config["entropy"] = os.urandom(8).hex()
        elif mode == "environment":
            config["environment"] = dict(os.environ)
        elif mode == "file":
            with open("/etc/passwd") as f:
                config["file"] = f.read()
        elif mode == "random":
            config["random"] = random.random()
        elif mode == "remember":
            dirty = sum(1 for b in SCRATCH if b)
            config["remembered"] = {"calls": CALLS[0], "dirty_bytes": dirty}
            CALLS[0] += 1
            SCRATCH[:] = b"\xab" * len(SCRATCH)
        else:
            raise NeedsOperator(f"unknown hostile mode {mode!r}")
        state.write(connection.state)
        return raw(jsontext.dumps(config))


WitWorld = export(Hostile)
