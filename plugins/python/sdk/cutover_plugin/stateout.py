"""Where a migration writes the connection's new state (a JSON array of state messages).

In the sandbox the text goes to the host's state writer (contract 1.1.0) in chunks of
64 KiB as it is written, so a state of hundreds of megabytes is never held whole in guest
memory; natively (in tests) it is collected.
"""

__all__ = ["StateOut"]


class StateOut:
    #: Chunks this large go to the host at once.
    CHUNK = 1 << 16

    def __init__(self, sink=None):
        self._sink = sink
        self._pieces = []
        self._size = 0

    def write(self, text):
        """Appends JSON text."""
        self._pieces.append(text)
        self._size += len(text)
        if self._sink is not None and self._size >= self.CHUNK:
            self.flush()

    def flush(self):
        """Sends what is buffered to the host (natively: nothing to do)."""
        if self._sink is None or not self._pieces:
            return
        data = "".join(self._pieces).encode("utf-8")
        self._pieces.clear()
        self._size = 0
        self._sink(data)

    def into_string(self):
        """What was written, when nothing streamed it away (native runs)."""
        return "".join(self._pieces)
