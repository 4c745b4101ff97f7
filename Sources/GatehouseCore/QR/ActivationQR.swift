/// The QR code a camera is activated with: three lines, joined with "\n" and no newline at
/// the end — the Wi-Fi SSID, the Wi-Fi password, and `operator_id:token`.
public enum ActivationQR {
    /// The activation payload `ssid\npassword\noperatorId:token`, after checking that it
    /// reads back as exactly those three lines: the SSID is 1–32 bytes of UTF-8 and the
    /// password 0–63 bytes, neither with a line break (CR or LF); the operator id is ASCII
    /// digits; the token is not empty and has no `:` or line break. Anything else (spaces,
    /// non-ASCII, `:`, `;`, `,`, `\`, `"`) is kept exactly as given.
    public static func payload(ssid: String, password: String, operatorId: String, token: String) throws(GatehouseError) -> String {
        try checkLine(ssid, field: "ssid", bytes: 1...32)
        try checkLine(password, field: "password", bytes: 0...63)
        guard !operatorId.isEmpty, operatorId.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw .invalid("operator_id", "operator_id must be one or more digits 0-9")
        }
        guard !token.isEmpty else { throw .invalid("token", "token must not be empty") }
        guard !token.unicodeScalars.contains(where: { $0 == ":" || isLineBreak($0) }) else {
            throw .invalid("token", "token must not contain ':' or a line break")
        }
        return "\(ssid)\n\(password)\n\(operatorId):\(token)"
    }

    /// The QR code of ``payload(ssid:password:operatorId:token:)`` at `correction`.
    public static func code(ssid: String, password: String, operatorId: String, token: String,
                            correction: QRCorrection = .medium) throws(GatehouseError) -> QRCode {
        try QRCode.encode(text: payload(ssid: ssid, password: password, operatorId: operatorId, token: token), correction: correction)
    }

    private static func checkLine(_ value: String, field: String, bytes: ClosedRange<Int>) throws(GatehouseError) {
        guard bytes.contains(value.utf8.count) else {
            throw .invalid(field, "\(field) must be \(bytes.lowerBound) to \(bytes.upperBound) bytes of UTF-8, not \(value.utf8.count)")
        }
        // Scalars, not Characters: "\r\n" is one Character that `contains("\n")` would miss.
        guard !value.unicodeScalars.contains(where: isLineBreak) else {
            throw .invalid(field, "\(field) must not contain a line break (CR or LF)")
        }
    }

    private static func isLineBreak(_ scalar: Unicode.Scalar) -> Bool { scalar == "\n" || scalar == "\r" }
}
