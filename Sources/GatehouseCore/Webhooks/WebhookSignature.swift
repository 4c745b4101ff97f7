import Crypto
import Foundation

/// How deliveries are signed, and how a receiver checks them.
///
/// Each delivery carries
/// - `X-Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
/// - `X-Gatehouse-Event: <event name>`
/// - `X-Gatehouse-Delivery: <delivery id>` — the same on every retry of one delivery;
///   delivery is at least once, so a receiver dedupes by it.
///
/// The timestamp is signed with the body, so a receiver that rejects old timestamps
/// (``verify(header:body:secret:now:tolerance:)``) also rejects replays.
public enum WebhookSignature {
    public static let signatureHeader = "X-Gatehouse-Signature"
    public static let eventHeader = "X-Gatehouse-Event"
    public static let deliveryHeader = "X-Gatehouse-Delivery"
    /// How far a signature's timestamp may be from the receiver's clock by default (5 minutes).
    public static let defaultTolerance: Int64 = 300

    /// The hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
    public static func code<Body: Sequence>(body: Body, secret: String, timestamp: Int64) -> String where Body.Element == UInt8 {
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: body)
        let key = SymmetricKey(data: Array(secret.utf8))
        return Secrets.hex(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    /// The `X-Gatehouse-Signature` value for `body` sent at `timestamp`.
    public static func sign<Body: Sequence>(body: Body, secret: String, timestamp: Int64) -> String where Body.Element == UInt8 {
        "t=\(timestamp),v1=\(code(body: body, secret: secret, timestamp: timestamp))"
    }

    /// The three headers of one delivery attempt.
    public static func headers(deliveryId: Int64, event: WebhookEvent, body: String, secret: String, timestamp: Int64) -> [(name: String, value: String)] {
        [(signatureHeader, sign(body: Array(body.utf8), secret: secret, timestamp: timestamp)),
         (eventHeader, event.rawValue),
         (deliveryHeader, String(deliveryId))]
    }

    /// Whether `header` (an `X-Gatehouse-Signature` value) signs `body` under `secret` with a
    /// timestamp within `tolerance` seconds of `now`. Any one `v1=` entry may match (several
    /// are allowed so that a secret can be rotated); codes are compared in constant time.
    public static func verify<Body: Sequence>(header: String, body: Body, secret: String, now: Int64,
                                              tolerance: Int64 = defaultTolerance) -> Bool where Body.Element == UInt8 {
        var timestamp: Int64?
        var candidates: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return false }
            switch pair[0] {
            case "t":
                guard timestamp == nil, let value = Int64(pair[1]) else { return false }
                timestamp = value
            case "v1": candidates.append(pair[1].lowercased())
            default: continue
            }
        }
        guard let timestamp, !candidates.isEmpty else { return false }
        let (skew, overflow) = now.subtractingReportingOverflow(timestamp)
        guard !overflow, skew.magnitude <= tolerance.magnitude else { return false }
        let expected = Array(code(body: body, secret: secret, timestamp: timestamp).utf8)
        var matched = false
        for candidate in candidates where Secrets.constantTimeEquals(expected, Array(candidate.utf8)) { matched = true }
        return matched
    }

    /// ``verify(header:body:secret:now:tolerance:)`` for a body given as text.
    public static func verify(header: String, body: String, secret: String, now: Int64, tolerance: Int64 = defaultTolerance) -> Bool {
        verify(header: header, body: Array(body.utf8), secret: secret, now: now, tolerance: tolerance)
    }
}
