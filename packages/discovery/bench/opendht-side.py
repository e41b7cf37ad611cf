"""OpenDHT side of opendht.bench.ts: the same operations as the Baran side, on N local nodes.

Run by the bench inside a network namespace that has only `lo` (no way out), with Debian's
python3-opendht 2.4.12 and /usr/bin/python3:
    unshare -n sh -c 'ip link set lo up && exec /usr/bin/python3 bench/opendht-side.py --nodes 20 --iterations 50'
Every node binds 127.0.0.1 and bootstraps from the first one: no public bootstrap is ever used.
Warm-up as the Baran side's (--warm rounds of gets by every node). Clocks: put from the call to its
blocking return (OpenDHT's put waits for its search); get.first from the call to the first value;
get from the call to done_cb (the whole search); listen.push from the start of the put to the callback.
Prints one JSON object of samples in ms; ends with os._exit(0) (DhtRunner.shutdown() may hang).
"""
import argparse
import json
import os
import sys
import threading
import time

import opendht as dht

ap = argparse.ArgumentParser()
ap.add_argument("--nodes", type=int, default=20)
ap.add_argument("--iterations", type=int, default=50)
ap.add_argument("--value-bytes", type=int, default=256)
ap.add_argument("--warm", type=int, default=30)
# The same idle as the Baran side's: after each put, and between a listen and the put it waits for.
ap.add_argument("--put-gap-ms", type=int, default=250)
ap.add_argument("--listen-settle-ms", type=int, default=300)
args = ap.parse_args()
N, ITER = args.nodes, args.iterations
now = time.perf_counter


def ms(t):
    return (now() - t) * 1000


def blob():
    return dht.Value(os.urandom(args.value_bytes))


def hexid(h):
    s = h.toString() if not isinstance(h, (bytes, str)) else h
    return int(s.decode() if isinstance(s, bytes) else s, 16)


def outside(nodes, key, i, skip):
    """A node that is not among the 8 closest to key (so it does not store it), nor in skip, when there is one."""
    k = hexid(key)
    closest = sorted(nodes, key=lambda n: hexid(n.getNodeId()) ^ k)[:8]
    others = [n for n in nodes if n not in closest and n not in skip]
    # As the Baran side: with too few nodes for an outsider, any node but those skipped.
    pool = others or [n for n in nodes if n not in skip]
    return pool[i % len(pool)]


out = {"nodes": N, "iterations": ITER, "version": "python3-opendht (Debian)"}
try:
    t0 = now()
    nodes = []
    for _ in range(N):
        r = dht.DhtRunner()
        r.run(ipv4="127.0.0.1", port=0)
        nodes.append(r)
    port = str(nodes[0].getBound().getPort())
    for r in nodes[1:]:
        r.bootstrap("127.0.0.1", port)
    out["startMs"] = round(ms(t0))
    # Wait (bounded) until every routing table holds min(8, N-1) good nodes, as on the Baran side.
    want = min(8, N - 1)
    for _ in range(120):
        good = [n.getRoutingTablesLog(2).count("[good]") for n in nodes]
        if min(good) >= want:
            break
        time.sleep(0.25)
    out["tablesReadyMs"] = round(ms(t0))
    out["minGoodNodes"] = min(good)
    time.sleep(1)  # let the join traffic settle

    # Warm-up, the same as the Baran side's (warmUp in opendht.bench.ts): every node puts one value, then
    # --warm rounds in which every node gets another node's value, all nodes at once, each round waited for.
    t = now()
    warm = [dht.InfoHash.getRandom() for _ in range(N)]
    for j, k in enumerate(warm):
        nodes[j].put(k, blob())
    warm_fails = 0
    for r in range(args.warm):
        events = []
        for j in range(N):
            ev = threading.Event()
            events.append(ev)
            nodes[j].get(warm[(j + r + 1) % N], get_cb=lambda v: True, done_cb=lambda ok, ns, ev=ev: ev.set())
        for ev in events:
            if not ev.wait(10):
                warm_fails += 1
    out["warmMs"] = round(ms(t))
    out["warmGetsUnfinished"] = warm_fails
    time.sleep(1)  # as the Baran side: a pause after the warm-up

    writer = nodes[1]
    samples = {"put": [], "get": [], "get.first": [], "get.missing": [], "listen.push": [], "listen.putDone": []}
    keys = [dht.InfoHash.getRandom() for _ in range(ITER)]
    fails = {"put": 0, "get": 0, "getUnfinished": 0, "listen": 0}

    # put: one at a time, blocking until OpenDHT reports it done
    for k in keys:
        t = now()
        ok = writer.put(k, blob())
        samples["put"].append(ms(t))
        if not ok:
            fails["put"] += 1
        time.sleep(args.put_gap_ms / 1000)

    # get from other nodes: done (the whole search) and the first value
    for i, k in enumerate(keys):
        reader = outside(nodes, k, i, [writer])
        first = []
        done = threading.Event()
        t = now()

        def on_value(v, first=first, t=t):
            if not first:
                first.append(ms(t))
            return True

        def on_done(ok, nodes_, done=done):
            done.set()

        reader.get(k, get_cb=on_value, done_cb=on_done)
        if not done.wait(10):
            fails["getUnfinished"] += 1
        full = ms(t)
        # As the Baran side: a get that found nothing is a failure, not a sample.
        if first:
            samples["get"].append(full)
            samples["get.first"].append(first[0])
        else:
            fails["get"] += 1

    for i in range(min(ITER, 10)):
        k = dht.InfoHash.getRandom()
        t = now()
        nodes[2 + i % (N - 2)].get(k)
        samples["get.missing"].append(ms(t))

    # listen: a watcher listens on a fresh key; latency from the start of the put to its callback
    for i in range(ITER):
        k = dht.InfoHash.getRandom()
        watcher = outside(nodes, k, i, [writer])
        got = threading.Event()
        at = []

        def on_push(v, expired=False, at=at, got=got):
            if not expired and not at:
                at.append(now())
                got.set()
            return True

        token = watcher.listen(k, on_push)
        time.sleep(args.listen_settle_ms / 1000)  # the listen reaches the storing nodes (Baran side waits for its subscriptions, then as long)
        t = now()
        writer.put(k, blob())
        samples["listen.putDone"].append(ms(t))
        if got.wait(10):
            samples["listen.push"].append((at[0] - t) * 1000)
        else:
            fails["listen"] += 1
        watcher.cancelListen(token)
        time.sleep(args.put_gap_ms / 1000)
    out["samples"] = samples
    out["failures"] = fails
except Exception as e:  # report what ran
    out["error"] = repr(e)
sys.stdout.write(json.dumps(out) + "\n")
sys.stdout.flush()
os._exit(0)
