import Foundation
import Synchronization

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
        return Data(JSONText.bytes(object)).base64EncodedString()
    }

    /// The secret and the claimed channel id of an encoded token; `unauthenticated` when it is
    /// not base64 of a JSON object with a string `token`.
    public static func decode(_ encoded: String) throws(GatehouseError) -> (secret: String, camid: Int64?) {
        if let known = recent.withLock({ $0[encoded] }) { return known }
        let decoded = try parse(encoded)
        recent.withLock { recent in
            if recent.count >= recentLimit { recent.removeAll(keepingCapacity: true) }
            recent[encoded] = decoded
        }
        return decoded
    }

    /// Decoding is a pure function of the text and a front end sends the same token with every
    /// request, so the latest successful decodings are kept (bounded; misses are not kept).
    private static let recent = Mutex<[String: (secret: String, camid: Int64?)]>([:])
    private static let recentLimit = 10_000

    private static func parse(_ encoded: String) throws(GatehouseError) -> (secret: String, camid: Int64?) {
        let bad = GatehouseError(.unauthenticated, "the Acc token is not a valid channel token")
        guard encoded.utf8.count <= maxEncodedLength else { throw bad }
        // Tolerate surrounding blanks, missing padding and the URL-safe alphabet some clients produce.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded.utf8.count + 3)
        for byte in encoded.utf8 where byte != UInt8(ascii: " ") {
            switch byte {
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): bytes.append(UInt8(ascii: "/"))
            default: bytes.append(byte)
            }
        }
        while bytes.count % 4 != 0 { bytes.append(UInt8(ascii: "=")) }
        guard let data = Data(base64Encoded: Data(bytes)),
              let fields = try? JSONDecoder().decode(Fields.self, from: data),
              !fields.token.isEmpty, fields.token.utf8.count <= 512
        else { throw bad }
        return (fields.token, fields.camid)
    }

    /// The fields of a token that matter to the server; `camid` may be a number or a string.
    private struct Fields: Decodable {
        let token: String
        let camid: Int64?

        enum CodingKeys: String, CodingKey { case token, camid }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            token = try container.decode(String.self, forKey: .token)
            if let number = try? container.decodeIfPresent(Int64.self, forKey: .camid) {
                camid = number
            } else if let text = try? container.decodeIfPresent(String.self, forKey: .camid) {
                camid = Int64(text)
            } else {
                camid = nil
            }
        }
    }
}
