#!/usr/bin/env python3
# t/hostile/tlspeer.py - a TLS peer for the hostile cases of lem.tls that
# goes through a real handshake (Python's ssl, memory BIOs over a socket
# of its own) and then writes what it likes under the records.
#
# Copyright (C) 2026 the lem authors.  Part of lem, free software under
# the GNU General Public License version 3 or later; see COPYING.
#
#   tlspeer.py client PORT CAFILE WHAT    connect to a lem server
#   tlspeer.py server CERT KEY WHAT       print "port N", take one client
#
# WHAT, after a line "hello\n" both ways:
#   huge-header  a record header that claims 65535 bytes
#   long-record  a whole application record 1 byte over the limit
#   bad-mac      a record of the right size whose bytes are random
#   noline       4 MiB of records without a newline
#   flood        16 MiB in full records, reading nothing back
# Prints what it saw: "handshake ok", "echo ok", then "alert" if a TLS
# alert came back, and "closed" when the connection ended.
import os, socket, ssl, sys

def pump(obj, out, sock):
    data = out.read()
    if data:
        sock.sendall(data)

def handshake(obj, inc, out, sock):
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump(obj, out, sock)
            d = sock.recv(65536)
            if not d:
                raise SystemExit('closed in the handshake')
            inc.write(d)
    pump(obj, out, sock)
    print('handshake ok', flush=True)

def readline(obj, inc, out, sock):
    buf = b''
    while not buf.endswith(b'\n'):
        try:
            buf += obj.read(65536)
        except ssl.SSLWantReadError:
            pump(obj, out, sock)
            d = sock.recv(65536)
            if not d:
                return buf
            inc.write(d)
    return buf

def attack(what, obj, out, sock):
    if what == 'huge-header':
        sock.sendall(b'\x17\x03\x03\xff\xff' + b'x' * 100)
    elif what == 'long-record':
        n = 16384 + 256 + 1
        sock.sendall(b'\x17\x03\x03' + n.to_bytes(2, 'big') + os.urandom(n))
    elif what == 'bad-mac':
        sock.sendall(b'\x17\x03\x03\x00\x40' + os.urandom(64))
    elif what in ('noline', 'flood'):
        total = 4 << 20 if what == 'noline' else 16 << 20
        chunk = b'y' * 16384
        sent = 0
        try:
            while sent < total:
                obj.write(chunk)
                pump(obj, out, sock)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        print('sent %d' % sent, flush=True)
        if what == 'flood':
            sock.shutdown(socket.SHUT_WR)   # no close_notify: truncated

def finish(obj, inc, sock):
    # what comes back goes through the TLS object: a TLS 1.3 alert is
    # encrypted like data
    sock.settimeout(20)
    alert = False
    try:
        while True:
            d = sock.recv(65536)
            if not d:
                break
            inc.write(d)
            try:
                obj.read(65536)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as e:
                alert = alert or 'ALERT' in str(e).upper()
    except (ConnectionResetError, socket.timeout):
        pass
    if alert:
        print('alert', flush=True)
    print('closed', flush=True)

def main():
    role = sys.argv[1]
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    if role == 'client':
        port, ca, what = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        ctx = ssl.create_default_context(cafile=ca)
        obj = ctx.wrap_bio(inc, out, server_hostname='localhost')
        sock = socket.create_connection(('127.0.0.1', port))
    else:
        cert, key, what = sys.argv[2], sys.argv[3], sys.argv[4]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ls = socket.socket()
        ls.bind(('127.0.0.1', 0))
        ls.listen(1)
        print('port %d' % ls.getsockname()[1], flush=True)
        sock, _ = ls.accept()
        ls.close()
        obj = ctx.wrap_bio(inc, out, server_side=True)
    handshake(obj, inc, out, sock)
    obj.write(b'hello\n')
    pump(obj, out, sock)
    if readline(obj, inc, out, sock) == b'hello\n':
        print('echo ok', flush=True)
    attack(what, obj, out, sock)
    finish(obj, inc, sock)

main()
