"""Prepares the signed-onboarding benchmark against a running server: an application with a key
pair, a certified version and an account (through /v1), then a file of pre-signed requests that
the wrk script sends one per request (each signed request is accepted once, so none repeats).

usage: signed_onboarding_fixture.py PORT ADMIN-TOKEN KIND COUNT OUT
KIND: verify (one registration code, verify bodies) or onboard (a code per request, PEM onboarding).
Each line of OUT: "<code> <hex signature> <application id> <body>".
"""
import base64, datetime, http.client, json, sys, uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

port, admin, kind, count, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
connection = http.client.HTTPConnection("127.0.0.1", port)


def call(method, path, body=None):
    connection.request(method, path, body=json.dumps(body) if body is not None else None,
                       headers={"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data!r}")
    return json.loads(data) if data else {}


developer = call("POST", "/v1/tenants", {"kind": "distributor", "parent_id": 1, "name": "Bench developer " + kind})["id"]
application = call("POST", f"/v1/tenants/{developer}/applications", {"name": "Bench app", "generate_key_pair": True})
application_id = application["application_id"]
key = serialization.load_pem_private_key(application["private_key"].encode(), password=None)
version = call("POST", f"/v1/applications/{application_id}/versions", {"name": "1.0", "status": "certified"})["certification_version_id"]
account = call("POST", "/v1/tenants", {"kind": "account", "parent_id": 1, "name": "Bench account " + kind})["id"]
codes = [call("POST", f"/v1/tenants/{account}/registration-codes")["code"] for _ in range(1 if kind == "verify" else count)]
# The SDKs send now minus 10 seconds; the window is ±300 s by default.
stamp = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
with open(out, "w") as file:
    for index in range(count):
        body = json.dumps({"id": f"urn:bench:{kind}:{index}:{uuid.uuid4()}", "applicationId": application_id,
                           "certificationVersionId": version, "gatewayId": "3", "certificateType": "PEM",
                           "UTCTimestamp": stamp, "timeZone": "+00:00"}, separators=(",", ":"))
        signature = key.sign(body.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
        file.write(f"{codes[0] if kind == 'verify' else codes[index]} {signature} {application_id} {body}\n")
