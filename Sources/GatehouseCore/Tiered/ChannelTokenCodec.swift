import Foundation

/// Where front ends reach Gatehouse, written into every channel token (`api`, `api_p`, `api_sp`,
/// and the same for `cam`: Gatehouse is also the camera's control endpoint).
public struct TieredEndpoint: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var tlsPort: Int
    public init(host: String, port: Int, tlsPort: Int) {
        self.host = host
        self.port = port
        self.tlsPort = tlsPort
    }
}

/// The `Acc` channel token of seed 002: standard base64 of a JSON object with `token` (the
/// opaque secret), `camid`, `cmngrid`, `access`, `api`, `api_p`, `api_sp`, `cam`, `cam_p`, `cam_sp`.
/// Only `token` authenticates; the other fields tell the front end where to go and must agree
/// with the channel the secret belongs to.
public enum ChannelTokenCodec {
    /// Longest `Authorization` value accepted before decoding.
    public static let maxEncodedLength = 4096

    /// A new channel-token secret (256 bits from the CSPRNG).
    public static func newSecret() -> String { Secrets.token(prefix: "ch1.", byteCount: 32) }

    /// The encoded token for a secret of channel `channelId`.
    public static func encode(secret: String, channelId: Int64, access: ChannelAccess, endpoint: TieredEndpoint) -> String {
        let object: [String: Any] = [
            "token": secret, "camid": channelId, "cmngrid": channelId, "access": access.rawValue,
            "api": endpoint.host, "api_p": endpoint.port, "api_sp": endpoint.tlsPort,
            "cam": endpoint.host, "cam_p": endpoint.port, "cam_sp": endpoint.tlsPort,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return data.base64EncodedString()
    }

    /// The secret and the claimed channel id of an encoded token; `unauthenticated` when it is
    /// not base64 of a JSON object with a string `token`.
    public static func decode(_ encoded: String) throws(GatehouseError) -> (secret: String, camid: Int64?) {
        let bad = GatehouseError(.unauthenticated, "the Acc token is not a valid channel token")
        guard encoded.utf8.count <= maxEncodedLength else { throw bad }
        var text = encoded.trimmingCharacters(in: .whitespaces)
        // Tolerate missing padding and the URL-safe alphabet some clients produce.
        text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let secret = object["token"] as? String, !secret.isEmpty, secret.utf8.count <= 512
        else { throw bad }
        var camid: Int64?
        if let number = object["camid"] as? NSNumber { camid = number.int64Value }
        else if let string = object["camid"] as? String { camid = Int64(string) }
        return (secret, camid)
    }
}
