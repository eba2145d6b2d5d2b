#!/usr/bin/python3
"""A WebSocket client for the tests (Debian's python3-websockets, asyncio client).

    ws-client.py URL [--header 'Name: value']... [--origin O] [--send JSON]...
                 [--count N] [--timeout S] [--close CODE] [--until-close] [--cafile CA]

A wss:// URL is verified against --cafile (the chain only: the test CA's server
certificate names the servername, not the address connected to).

Prints one line per step, flushed, for the test to read:
    REFUSED <status>          the handshake was answered with <status>, not 101
    OPEN <port>               the WebSocket is open, from local port <port> (the --send
                              messages follow, after --delay seconds)
    MSG <text>                a message from the server
    CLOSED <code> <reason>    the close code the server sent (or echoed), 1006 if none
    TIMEOUT                   --timeout passed before --count messages
Stops after --count messages (then closes with --close, default 1000), when the server
closes, or at --timeout (default 10 s). --until-close waits for the server's close.
Messages are sent after OPEN, one by one; --send-after N sends the next message only
after N messages arrived (for a resume after the first ones).
"""
import argparse
import asyncio
import ssl
import sys

import websockets
import websockets.exceptions as wse


def say(*parts):
    print(*parts, flush=True)


async def main(a):
    headers = []
    for h in a.header:
        name, _, value = h.partition(':')
        headers.append((name.strip(), value.strip()))
    tls = None
    if a.url.startswith('wss://'):
        tls = ssl.create_default_context(cafile=a.cafile)
        tls.check_hostname = False
    try:
        ws = await websockets.connect(a.url, extra_headers=headers, origin=a.origin,
                                      compression=None, open_timeout=a.timeout,
                                      ping_interval=None, max_size=2 ** 22, ssl=tls)
    except wse.InvalidStatusCode as e:
        say('REFUSED', e.status_code)
        return
    except Exception as e:  # noqa: BLE001 - the test reads what happened
        say('ERROR', type(e).__name__, str(e).replace('\n', ' '))
        return
    say('OPEN', ws.transport.get_extra_info('sockname')[1])
    if a.delay:
        await asyncio.sleep(a.delay)
    for m in a.send:
        await ws.send(m)
    got = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + a.timeout
    try:
        while a.until_close or got < a.count:
            left = deadline - loop.time()
            if left <= 0:
                say('TIMEOUT')
                break
            try:
                msg = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                say('TIMEOUT')
                break
            got += 1
            say('MSG', msg if isinstance(msg, str) else msg.hex())
            for m in a.send_then:
                await ws.send(m)
            a.send_then = []
        await ws.close(code=a.close)
    except wse.ConnectionClosed:
        pass
    say('CLOSED', ws.close_code if ws.close_code is not None else 1006, ws.close_reason or '')


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('url')
    p.add_argument('--header', action='append', default=[])
    p.add_argument('--origin')
    p.add_argument('--send', action='append', default=[])
    p.add_argument('--send-then', action='append', default=[],
                   help='sent after the first message arrived')
    p.add_argument('--count', type=int, default=0)
    p.add_argument('--timeout', type=float, default=10)
    p.add_argument('--close', type=int, default=1000)
    p.add_argument('--until-close', action='store_true')
    p.add_argument('--delay', type=float, default=0)
    p.add_argument('--cafile')
    sys.exit(asyncio.run(main(p.parse_args())))
