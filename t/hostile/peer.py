#!/usr/bin/env python3
# t/hostile/peer.py - hostile peers for lem's hostile suite, each a
# separate process on 127.0.0.1.
#
# Copyright (C) 2026 the lem authors.  Part of lem, free software under
# the GNU General Public License version 3 or later; see COPYING.
#
# usage: peer.py COMMAND PORT [ARGS]; prints one result line on stdout.
import hashlib, os, selectors, socket, struct, sys, time

def conn(port, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(('127.0.0.1', port))
    return s

def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()

def recv_all(s, n=None):
    data = b''
    while n is None or len(data) < n:
        d = s.recv(65536)
        if not d:
            break
        data += d
    return data

def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if cmd == 'halfline-rst':            # send half a line, then RST
        s = conn(port); s.sendall(b'half a li'); time.sleep(0.2); rst(s)
        print('sent')
    elif cmd == 'sink-rst':              # read nothing, RST after a delay
        s = conn(port, 4096); time.sleep(float(a[0])); rst(s)
        print('reset')
    elif cmd == 'slowpeer':              # N bytes through an echo, slow reads
        n = int(a[0])
        s = conn(port, 4096)
        data = os.urandom(n)
        sel = selectors.DefaultSelector()
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        sent, got, h = 0, 0, hashlib.sha256()
        while got < n:
            for key, ev in sel.select(5):
                if ev & selectors.EVENT_WRITE and sent < n:
                    try:
                        sent += s.send(data[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    if sent == n:
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    d = s.recv(4096)
                    if not d:
                        got = n + 1 if got < n else got
                        break
                    got += len(d); h.update(d)
                    time.sleep(0.0005)
            else:
                if not sel.select(5):
                    break
        ok = h.hexdigest() == hashlib.sha256(data).hexdigest()
        print('sent %d got %d sha256 %s' % (sent, got, 'match' if ok else 'MISMATCH'))
    elif cmd == 'halfclose':             # send, shutdown(WR), read the reply
        s = conn(port); s.sendall(a[0].encode()); s.shutdown(socket.SHUT_WR)
        print(recv_all(s).decode(errors='replace'))
    elif cmd == 'trickle':               # the bytes of a file, one per delay
        data = open(a[0], 'rb').read(); delay = float(a[1])
        s = conn(port)
        if delay == 0:
            s.sendall(data)
        else:
            for i in range(len(data)):
                s.send(data[i:i + 1]); time.sleep(delay)
        s.shutdown(socket.SHUT_WR)
        print(recv_all(s).decode(errors='replace'), end='')
    elif cmd == 'send-close':            # send a string, close
        s = conn(port); s.sendall(a[0].encode()); s.close()
        print('sent')
    elif cmd == 'hold':                  # hold N connections for T s
        n, t = int(a[0]), float(a[1]); held = []
        for i in range(n):
            try:
                held.append(conn(port))
            except OSError as e:
                print('connect %d: %s' % (i, e)); break
        time.sleep(t)
        for s in held:
            s.close()
        print('held %d' % len(held))
    elif cmd == 'echo-rounds':           # N sequential connect/line/echo
        n, ok = int(a[0]), 0
        for i in range(n):
            s = conn(port); s.sendall(b'ping %d\n' % i)
            if recv_all(s, len(b'ping %d\n' % i)) == b'ping %d\n' % i:
                ok += 1
            s.close()
        print('answered %d of %d' % (ok, n))
    elif cmd == 'c10k':                  # N concurrent connections
        n = int(a[0]); t0 = time.time(); socks = []
        for i in range(n):
            s = socket.socket(); s.setblocking(False)
            s.connect_ex(('127.0.0.1', port)); socks.append(s)
        sel = selectors.DefaultSelector()
        state = {}
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_WRITE, i); state[i] = b''
        answered, deadline = 0, time.time() + 45
        while answered < n and time.time() < deadline:
            for key, ev in sel.select(1):
                s, i = key.fileobj, key.data
                msg = b'hello %d\n' % i
                if ev & selectors.EVENT_WRITE:
                    try:
                        s.send(msg); sel.modify(s, selectors.EVENT_READ, i)
                    except (BlockingIOError, OSError):
                        pass
                elif ev & selectors.EVENT_READ:
                    try:
                        d = s.recv(100)
                    except OSError:
                        d = b''
                    state[i] += d
                    if state[i] == msg or not d:
                        if state[i] == msg:
                            answered += 1
                        sel.unregister(s)
        t = time.time() - t0
        for s in socks:
            s.close()
        print('answered %d of %d in %.2f s' % (answered, n, t))
    elif cmd == 'slowloris':             # N trickling connections + RTT probe
        n, t = int(a[0]), float(a[1]); socks = []
        for i in range(n):
            try:
                s = conn(port); s.setblocking(False); socks.append(s)
            except OSError:
                break
        worst, probes, t0 = 0.0, 0, time.time()
        while time.time() - t0 < t:
            for s in socks:
                try:
                    s.send(b'x')
                except OSError:
                    pass
            p0 = time.time(); c = conn(port); c.sendall(b'probe\n')
            got = recv_all(c, 6); c.close()
            rtt = time.time() - p0; probes += 1
            if got != b'probe\n':
                rtt = 99
            worst = max(worst, rtt)
            time.sleep(0.1)
        for s in socks:
            s.close()
        print('slow %d probes %d worst_rtt_ms %.1f' % (len(socks), probes, worst * 1000))
    elif cmd == 'slowsink':              # read slowly until the end
        s = conn(port, 4096); n = 0
        while True:
            d = s.recv(4096)
            if not d:
                break
            n += len(d); time.sleep(0.001)
        print('received %d' % n)
    elif cmd == 'churn':                 # N connect/close cycles
        n = int(a[0])
        for i in range(n):
            s = conn(port); s.close()
        print('churned %d' % n)
    else:
        sys.exit('unknown command ' + cmd)

main()
