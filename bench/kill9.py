#!/usr/bin/env python3
"""Durability under kill -9: load running, the server killed, restarted, clients
retrying what was not acknowledged. Every acknowledged event must be stored, and
none twice. Uses the release build and a fresh SQLite file.

    python3 bench/kill9.py [seconds of load before the kill, default 3]
"""
import json, os, signal, sqlite3, subprocess, sys, tempfile, threading, time, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18181
ORIGIN = "http://127.0.0.1:8080"
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/156.0.0.0 Safari/537.36")
CLIENTS = 8
EVENTS_PER_BATCH = 5


def start(config, database):
    server = subprocess.Popen(
        [os.path.join(ROOT, "target/release/headwater"), "serve", "--config", config,
         "--listen", f"127.0.0.1:{PORT}", "--database", f"sqlite://{database}"],
        env={**os.environ, "RUST_LOG": "warn"}, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/readyz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def batch():
    now = int(time.time() * 1000)
    visitor, session = str(uuid.uuid4()), str(uuid.uuid4())
    events = [{"id": str(uuid.uuid4()), "session_id": session, "at": now,
               "url": f"{ORIGIN}/www/pricing.html", "kind": "page_view"}
              for _ in range(EVENTS_PER_BATCH)]
    return {"site": "demo", "visitor_id": visitor, "sent_at": now, "events": events}


def send(body):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api/v1/events", data=json.dumps(body).encode(),
        headers={"Origin": ORIGIN, "User-Agent": CHROME}, method="POST")
    try:
        return urllib.request.urlopen(request, timeout=5).status == 200
    except OSError:
        return False


def main():
    load_seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    subprocess.run(["cargo", "build", "--quiet", "--release", "--package", "headwater-server"],
                   cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    config = os.path.join(work, "headwater.toml")
    text = open(os.path.join(ROOT, "headwater.example.toml")).read().replace('demo_site = "."', "")
    text = text.replace("[server]\n", "[server]\nrate_limit_per_ip = 1000000\n", 1)
    open(config, "w").write(text)
    database = os.path.join(work, "headwater.db")

    acknowledged, unacknowledged, lock = [], [], threading.Lock()
    stop_sending = threading.Event()

    def client():
        while not stop_sending.is_set():
            body = batch()
            ok = send(body)
            with lock:
                (acknowledged if ok else unacknowledged).append(body)

    server = start(config, database)
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(load_seconds)
    server.send_signal(signal.SIGKILL)
    server.wait()
    time.sleep(0.5)
    stop_sending.set()
    for thread in threads:
        thread.join()

    server = start(config, database)
    retried = 0
    for body in unacknowledged:
        while not send(body):
            time.sleep(0.1)
        retried += 1
    # Clients also resend a few acknowledged batches, as browsers do after a lost reply.
    for body in acknowledged[:50]:
        assert send(body)
    server.send_signal(signal.SIGTERM)
    server.wait()

    stored_ids = {row[0] for row in sqlite3.connect(database).execute("SELECT id FROM events")}
    rows = sqlite3.connect(database).execute("SELECT COUNT(*) FROM events").fetchone()[0]
    sent_ids = {event["id"] for body in acknowledged + unacknowledged for event in body["events"]}
    acked_ids = {event["id"] for body in acknowledged for event in body["events"]}
    missing = acked_ids - stored_ids
    print(f"acknowledged before the kill: {len(acknowledged)} batches ({len(acked_ids)} events); "
          f"not acknowledged, retried after restart: {retried}")
    print(f"stored: {rows} rows, {len(stored_ids)} distinct ids; sent: {len(sent_ids)} distinct ids")
    print(f"acknowledged but missing: {len(missing)}; stored twice: {rows - len(stored_ids)}; "
          f"sent but not stored: {len(sent_ids - stored_ids)}")
    if missing or rows != len(stored_ids) or sent_ids != stored_ids:
        raise SystemExit("FAILED: an acknowledged or retried event was lost or doubled")
    print("ok: nothing acknowledged was lost, nothing was stored twice")


if __name__ == "__main__":
    main()
