/// A QR Code symbol (ISO/IEC 18004, Model 2): a square of dark and light modules.
///
/// ``encode(_:correction:)`` puts the bytes in one byte-mode segment, picks the smallest
/// version (1–40) that holds them at the requested level, and of the eight masks the one
/// with the lowest penalty score.
public struct QRCode: Sendable {
    /// The version, 1 to 40.
    public let version: Int
    /// The error-correction level.
    public let correction: QRCorrection
    /// The mask pattern chosen, 0 to 7.
    public let mask: Int
    /// Modules on a side (21 for version 1 up to 177 for version 40), without the quiet zone.
    public let size: Int
    private let modules: [Bool]

    /// Whether the module at column `x`, row `y` (0-based from the top left) is dark;
    /// positions outside the symbol (the quiet zone) are light.
    public func isDark(x: Int, y: Int) -> Bool {
        (0..<size).contains(x) && (0..<size).contains(y) && modules[y * size + x]
    }

    /// Encodes `bytes` as they are, in one byte-mode segment, at `correction`; throws
    /// `validation_failed` when they do not fit even version 40 (2,953 bytes at L, 2,331 at
    /// M, 1,663 at Q, 1,273 at H).
    public static func encode(_ bytes: [UInt8], correction: QRCorrection = .medium) throws(GatehouseError) -> QRCode {
        try encode(bytes, correction: correction, utf8: false, mask: nil)
    }

    /// Encodes the UTF-8 bytes of `text` in byte mode. Text with a non-ASCII character gets
    /// an ECI designator 26 (UTF-8) in front, so that readers which otherwise guess the
    /// character set (zbar reads "é" as Shift JIS) decode it as UTF-8; ASCII text is the
    /// plain byte segment that every reader takes. Throws as ``encode(_:correction:)``.
    public static func encode(text: String, correction: QRCorrection = .medium) throws(GatehouseError) -> QRCode {
        let bytes = Array(text.utf8)
        return try encode(bytes, correction: correction, utf8: bytes.contains { $0 >= 0x80 }, mask: nil)
    }

    /// The encoder behind both entry points; `mask` fixes the mask instead of choosing it.
    static func encode(_ bytes: [UInt8], correction: QRCorrection, utf8: Bool, mask fixed: Int?) throws(GatehouseError) -> QRCode {
        guard let version = QRCodewords.smallestVersion(count: bytes.count, correction: correction, utf8: utf8) else {
            let capacity = QRCodewords.capacity(correction: correction, utf8: utf8)
            throw GatehouseError(.validationFailed, "\(bytes.count) bytes do not fit a QR code at level \(correction.rawValue) (at most \(capacity))")
        }
        let data = QRCodewords.data(bytes, version: version, correction: correction, utf8: utf8)
        var matrix = QRMatrix(version: version)
        matrix.place(QRCodewords.interleaved(data, version: version, correction: correction))
        let scored = (fixed.map { [$0] } ?? Array(0..<8)).map { mask in
            var candidate = matrix
            candidate.apply(mask: mask)
            candidate.drawFormat(correction: correction, mask: mask)
            return (mask: mask, matrix: candidate, penalty: fixed == nil ? QRMask.penalty(candidate) : 0)
        }
        let chosen = scored.dropFirst().reduce(scored[0]) { $1.penalty < $0.penalty ? $1 : $0 }
        return QRCode(version: version, correction: correction, mask: chosen.mask, size: chosen.matrix.size, modules: chosen.matrix.modules)
    }
}
