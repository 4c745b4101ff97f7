"""Helpers of bench/device-channel.sh, against a live `gatehouse serve` on loopback.

  device_channel_fixture.py tokens PORT ADMIN_TOKEN COUNT OUT   # operator + COUNT activation tokens -> OUT (operator_id:token lines)
  device_channel_fixture.py online PORT ADMIN_TOKEN             # prints how many devices are online, then their ids on one line
  device_channel_fixture.py fleet PORT ADMIN_TOKEN TENANT_ID VERSION_FILE  # one PATCH /v1/tenants/{id}/device-settings for the whole fleet
  device_channel_fixture.py synced PORT ADMIN_TOKEN IDS_FILE SAMPLE     # how many of SAMPLE devices report in_sync

Requests go through the public API (keep-alive connections, a few threads), as an operator's
script would send them.
"""
import http.client, json, sys, threading, time

DOCUMENT = {"video": {"resolution": "1280x720", "bitrate_kbps": 2048, "frame_rate": 15},
            "system": {"name": "Bench camera", "time_zone": "Europe/Berlin"}}


class Client:
    def __init__(self, port, headers=None):
        self.port, self.headers = port, headers or {}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        merged = dict(self.headers, **(headers or {}))
        if data is not None and "Content-Type" not in merged:
            merged["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                self.connection.request(method, path, body=data, headers=merged)
                response = self.connection.getresponse()
                text = response.read()
                return response.status, (json.loads(text) if text else None)
            except (http.client.HTTPException, ConnectionError, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise


def in_threads(items, threads, work):
    chunks = [items[i::threads] for i in range(threads)]
    errors = []

    def run(chunk):
        try:
            work(chunk)
        except Exception as error:  # reported below
            errors.append(error)
    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks if chunk]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def tokens(port, admin, count, out):
    client = Client(port, {"Authorization": "Bearer " + admin})
    status, operator = client.call("POST", "/v1/tenants", {"kind": "distributor", "parent_id": 1, "name": "Bench channel operator"})
    assert status == 201, (status, operator)
    status, user = client.call("POST", "/v1/users", {"tenant_id": operator["id"], "email": "channel-bench@bench.example", "name": "Op",
                                                     "password": "bench password", "permissions": ["manage_tenants"]})
    assert status == 201, (status, user)
    plain = Client(port)
    status, login = plain.call("POST", "/vsaas/api/v2/auth/login", {"login": "channel-bench@bench.example", "password": "bench password"})
    assert status == 200, (status, login)
    session = {"x-vsaas-session": login["session"]}
    status, org = plain.call("POST", "/vsaas/api/v2/organizations", {"title": "Bench org"}, session)
    status, preset = plain.call("POST", "/vsaas/api/v2/presets", {"organization_id": org["id"], "title": "default"}, session)
    issued = [None] * count

    def issue(indices):
        client = Client(port, session)
        for index in indices:
            status, body = client.call("POST", "/vsaas/api/v2/agent-activation-tokens",
                                       {"title": "bench cam %d" % index, "organization_id": org["id"], "preset_id": preset["id"]})
            assert status == 200, (status, body)
            issued[index] = body["token"]
    in_threads(list(range(count)), 4, issue)
    with open(out, "w") as f:
        for token in issued:
            f.write("%d:%s\n" % (operator["id"], token))


def online_ids(port, admin):
    client = Client(port, {"Authorization": "Bearer " + admin})
    ids, cursor = [], None
    while True:
        status, page = client.call("GET", "/v1/devices/online?limit=500" + ("&cursor=" + cursor if cursor else ""))
        assert status == 200, (status, page)
        ids += [item["device_id"] for item in page["items"] if item.get("online", True)]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def fleet(port, admin, tenant_id, version_file):
    """One fleet settings change (a JSON merge patch) for every device under the tenant."""
    client = Client(port, {"Authorization": "Bearer " + admin})
    started = time.time()
    status, body = client.call("PATCH", "/v1/tenants/%d/device-settings" % tenant_id, {"patch": DOCUMENT})
    finished = time.time()
    versions = {}
    if status == 200:
        for item in body["items"]:
            versions[item["desired_version"]] = versions.get(item["desired_version"], 0) + 1
    else:
        print("fleet change refused:", status, body, file=sys.stderr)
    with open(version_file, "w") as f:
        json.dump({"started_ms": int(started * 1000), "finished_ms": int(finished * 1000), "versions": versions,
                   "changed": body.get("changed", 0) if status == 200 else 0, "failures": 0 if status == 200 else 1}, f)


def synced(port, admin, ids_file, sample):
    ids = [int(x) for x in open(ids_file).read().split()]
    step = max(1, len(ids) // sample)
    client = Client(port, {"Authorization": "Bearer " + admin})
    checked = ids[::step][:sample]
    good = sum(1 for device in checked if client.call("GET", "/v1/devices/%d/settings" % device)[1].get("in_sync"))
    print(good, len(checked))


if __name__ == "__main__":
    command, port, admin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if command == "tokens":
        tokens(port, admin, int(sys.argv[4]), sys.argv[5])
    elif command == "online":
        ids = online_ids(port, admin)
        print(len(ids))
        print(" ".join(str(i) for i in ids))
    elif command == "fleet":
        fleet(port, admin, int(sys.argv[4]), sys.argv[5])
    elif command == "synced":
        synced(port, admin, sys.argv[4], int(sys.argv[5]))
