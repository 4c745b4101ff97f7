/// The error-correction level of a QR code: how much of the symbol may be damaged or
/// hidden and still read (about 7 %, 15 %, 25 % and 30 % of the codewords).
public enum QRCorrection: String, Sendable, CaseIterable {
    /// Level L, about 7 % of the codewords can be restored.
    case low = "L"
    /// Level M, about 15 %; the default.
    case medium = "M"
    /// Level Q, about 25 %.
    case quartile = "Q"
    /// Level H, about 30 %.
    case high = "H"

    /// The row of this level in ``QRTables``.
    var ordinal: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    /// The two bits that stand for this level in the format information (ISO/IEC 18004 table 12).
    var formatBits: Int {
        switch self {
        case .low: 1
        case .medium: 0
        case .quartile: 3
        case .high: 2
        }
    }
}
