"""The fixture's server in a process of its own: ``python -m deskstream.testing.child READY_FILE JOURNAL_FILE``.

The settings come as JSON in ``DESKSTREAM_FIXTURE_SETTINGS`` (the fixture's, never the environment's
``DESKSTREAM_*``). uvicorn runs in the main thread, so SIGTERM stops it gracefully; once it serves, the port it was
given (port 0: the system picks a free one) is written to READY_FILE, atomically, for the test's process to read.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from deskstream.api import create_app
from deskstream.settings import Settings
from deskstream.testing.journal import FileJournal
from deskstream.testing.servers import port_of, served_app, uvicorn_server


def _announce(server: Any, ready: Path) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.005)
    partial = ready.with_suffix(".partial")
    partial.write_text(json.dumps({"port": port_of(server), "pid": os.getpid()}))
    partial.replace(ready)


def main(argv: list[str]) -> None:
    ready, journal_path = Path(argv[0]), Path(argv[1])
    settings = Settings.model_validate_json(os.environ["DESKSTREAM_FIXTURE_SETTINGS"])
    app = create_app(settings)
    server = uvicorn_server(served_app(app, FileJournal(journal_path)))
    threading.Thread(target=_announce, args=(server, ready), daemon=True).start()
    try:
        server.run()
    finally:
        app.state.store.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
