#!/usr/bin/env python3
"""The baseline bench/transport_round.sh divides by, measured in the same run: the same round's
bytes moved by plain TCP on loopback, with nothing else. A server sends `model_bytes` to each of
`clients` client processes; each reads it and sends `model_bytes` back; a round is the time from
the first send to the last byte received. Prints the median over rounds 2..rounds (round 1
includes the connections' warm-up).

  python3 bench/tcp_round_baseline.py --clients 10 --model-bytes 40000000 --rounds 6
"""
import argparse
import multiprocessing
import socket
import statistics
import threading
import time


def client(port, model_bytes, rounds):
    s = socket.create_connection(("127.0.0.1", port))
    buf = bytearray(1 << 20)
    reply = bytes(model_bytes)
    for _ in range(rounds):
        left = model_bytes
        while left > 0:
            n = s.recv_into(buf, min(len(buf), left))
            if n == 0:
                return
            left -= n
        s.sendall(reply)
    s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--model-bytes", type=int, default=40_000_000)
    p.add_argument("--rounds", type=int, default=6)
    a = p.parse_args()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(a.clients)
    port = server.getsockname()[1]
    procs = [multiprocessing.Process(target=client, args=(port, a.model_bytes, a.rounds))
             for _ in range(a.clients)]
    for pr in procs:
        pr.start()
    conns = [server.accept()[0] for _ in range(a.clients)]
    model = bytes(a.model_bytes)
    times = []

    def exchange(conn):
        conn.sendall(model)
        buf = bytearray(1 << 20)
        left = a.model_bytes
        while left > 0:
            left -= conn.recv_into(buf, min(len(buf), left))

    for _ in range(a.rounds):
        start = time.perf_counter()
        threads = [threading.Thread(target=exchange, args=(c,)) for c in conns]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times.append(time.perf_counter() - start)
    for pr in procs:
        pr.join()
    later = times[1:] if len(times) > 1 else times
    print(f"{statistics.median(later):.4f}")


if __name__ == "__main__":
    main()
