"""terminado 0.18 behind tornado, as Jupyter serves it: one program per WebSocket at /websocket.

    python3 terminado_server.py PROGRAM

Listens on a free loopback port and prints `listening on 127.0.0.1:PORT` to standard error.
"""
import asyncio
import sys

import tornado.web
from terminado import TermSocket, UniqueTermManager


async def main():
    manager = UniqueTermManager(shell_command=[sys.argv[1]], max_terminals=64)
    app = tornado.web.Application([(r"/websocket", TermSocket, {"term_manager": manager})])
    server = app.listen(0, "127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
