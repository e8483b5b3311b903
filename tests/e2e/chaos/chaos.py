#!/usr/bin/env python3
"""Chaos scenario: nothing lost, nothing doubled while workers and the coordinator die.

    chaos.py PODFLEET_BINARY

A coordinator, 8 workers with the simulated engine and 200 short WAV episodes from one feed.
While they work, a seeded schedule kill -9s workers (restarted on the same work directory, so
they resume their identity and replay their outbox), kill -9s the coordinator (restarted on the
same data directory and port) and cuts workers off through proxy.py (links dropped or stalled,
some for longer than a lease, so late results come back from outboxes). Then everything is
healed and the queue must drain. Checked from the SQLite file and the API: every job done,
exactly one completed attempt per job, no job leased again once done, every transcript served,
every outbox empty. Prints the figures.

CHAOS_SEED=N picks another schedule (default 20261128). Bounded: fails after 240 s.
"""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave

JOBS = 200
WORKERS = 8
LEASE = "3s"
HEARTBEAT = "1s"
AUDIO_SECONDS = 5
SIMULATED_SPEED = "2"  # 2.5 s of engine time per job: ~70 s of work for the fleet
# Far above what the schedule can cause to one job; quarantine is tested in the unit tests.
QUARANTINE_AFTER = "50"
DEADLINE = 240
HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(HERE, "..", "lib")


class Fail(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(limit, what, check):
    deadline = time.monotonic() + limit
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {limit}s waiting for {what}")
        time.sleep(0.2)


class Scenario:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.procs = {}  # name -> Popen
        self.port = free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        self.figures = {"worker kills": 0, "coordinator kills": 0, "partitions": 0}
        self.outages = []  # (killed at, serving again at), Unix ms

    # ---- processes ----

    def spawn(self, name, argv):
        log = open(os.path.join(self.work, f"{name}.log"), "a")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    def kill9(self, name):
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()

    def start_coordinator(self):
        self.spawn("coordinator", [
            self.binary, "serve", "--data", os.path.join(self.work, "data"), "--port",
            str(self.port), "--lease", LEASE, "--heartbeat", HEARTBEAT, "--quarantine-after",
            QUARANTINE_AFTER, "--retry-backoff", "200ms"])
        wait_for(20, "the coordinator", lambda: self.get("/api/health")["healthy"])

    def start_worker(self, i):
        self.spawn(f"w{i}", [
            self.binary, "work", "--server", f"http://127.0.0.1:{self.links[i]}", "--token",
            self.token, "--name", f"w{i}", "--work-dir", os.path.join(self.work, f"w{i}"),
            "--engine", "simulated", "--simulated-speed", SIMULATED_SPEED, "--prefetch", "1",
            "--claim-wait", "1s"])

    # ---- API ----

    def get(self, path):
        with urllib.request.urlopen(self.server + path, timeout=10) as r:
            return json.load(r)

    def post(self, path, body):
        req = urllib.request.Request(self.server + path, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {self.admin}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def proxy(self, command):
        with socket.create_connection(("127.0.0.1", self.control), timeout=5) as s:
            s.sendall(f"{command}\n".encode())
            reply = s.makefile().readline().strip()
        if reply != "ok":
            raise Fail(f"proxy: {command}: {reply}")

    def counts(self):
        return self.get("/api/queue/status")["transcribe_queue"]

    # ---- setup ----

    def make_feed(self, jobs=JOBS, seconds=AUDIO_SECONDS):
        media = os.path.join(self.work, "media")
        os.makedirs(media)
        rng = random.Random(1)
        items = []
        for n in range(jobs):
            name = f"ep{n:03d}.wav"
            with wave.open(os.path.join(media, name), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(rng.randbytes(seconds * 32000))
            items.append(f"<item><title>Episode {n}</title><guid>chaos-{n}</guid>"
                         f"<enclosure url=\"ORIGIN/{name}\" type=\"audio/wav\" length=\""
                         f"{os.path.getsize(os.path.join(media, name))}\"/></item>")
        self.feed_template = ("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>"
                              "<title>Chaos</title>" + "".join(items) + "</channel></rss>")
        self.media = media

    def start_origin(self):
        """Serves the media and the feed (make_feed first); returns the origin's URL."""
        port_file = os.path.join(self.work, "origin.port")
        self.spawn("origin", ["python3", os.path.join(LIB, "serve.py"), "--dir", self.media,
                              "--port", "0", "--port-file", port_file, "--quiet"])
        wait_for(10, "the origin", lambda: os.path.getsize(port_file) > 0)
        origin = f"http://127.0.0.1:{open(port_file).read().strip()}"
        with open(os.path.join(self.media, "feed.xml"), "w") as f:
            f.write(self.feed_template.replace("ORIGIN", origin))
        return origin

    def setup(self):
        self.make_feed()
        origin = self.start_origin()

        self.start_coordinator()
        log = open(os.path.join(self.work, "coordinator.log")).read()
        self.token = next(w for w in log.split() if w.startswith("pfe_"))
        self.admin = open(os.path.join(self.work, "data", "admin.token")).read().strip()

        links_file = os.path.join(self.work, "proxy.ports")
        self.spawn("proxy", ["python3", os.path.join(LIB, "proxy.py"), "--target", str(self.port),
                             "--links", str(WORKERS), "--port-file", links_file])
        wait_for(10, "the proxy", lambda: os.path.getsize(links_file) > 0)
        ports = [int(p) for p in open(links_file).read().split()]
        self.links, self.control = ports[:WORKERS], ports[WORKERS]

        added = self.post("/api/feeds", {"url": f"{origin}/feed.xml"})
        if added.get("new_episodes") != JOBS:
            raise Fail(f"feed: expected {JOBS} new episodes: {added}")
        for i in range(WORKERS):
            self.start_worker(i)

    # ---- chaos ----

    def schedule(self, rng):
        actions = (["kill-worker"] * 8 + ["kill-coordinator"] * 3 + ["drop"] * 3 +
                   ["stall"] * 3)
        rng.shuffle(actions)
        return actions

    def act(self, action, rng):
        if action == "kill-worker":
            i = rng.randrange(WORKERS)
            self.kill9(f"w{i}")
            time.sleep(rng.uniform(0.2, 2.0))
            self.start_worker(i)
            self.figures["worker kills"] += 1
        elif action == "kill-coordinator":
            self.kill9("coordinator")
            down = time.time()
            time.sleep(rng.uniform(0.5, 4.0))  # sometimes longer than a lease
            self.start_coordinator()
            self.outages.append((int(down * 1000), int(time.time() * 1000)))
            self.figures["coordinator kills"] += 1
        else:
            i = rng.randrange(WORKERS)
            self.proxy(f"{action} {i}")
            time.sleep(rng.uniform(1.0, 8.0))  # sometimes well past the lease
            self.proxy(f"pass {i}")
            self.figures["partitions"] += 1

    def run(self):
        seed = int(os.environ.get("CHAOS_SEED", "20261128"))
        rng = random.Random(seed)
        started = time.monotonic()
        self.setup()
        for action in self.schedule(rng):
            time.sleep(rng.uniform(0.5, 2.5))
            done = self.counts()["completed"]
            print(f"  t={time.monotonic() - started:5.1f}s done={done:3d} {action}", flush=True)
            self.act(action, rng)
        print(f"  t={time.monotonic() - started:5.1f}s chaos over; waiting for the queue",
              flush=True)
        remaining = DEADLINE - (time.monotonic() - started)
        wait_for(max(remaining, 10), "every job done",
                 lambda: self.counts()["completed"] == JOBS)
        # Let outboxes settle (a refused late result is removed once answered).
        wait_for(20, "empty outboxes", self.outboxes_empty)
        self.check(seed, time.monotonic() - started)

    def outboxes_empty(self):
        return all(not any(n.endswith(".json") for n in os.listdir(
            os.path.join(self.work, f"w{i}", "outbox"))) for i in range(WORKERS))

    # ---- checks ----

    def check(self, seed, elapsed):
        counts = self.counts()
        if counts != {"queued": 0, "running": 0, "completed": JOBS, "failed": 0}:
            raise Fail(f"queue: {counts}")
        db = sqlite3.connect(f"file:{os.path.join(self.work, 'data', 'podfleet.db')}?mode=ro",
                             uri=True)
        q = lambda sql: db.execute(sql).fetchall()
        done_per_job = q("SELECT j.id, j.state, (SELECT count(*) FROM attempts a "
                         "WHERE a.job_id = j.id AND a.outcome = 'done') FROM jobs j")
        if len(done_per_job) != JOBS:
            raise Fail(f"{len(done_per_job)} jobs in the store, not {JOBS}")
        lost = [j for j, state, done in done_per_job if state != "done" or done == 0]
        duplicates = [j for j, _, done in done_per_job if done > 1]
        # Once done, a job is never leased again: any attempt numbered after the completing one
        # was running when a late result completed the job, and was superseded by it, or had
        # already ended before it did (its lease expired too, before the late result came).
        # (Lease times cannot show the order: a request reads the clock before it waits for the
        # store's lock; an attempt that ended before the job was done was leased before too.)
        releases_after_done = q(
            "SELECT count(*) FROM attempts a JOIN attempts d ON d.job_id = a.job_id "
            "AND d.outcome = 'done' WHERE a.number > d.number "
            "AND a.error NOT LIKE 'superseded by the late result%' "
            "AND (a.finished_at IS NULL OR a.finished_at >= d.finished_at)")[0][0]
        transcripts = q("SELECT count(*) FROM transcripts t JOIN episodes e "
                        "ON e.id = t.episode_id WHERE e.state = 'done'")[0][0]
        outcomes = dict(q("SELECT outcome, count(*) FROM attempts GROUP BY outcome"))
        late = q("SELECT count(*) FROM attempts WHERE error LIKE '%late result accepted%'")[0][0]
        attempts = sum(outcomes.values())
        # Attempts that outlived a coordinator restart and completed on their own lease.
        reattached = sum(q(f"SELECT count(*) FROM attempts WHERE outcome = 'done' AND error = '' "
                           f"AND leased_at < {down} AND finished_at > {up}")[0][0]
                         for down, up in self.outages)
        served = 0
        for (episode,) in q("SELECT id FROM episodes"):
            body = self.get(f"/api/episodes/{episode}/transcript?format=json")
            served += 1 if body.get("segments") else 0
        db.close()

        print(f"chaos (seed {seed}, {elapsed:.0f} s): jobs={JOBS} workers={WORKERS} "
              f"worker_kills={self.figures['worker kills']} "
              f"coordinator_kills={self.figures['coordinator kills']} "
              f"partitions={self.figures['partitions']}")
        print(f"  attempts={attempts} redone={attempts - JOBS} "
              f"(expired={outcomes.get('expired', 0)} released={outcomes.get('released', 0)} "
              f"failed={outcomes.get('failed', 0)}) late_results_accepted={late} "
              f"reattached_after_restart={reattached}")
        print(f"  lost={len(lost)} duplicates={len(duplicates)} transcripts={transcripts} "
              f"served={served} leased_after_done={releases_after_done}")
        if lost or duplicates:
            raise Fail(f"lost jobs {lost[:10]}, duplicated jobs {duplicates[:10]}")
        if transcripts != JOBS or served != JOBS:
            raise Fail(f"{transcripts} transcripts stored, {served} served, not {JOBS}")
        if releases_after_done:
            raise Fail(f"{releases_after_done} attempts leased after their job was done")
        if self.figures["coordinator kills"] == 0 or self.figures["worker kills"] == 0:
            raise Fail("the schedule killed nothing")


def main(scenario_class=Scenario):
    """Runs `scenario_class(binary, work).run()` in a fresh directory; on failure, shows the logs."""
    binary = os.path.realpath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="podfleet-chaos.")
    scenario = scenario_class(binary, work)
    ok = False
    try:
        scenario.run()
        ok = True
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
    finally:
        scenario.stop_all()
        if ok:
            shutil.rmtree(work)
        else:
            print(f"--- logs in {work}", file=sys.stderr)
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    lines = open(os.path.join(work, name), errors="replace").readlines()
                    print(f"=== {name}\n" + "".join(lines[-25:]), file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
