"""Schemathesis hooks for Gatehouse's OpenAPI document (loaded through SCHEMATHESIS_HOOKS).

- Credentials: every operation gets the credential its `security` requirement names, made
  by OpenAPIFuzzTests on the live server and passed in GH_FUZZ_* variables. One scheme can
  stand for several credentials (`bearerAuth` is the admin token on /v1 and an OAuth access
  token on /rest/), so the choice is made here, per operation, rather than per scheme.
  Sign-outs get spare credentials so that they end nothing the other operations use.
- Clips (`video/mp4`) are raw bytes like the other binary uploads.
- CSV answers of the serial-provisioning API are validated as strings.
"""
import base64
import os

import schemathesis

schemathesis.serializer.alias("video/mp4", "application/octet-stream")


@schemathesis.deserializer("text/csv")
def as_text(ctx, response):
    return response.content.decode("utf-8")


def env(name):
    return os.environ["GH_FUZZ_" + name]


def credential(path, scheme):
    """The header (name, value) that satisfies `scheme` on the operation at `path`."""
    if scheme == "bearerAuth":
        if path == "/oauth/logout":
            return "Authorization", "Bearer " + env("SPARE_OAUTH_TOKEN")
        if path.startswith("/rest/"):
            return "Authorization", "Bearer " + env("OAUTH_TOKEN")
        if path == "/v1/sessions/current":
            return "Authorization", "Bearer " + env("SPARE_SESSION")
        return "Authorization", "Bearer " + env("ADMIN_TOKEN")
    if scheme == "basicAuth":
        pair = env("CLIENT_ID") + ":" + env("CLIENT_SECRET")
        return "Authorization", "Basic " + base64.b64encode(pair.encode()).decode()
    if scheme == "vsaasSession":
        spare = path == "/vsaas/api/v2/auth/logout"
        return "x-vsaas-session", env("SPARE_VSAAS_SESSION" if spare else "VSAAS_SESSION")
    fixed = {
        "LKey": ("Authorization", "LKey " + env("LICENSE_KEY")),
        "Acc": ("Authorization", "Acc " + env("CHANNEL_TOKEN")),
        "SI": ("Authorization", "SI " + env("GROUP_TOKEN")),
        "vsaasApiKey": ("x-vsaas-api-key", env("VSAAS_API_KEY")),
        "vendorToken": ("X-Exosite-Token", env("VENDOR_TOKEN")),
        "deviceAgent": ("Authorization", "Agent " + env("AGENT")),
        "deviceCIK": ("X-Exosite-CIK", env("CIK")),
        "registrationCode": ("Authorization", "Bearer " + env("REGISTRATION_CODE")),
    }
    return fixed.get(scheme)


@schemathesis.auth(refresh_interval=None)
class GatehouseCredentials:
    def get(self, case, context):
        return True

    def set(self, case, data, context):
        operation = case.operation
        security = operation.definition.raw.get("security", operation.schema.raw_schema.get("security", []))
        for requirement in security:
            for scheme in requirement:
                found = credential(operation.path, scheme)
                if found is not None:
                    if case.headers is None:
                        case.headers = {}
                    case.headers[found[0]] = found[1]
                    return
