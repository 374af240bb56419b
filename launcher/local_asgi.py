"""Local mode's ASGI processes (the gateway, analysis): uvicorn exactly as `python -m uvicorn <args>` runs it, with
the libraries a lab's computer never uses left out (local_process.NEVER_USED_LOCALLY).

    python launcher/local_asgi.py gateway.app:app --host 127.0.0.1 --port 8000 …   (cwd: the service's folder)
"""
from __future__ import annotations

import sys

from local_process import leave_out_unused_libraries

if __name__ == "__main__":
    leave_out_unused_libraries(asgi=True)
    from uvicorn.main import main

    sys.exit(main())
