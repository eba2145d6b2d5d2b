#!/usr/bin/python3
"""Hand-built WebSocket frames over a plain socket, for the protocol tests.

The handshake and every frame the server sends are checked by a strict third-party
parser: the sans-I/O ClientConnection of Debian's python3-websockets. What the client
sends is written by hand, byte by byte, so that it can break RFC 6455 on purpose.

    ws-raw.py cases PORT TOKEN         every case of CASES; one line each:
                                       NAME EVENT...   (PONG:x MSG:type CLOSE:code EOF ...)
    ws-raw.py noread PORT TOKEN SECS   floods pings, never reads; DROPPED t | NOT-DROPPED
    ws-raw.py nopong PORT TOKEN SECS   never answers pings; PINGS n EOF t | PINGS n OPEN
    ws-raw.py slowloris PORT SECS      dribbles the handshake's headers, a byte a second;
                                       CUT t STATUS | NOT-CUT
    ws-raw.py keepalive PORT TOKEN     GET /api/session, then the handshake on the same
                                       connection (HTTP/1.1 keep-alive), then a
                                       {"type":"ping"}: FIRST:status STATUS:101 MSG:pong
    ws-raw.py early PORT TOKEN KB      sends KB kilobytes of pings and then a {"type":"ping"}
                                       in the same write as its handshake, before the 101
                                       (RFC 6455 4.1 says wait); STATUS then the events
"""
import json
import os
import socket
import struct
import sys
import time

from websockets.client import ClientConnection
from websockets.frames import Frame, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, OP_BINARY
from websockets.http11 import Response
from websockets.uri import parse_uri

KEY = b'\x37\xfa\x21\x3d'


def frame(op, payload=b'', fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = bytes([b0, m | n])
    elif n < 65536:
        hdr = bytes([b0, m | 126]) + struct.pack('!H', n)
    else:
        hdr = bytes([b0, m | 127]) + struct.pack('!Q', n)
    if not mask:
        return hdr + payload
    return hdr + KEY + bytes(c ^ KEY[i % 4] for i, c in enumerate(payload))


def close(code, reason=b''):
    return frame(OP_CLOSE, struct.pack('!H', code) + reason)


PING_JSON = b'{"type":"ping"}'

# name -> bytes the client sends after the handshake
CASES = {
    'unmasked': frame(OP_TEXT, PING_JSON, mask=False),
    'rsv1': frame(OP_TEXT, PING_JSON, rsv=4),
    'rsv2': frame(OP_TEXT, PING_JSON, rsv=2),
    'rsv3': frame(OP_TEXT, PING_JSON, rsv=1),
    'opcode-3': frame(0x3, b'x'),
    'opcode-11': frame(0xB, b''),
    'ping-fragmented': frame(OP_PING, b'x', fin=False),
    'ping-126': frame(OP_PING, b'p' * 126),
    'close-126': frame(OP_CLOSE, struct.pack('!H', 1000) + b'r' * 124),
    'length-64-top-bit': bytes([0x81, 0xFF]) + b'\x80' + b'\x00' * 7 + KEY + b'xx',
    'utf8-invalid': frame(OP_TEXT, b'\xc0\xaf'),
    'utf8-surrogate': frame(OP_TEXT, b'"\xed\xa0\x80"'),
    'utf8-split-invalid': frame(OP_TEXT, b'"\xe2\x82', fin=False) + frame(0, b'\x28"'),
    'utf8-split-truncated': frame(OP_TEXT, b'"\xe2', fin=False) + frame(0, b'\x82'),
    'too-big': bytes([0x81, 0xFF]) + struct.pack('!Q', 70000) + KEY + b'a' * 100,
    'too-big-fragmented': frame(OP_TEXT, b'a' * 40000, fin=False) + frame(0, b'a' * 40000),
    'continuation-first': frame(0, b'x'),
    'text-inside-fragmented': frame(OP_TEXT, b'a', fin=False) + frame(OP_TEXT, b'b'),
    'close-1-byte': frame(OP_CLOSE, b'\x03'),
    'close-999': close(999),
    'close-1004': close(1004),
    'close-1005': close(1005),
    'close-1006': close(1006),
    'close-1015': close(1015),
    'close-5000': close(5000),
    'close-reason-invalid': close(1000, b'\xff'),
    'close-1000': close(1000, b'bye'),
    'close-3001': close(3001),
    'close-empty': frame(OP_CLOSE, b''),
    'data-after-close': close(1000) + frame(OP_TEXT, PING_JSON),
    'ping': frame(OP_PING, b'hello'),
    'binary': frame(OP_BINARY, b'\x00\x01'),
    'not-json': frame(OP_TEXT, b'nope') + frame(OP_TEXT, PING_JSON),
    'unknown-type': frame(OP_TEXT, b'{"type":"subscribe"}') + frame(OP_TEXT, PING_JSON),
    'bad-resume': frame(OP_TEXT, b'{"type":"resume","after":"x"}') + frame(OP_TEXT, PING_JSON),
    'utf8-split-valid': frame(OP_TEXT, b'{"type":"ping","x":"\xe2\x82', fin=False)
    + frame(0, b'\xac"}'),
    'fragments-and-ping': frame(OP_TEXT, b'{"type":', fin=False) + frame(OP_PING, b'mid')
    + frame(0, b'"ping"}'),
    'max-size-ok': frame(OP_TEXT, b'"' + b'a' * 65534 + b'"'),
}


def connect(port, token, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect(('127.0.0.1', port))
    conn = ClientConnection(parse_uri('ws://127.0.0.1:%d/api/ws' % port), max_size=2 ** 22)
    req = conn.connect()
    req.headers['Authorization'] = 'Bearer ' + token
    conn.send_request(req)
    s.sendall(b''.join(conn.data_to_send()))
    while conn.state.name == 'CONNECTING':
        data = s.recv(65536)
        if not data:
            raise RuntimeError('no handshake response')
        conn.receive_data(data)
    for ev in conn.events_received():
        if isinstance(ev, Response) and ev.status_code != 101:
            raise RuntimeError('handshake answered %d' % ev.status_code)
    if conn.state.name != 'OPEN':
        raise RuntimeError('handshake failed: %r' % (conn.handshake_exc,))
    return s, conn


def events_of(conn, out):
    for ev in conn.events_received():
        if not isinstance(ev, Frame):
            continue
        if ev.opcode == OP_PONG:
            out.append('PONG:' + ev.data.decode('utf-8', 'replace'))
        elif ev.opcode == OP_TEXT:
            try:
                out.append('MSG:' + json.loads(ev.data)['type'])
            except Exception:  # noqa: BLE001
                out.append('MSG:?')
        elif ev.opcode == OP_BINARY:
            out.append('BINARY')
        elif ev.opcode == OP_CLOSE:
            out.append('CLOSE:%d' % (conn.close_rcvd.code if conn.close_rcvd else 1005))
    if conn.parser_exc is not None:
        out.append('BADSERVER:' + type(conn.parser_exc).__name__)


def run_case(port, token, data):
    s, conn = connect(port, token)
    out = []
    s.sendall(data)
    sent_close = False
    deadline = time.time() + 6
    s.settimeout(0.7)
    while time.time() < deadline:
        try:
            got = s.recv(65536)
        except socket.timeout:
            if not sent_close and not conn.close_rcvd:
                s.sendall(close(1000))      # nothing more came: end it ourselves
                sent_close = True
            continue
        except OSError as e:
            out.append('RESET:' + type(e).__name__)
            break
        if not got:
            conn.receive_eof()
            events_of(conn, out)
            out.append('EOF')
            break
        conn.receive_data(got)
        events_of(conn, out)
        s.sendall(b''.join(conn.data_to_send()))     # pongs, the reply to a close
    else:
        out.append('OPEN')
    s.close()
    return out


def cases(port, token):
    for name, data in CASES.items():
        try:
            out = run_case(port, token, data)
        except Exception as e:  # noqa: BLE001
            out = ['ERROR:' + str(e).replace(' ', '_')]
        print(name, ' '.join(out), flush=True)


def noread(port, token, secs):
    s, conn = connect(port, token, rcvbuf=4096)
    s.settimeout(secs)
    ping = frame(OP_PING, b'p' * 125)
    t0 = time.time()
    sent = 0
    try:
        while time.time() - t0 < secs:
            s.sendall(ping * 64)
            sent += len(ping) * 64
    except OSError:
        print('DROPPED %.1f %d' % (time.time() - t0, sent), flush=True)
        return
    print('NOT-DROPPED %d' % sent, flush=True)


def nopong(port, token, secs):
    s, conn = connect(port, token)
    s.settimeout(secs)
    t0 = time.time()
    pings = 0
    try:
        while time.time() - t0 < secs:
            got = s.recv(65536)
            if not got:
                print('PINGS %d EOF %.1f' % (pings, time.time() - t0), flush=True)
                return
            conn.receive_data(got)
            for ev in conn.events_received():
                if isinstance(ev, Frame) and ev.opcode == OP_PING:
                    pings += 1
            conn.data_to_send()             # the pongs it made: never sent
    except socket.timeout:
        pass
    except OSError:
        print('PINGS %d EOF %.1f' % (pings, time.time() - t0), flush=True)
        return
    print('PINGS %d OPEN' % pings, flush=True)


def until_pong(s, conn, out, after_open=None):
    """Reads until the answer to a {"type":"ping"} message (8 s at most), noting STATUS:n,
    MSG:type, CLOSE, EOF, RESET:x in out; sends after_open once the handshake is answered.
    Returns how many pong frames came."""
    pongs = 0
    deadline = time.time() + 8
    s.settimeout(1)
    while time.time() < deadline and 'MSG:pong' not in out:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError as e:
            out.append('RESET:' + type(e).__name__)
            break
        if not data:
            out.append('EOF')
            break
        conn.receive_data(data)
        for ev in conn.events_received():
            if isinstance(ev, Response):
                out.append('STATUS:%d' % ev.status_code)
            elif isinstance(ev, Frame) and ev.opcode == OP_PONG:
                pongs += 1
            elif isinstance(ev, Frame) and ev.opcode == OP_TEXT:
                out.append('MSG:' + json.loads(ev.data)['type'])
            elif isinstance(ev, Frame) and ev.opcode == OP_CLOSE:
                out.append('CLOSE')
        conn.data_to_send()
        if after_open is not None and conn.state.name == 'OPEN':
            s.sendall(after_open)
            after_open = None
    return pongs


def handshake(port, token):
    """A ClientConnection and the bytes of its handshake (Bearer token)."""
    conn = ClientConnection(parse_uri('ws://127.0.0.1:%d/api/ws' % port), max_size=2 ** 22)
    req = conn.connect()
    req.headers['Authorization'] = 'Bearer ' + token
    conn.send_request(req)
    return conn, b''.join(conn.data_to_send())


def keepalive(port, token):
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(5)
    s.sendall(('GET /api/session HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n'
               '\r\n' % (port, token)).encode())
    got = b''
    while b'\r\n\r\n' not in got:
        got += s.recv(65536)
    head, _, body = got.partition(b'\r\n\r\n')
    length = 0
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value.strip())
    while len(body) < length:
        body += s.recv(65536)
    out = ['FIRST:%d' % int(head.split(b' ')[1])]
    conn, hs = handshake(port, token)
    s.sendall(hs)
    until_pong(s, conn, out, after_open=frame(OP_TEXT, b'{"type":"ping"}'))
    s.close()
    print(' '.join(out), flush=True)


def early(port, token, kb):
    s = socket.create_connection(('127.0.0.1', port))
    conn, hs = handshake(port, token)
    pings = frame(OP_PING, b'e' * 100) * int(kb * 1024 / 106)
    s.sendall(hs + pings + frame(OP_TEXT, b'{"type":"ping"}'))
    out = []
    n = until_pong(s, conn, out)
    s.close()
    print(' '.join(out[:1] + ['PONGS:%d' % n] + out[1:]), flush=True)


def slowloris(port, secs):
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(1)
    t0 = time.time()
    s.sendall(b'GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    rest = b'Upgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: ' + b'a' * 200
    got = b''
    for i in range(len(rest)):
        if time.time() - t0 > secs:
            break
        try:
            s.sendall(rest[i:i + 1])
        except OSError:
            print('CUT %.1f -' % (time.time() - t0), flush=True)
            return
        try:
            chunk = s.recv(4096)
            if not chunk:
                print('CUT %.1f %s' % (time.time() - t0, got.split(b'\r\n')[0].decode()
                                       if got else '-'), flush=True)
                return
            got += chunk
        except socket.timeout:
            pass
        except OSError:
            print('CUT %.1f -' % (time.time() - t0), flush=True)
            return
    print('NOT-CUT', flush=True)


if __name__ == '__main__':
    what = sys.argv[1]
    if what == 'cases':
        cases(int(sys.argv[2]), sys.argv[3])
    elif what == 'noread':
        noread(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    elif what == 'nopong':
        nopong(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    elif what == 'keepalive':
        keepalive(int(sys.argv[2]), sys.argv[3])
    elif what == 'early':
        early(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
    elif what == 'slowloris':
        slowloris(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit('usage: see the docstring')
