#!/usr/bin/env python3
"""Chaos on PostgreSQL: several coordinators, one database; nothing lost, nothing doubled.

    chaos_pg.py PODFLEET_BINARY

Three `podfleet serve --store postgres://...` coordinators share one database on the scenario's
own PostgreSQL 15 (tests/support/pg-server). The test's TCP proxy (lib/proxy.py) puts a link in
front of each coordinator, and a round-robin link in front of all three for the test's own API
calls. 8 workers with the simulated engine each get the three links as their coordinator list
(`--server L0,L1,L2`, rotated per worker) and 120 short WAV episodes come from one feed.

The chaos is paced by progress, not by the clock, so it lands mid-run however fast the machine
is: a link is cut (open connections reset, new ones closed) until more episodes are done, one
coordinator is kill -9'd (by PID, left dead), PostgreSQL is restarted (fast shutdown: every
connection of every coordinator breaks), and another link is cut. Workers move to the next
coordinator of their list and keep their leases.

Coordinators relay (the default `--audio relay`): each episode is taken by one coordinator, which
downloads it from the origin and serves its Opus chunk from its own URL (`--advertise-url`, here
the direct address, not a proxy link); leases name that coordinator, and workers send it their
node token because the coordinator that granted the lease vouches for it. The chunks the killed
coordinator had queued but no worker had fetched are prepared again by a survivor once its
heartbeat is silent (doc/scale.md); the figures count them (`prepared again`).

Checked in the database itself (psql): every job done, exactly one completed attempt per job,
exactly one transcript per episode, no job leased again once done; every outbox empty; the
surviving coordinators healthy. Prints the figures. Waits are on conditions with generous
limits; fails after 300 s.
"""

import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))
import chaos  # noqa: E402
from chaos import Fail, free_port, wait_for  # noqa: E402

PG_SERVER = os.path.join(HERE, "..", "..", "support", "pg-server")
JOBS = 120
COORDINATORS = 3
WORKERS = 8
LEASE = "3s"
HEARTBEAT = "1s"
AUDIO_SECONDS = 4
SIMULATED_SPEED = "4"  # 1 s of engine time per episode: ~15 s of work for the fleet
STEP = JOBS // 10  # how many more episodes done between chaos steps
DEADLINE = 300


def psql_binary():
    candidates = [os.environ.get("PODFLEET_PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if d and os.access(os.path.join(d, "psql"), os.X_OK):
            return os.path.join(d, "psql")
    found = shutil.which("psql")
    if not found:
        raise Fail("psql not found: run scripts/setup --dev (postgresql-15)")
    return found


class PgScenario(chaos.Scenario):
    def __init__(self, binary, work):
        super().__init__(binary, work)
        self.ports = [free_port() for _ in range(COORDINATORS)]
        self.figures = {"coordinator kills": 0, "postgres restarts": 0, "link cuts": 0}
        # Under /tmp, not in `work` (private to its owner): as root the server runs as `postgres`.
        self.pg_dir = tempfile.mkdtemp(prefix="podfleet-pg-chaos.")
        os.rmdir(self.pg_dir)
        self.psql = psql_binary()

    # ---- processes ----

    def pg(self, *args):
        done = subprocess.run([PG_SERVER, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise Fail(f"pg-server {args[0]}: {done.stderr.strip()}")
        return done.stdout.strip()

    def coordinator_url(self, i):
        return f"http://127.0.0.1:{self.ports[i]}"

    def start_coordinator(self, i):
        data = os.path.join(self.work, f"c{i}")
        os.makedirs(data, exist_ok=True)
        if i > 0:  # one admin token for the fleet, so the round-robin link takes it anywhere
            shutil.copy(os.path.join(self.work, "c0", "admin.token"), data)
        self.spawn(f"c{i}", [
            self.binary, "serve", "--store", self.db_url, "--data", data, "--port",
            str(self.ports[i]), "--advertise-url", self.coordinator_url(i), "--lease", LEASE,
            "--heartbeat", HEARTBEAT, "--quarantine-after", chaos.QUARANTINE_AFTER,
            # Fetches from the killed coordinator fail until its chunks are reclaimed (~3 s):
            # a backoff that doubles from 400 ms leaves the job 4 failures in that time, not 5.
            "--retry-backoff", "400ms"])
        wait_for(60, f"coordinator {i}", lambda: self.healthy(i))

    def healthy(self, i):
        saved, self.server = self.server, self.coordinator_url(i)
        try:
            return self.get("/api/health")["healthy"]
        finally:
            self.server = saved

    def start_worker(self, i):
        servers = ",".join(f"http://127.0.0.1:{self.links[(i + k) % COORDINATORS]}"
                           for k in range(COORDINATORS))
        self.spawn(f"w{i}", [
            self.binary, "work", "--server", servers, "--token", self.token, "--name", f"w{i}",
            "--work-dir", os.path.join(self.work, f"w{i}"), "--engine", "simulated",
            "--simulated-speed", SIMULATED_SPEED, "--prefetch", "1", "--claim-wait", "1s",
            "--skip-speed-probe"])

    def sql(self, query):
        done = subprocess.run([self.psql, self.db_url, "-XAt", "-F", "|", "-c", query],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise Fail(f"psql: {done.stderr.strip()}")
        return [line.split("|") for line in done.stdout.splitlines()]

    # ---- setup ----

    def setup(self):
        self.pg("start", self.pg_dir, str(os.getpid()))
        self.db_url = self.pg("createdb", self.pg_dir, "fleet")
        self.make_feed(JOBS, AUDIO_SECONDS)
        origin = self.start_origin()
        for i in range(COORDINATORS):
            self.start_coordinator(i)
        log = open(os.path.join(self.work, "c0.log")).read()
        self.token = next(w for w in log.split() if w.startswith("pfe_"))
        self.admin = open(os.path.join(self.work, "c0", "admin.token")).read().strip()

        links_file = os.path.join(self.work, "proxy.ports")
        ports = ",".join(str(p) for p in self.ports)
        links = [arg for p in self.ports for arg in ("--link", str(p))] + ["--link", ports]
        self.spawn("proxy", ["python3", os.path.join(chaos.LIB, "proxy.py"), *links,
                             "--port-file", links_file])
        wait_for(10, "the proxy", lambda: os.path.getsize(links_file) > 0)
        ports = [int(p) for p in open(links_file).read().split()]
        self.links, self.control = ports[:COORDINATORS], ports[-1]
        self.server = f"http://127.0.0.1:{ports[COORDINATORS]}"  # round robin over all three

        added = self.post("/api/feeds", {"url": f"{origin}/feed.xml"})
        if added.get("new_episodes") != JOBS:
            raise Fail(f"feed: expected {JOBS} new episodes: {added}")
        for i in range(WORKERS):
            self.start_worker(i)

    # ---- chaos, paced by progress ----

    def done(self):
        return self.counts()["completed"]

    def until_done(self, n, what):
        wait_for(120, f"{n} episodes done ({what})", lambda: self.done() >= n)

    def step(self, started, n, what):
        self.until_done(n, what)
        print(f"  t={chaos.time.monotonic() - started:5.1f}s done={self.done():3d} {what}",
              flush=True)

    def cut(self, link, started, at):
        self.step(started, at, f"cut link {link}")
        self.proxy(f"drop {link}")
        self.figures["link cuts"] += 1
        self.until_done(at + STEP, f"work going on with link {link} cut")
        self.proxy(f"pass {link}")

    def run(self):
        started = chaos.time.monotonic()
        self.setup()
        self.cut(0, started, STEP)
        self.step(started, 3 * STEP, "kill -9 coordinator 1")
        self.kill9("c1")
        self.figures["coordinator kills"] += 1
        self.step(started, 4 * STEP, "restart PostgreSQL")
        self.pg("restart", self.pg_dir)
        self.figures["postgres restarts"] += 1
        self.cut(2, started, 6 * STEP)
        print(f"  t={chaos.time.monotonic() - started:5.1f}s chaos over; waiting for the queue",
              flush=True)
        remaining = DEADLINE - (chaos.time.monotonic() - started)
        wait_for(max(remaining, 10), "every episode done", lambda: self.done() == JOBS)
        wait_for(20, "empty outboxes", self.outboxes_empty)
        self.check(chaos.time.monotonic() - started)

    def outboxes_empty(self):
        return all(not any(n.endswith(".json") for n in os.listdir(
            os.path.join(self.work, f"w{i}", "outbox"))) for i in range(WORKERS))

    # ---- checks ----

    def failovers(self):
        moves = 0
        for i in range(WORKERS):
            log = open(os.path.join(self.work, f"w{i}.log"), errors="replace").read()
            moves += len(re.findall(r"unreachable .*; moved to", log))
        return moves

    def check(self, elapsed):
        counts = self.counts()
        if counts != {"queued": 0, "running": 0, "completed": JOBS, "failed": 0}:
            raise Fail(f"queue: {counts}")
        per_job = self.sql("SELECT j.id, j.state, (SELECT count(*) FROM attempts a "
                           "WHERE a.job_id = j.id AND a.outcome = 'done') FROM jobs j")
        if len(per_job) != JOBS:
            raise Fail(f"{len(per_job)} jobs in the store, not {JOBS}")
        lost = [j for j, state, done in per_job if state != "done" or done == "0"]
        doubled = [j for j, _, done in per_job if int(done) > 1]
        transcripts = self.sql("SELECT e.id, count(t.episode_id) FROM episodes e "
                               "LEFT JOIN transcripts t ON t.episode_id = e.id GROUP BY e.id")
        untranscribed = [e for e, n in transcripts if n == "0"]
        doubled_transcripts = [e for e, n in transcripts if int(n) > 1]
        leased_after_done = int(self.sql(
            "SELECT count(*) FROM attempts a JOIN attempts d ON d.job_id = a.job_id "
            "AND d.outcome = 'done' WHERE a.number > d.number "
            "AND a.error NOT LIKE 'superseded by the late result%' "
            "AND (a.finished_at IS NULL OR a.finished_at >= d.finished_at)")[0][0])
        outcomes = dict(self.sql("SELECT outcome, count(*) FROM attempts GROUP BY outcome"))
        attempts = sum(int(n) for n in outcomes.values())
        unhealthy = [i for i in (0, 2) if not self.healthy(i)]
        failovers = self.failovers()
        prepared_again = sum(len(re.findall(r"prepared again", open(
            os.path.join(self.work, f"c{i}.log"), errors="replace").read())) for i in (0, 2))
        relayed = int(self.sql("SELECT count(*) FROM jobs WHERE relayed = 1")[0][0])

        print(f"chaos_pg ({elapsed:.0f} s): episodes={JOBS} coordinators={COORDINATORS} "
              f"workers={WORKERS} coordinator_kills={self.figures['coordinator kills']} "
              f"postgres_restarts={self.figures['postgres restarts']} "
              f"link_cuts={self.figures['link cuts']} worker_failovers={failovers}")
        print(f"  relayed_chunks={relayed} prepared_again={prepared_again} "
              f"attempts={attempts} redone={attempts - JOBS} "
              f"(expired={outcomes.get('expired', 0)} released={outcomes.get('released', 0)} "
              f"failed={outcomes.get('failed', 0)})")
        print(f"  lost={len(lost)} doubled={len(doubled)} episodes={len(transcripts)} "
              f"transcripts={len(transcripts) - len(untranscribed)} "
              f"doubled_transcripts={len(doubled_transcripts)} "
              f"leased_after_done={leased_after_done}")
        if lost or doubled:
            raise Fail(f"lost jobs {lost[:10]}, doubled jobs {doubled[:10]}")
        if len(transcripts) != JOBS or untranscribed or doubled_transcripts:
            raise Fail(f"episodes without a transcript {untranscribed[:10]}, with more than one "
                       f"{doubled_transcripts[:10]}")
        if leased_after_done:
            raise Fail(f"{leased_after_done} attempts leased after their job was done")
        if unhealthy:
            raise Fail(f"coordinators {unhealthy} unhealthy after the chaos")
        if failovers == 0:
            raise Fail("no worker moved to another coordinator: the chaos missed them")
        if relayed != JOBS:
            raise Fail(f"{relayed} of {JOBS} jobs relayed: the coordinators did not relay")

    def stop_all(self):
        super().stop_all()
        subprocess.run([PG_SERVER, "stop", self.pg_dir], capture_output=True, timeout=120)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.exit(chaos.main(PgScenario))
