/// The activation QR code's text, three lines: the Wi-Fi SSID, the Wi-Fi password, and
/// `operator_id:token` (as `gatehouse qr` makes it). Lines may end in LF or CRLF; a final
/// line break is allowed.
public struct QRPayload: Sendable, Equatable {
    public var ssid: String
    public var password: String
    public var operatorId: Int64
    public var token: String

    /// Parses the payload; the error says which line is wrong (never repeating the password or token).
    public static func parse(_ text: String) throws(QRPayloadError) -> QRPayload {
        // Unicode scalars, not Characters: "\r\n" is one Character that a split on "\n" would miss.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(String.UnicodeScalarView(line.last == "\r" ? line.dropLast() : line))
        }
        if lines.count == 4, lines[3].isEmpty { lines.removeLast() }
        guard lines.count == 3 else { throw QRPayloadError("the QR payload must be three lines (Wi-Fi SSID, Wi-Fi password, operator_id:token), not \(lines.count)") }
        let last = lines[2]
        guard let colon = last.firstIndex(of: ":") else { throw QRPayloadError("the third line of the QR payload must be operator_id:token") }
        let operatorText = last[..<colon], token = String(last[last.index(after: colon)...])
        guard !operatorText.isEmpty, operatorText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let operatorId = Int64(operatorText), operatorId > 0 else {
            throw QRPayloadError("the operator id in the QR payload must be a positive integer")
        }
        guard AgentInput.isToken(token) else { throw QRPayloadError("the token in the QR payload must be 1 to 128 printable ASCII characters") }
        return QRPayload(ssid: lines[0], password: lines[1], operatorId: operatorId, token: token)
    }
}

/// A QR payload that could not be read.
public struct QRPayloadError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Checks on what the agent is given.
public enum AgentInput {
    /// 1–128 printable ASCII characters without space (what the server takes as serial, token and version).
    public static func isToken(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && text.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
