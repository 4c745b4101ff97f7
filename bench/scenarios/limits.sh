# Limits (issue 11): what the crypto of certificate issuance, signature checks and password
# hashing can reach at best on this machine, with every core busy. Source after bench/lib.sh;
# appends "name value unit" lines to FIGURES.

# limits_crypto SECONDS: openssl speed for RSA-2048 and ECDSA P-256 (sign and verify), and
# PBKDF2-HMAC-SHA256 at 600,000 (Gatehouse's password hash) and 10,000 iterations (the PEM key)
# as SHA-256 allows.
limits_crypto() {
    local seconds="$1" cores out
    cores="$(nproc)"
    out="$(openssl speed -seconds "$seconds" -multi "$cores" rsa2048 ecdsap256 2>/dev/null)"
    awk '/^rsa 2048 bits/ {print "limit_rsa2048_sign " $(NF-1) " ops/s"; print "limit_rsa2048_verify " $NF " ops/s"}
         /ecdsa \(nistp256\)/ {print "limit_ecdsa_p256_sign " $(NF-1) " ops/s"; print "limit_ecdsa_p256_verify " $NF " ops/s"}' <<<"$out" | tee -a "$FIGURES"
    # PBKDF2-HMAC-SHA256 at its best costs two SHA-256 compressions (64-byte blocks) per iteration
    # (the HMAC pads computed once): the limit from SHA-256's bulk rate (16 KB buffers).
    out="$(openssl speed -seconds "$seconds" -multi "$cores" sha256 2>/dev/null)"
    awk '/^sha256 / {v = $NF; sub(/k$/, "", v); blocks = v * 1000 / 64
                     printf "limit_pbkdf2_600k %.1f hashes/s\nlimit_pbkdf2_10k %.1f hashes/s\n", blocks / 1200000, blocks / 20000}' <<<"$out" | tee -a "$FIGURES"
}

# limits_fractions SUFFIX: each crypto-bound scenario of one engine as a fraction of its limit:
# signed verify / RSA-2048 verify; PEM onboarding / (a P-256 key, a P-256 certificate signature
# and PBKDF2 at 10,000 iterations per request); password grant / PBKDF2 at 600,000.
limits_fractions() {
    python3 - "$1" "$RESULTS" "$FIGURES" <<'PY' | tee -a "$FIGURES"
import sys
suffix, results, figures = sys.argv[1:4]
rps = {line.split()[0]: float(line.split()[1]) for line in open(results) if line.strip()}
fig = {line.split()[0]: float(line.split()[1]) for line in open(figures) if line.strip()}
onboard_limit = 1 / (2 / fig["limit_ecdsa_p256_sign"] + 1 / fig["limit_pbkdf2_10k"])
for name, scenario, limit in (("signed_verify", "signed_verify", fig["limit_rsa2048_verify"]),
                              ("onboard_pem", "onboard_pem", onboard_limit),
                              ("password_grant", "password_grant", fig["limit_pbkdf2_600k"])):
    if scenario + suffix in rps:
        print(f"{name}_of_limit{suffix} {rps[scenario + suffix] / limit:.3f} fraction")
PY
}
