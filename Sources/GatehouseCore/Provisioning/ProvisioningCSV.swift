/// The CSV of the provisioning API (RFC 4180 fields; lines end with `\n`).
public enum ProvisioningCSV {
    /// A field, quoted when it holds a comma, a quote or a line break, or starts or ends with
    /// a space or tab (``parse`` trims those around unquoted fields).
    public static func field(_ value: String) -> String {
        let edges: (UInt8?) -> Bool = { $0 == 32 || $0 == 9 }
        guard value.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) || edges(value.utf8.first) || edges(value.utf8.last)
        else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Lines of fields, joined with `\n`.
    public static func render(_ rows: [[String]]) -> String {
        rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\n")
    }

    /// The rows of a CSV body: `\n` or `\r\n` line ends, quoted fields, blank lines skipped.
    /// `invalid_request` for an unterminated quote or bytes that are not UTF-8.
    public static func parse(_ bytes: [UInt8], field: String = "body") throws(GatehouseError) -> [[String]] {
        var reader = Rows(bytes, field: field)
        var rows: [[String]] = []
        while let row = try reader.next() { rows.append(row) }
        return rows
    }

    /// The rows of a CSV body one at a time, read in place (a large body is never copied or
    /// held as rows whole); the same rules as ``parse(_:field:)``.
    public struct Rows<Bytes: RandomAccessCollection> where Bytes.Element == UInt8, Bytes.Index == Int {
        let bytes: Bytes
        let field: String
        var index: Int

        /// A reader over `bytes`; errors name `field`.
        public init(_ bytes: Bytes, field: String = "body") {
            self.bytes = bytes
            self.field = field
            self.index = bytes.startIndex
        }

        /// The next row that is not blank, or nil at the end.
        public mutating func next() throws(GatehouseError) -> [String]? {
            var fields: [String] = []
            var current: [UInt8] = []
            var quoted = false, wasQuoted = false
            let field = self.field
            func finishField() throws(GatehouseError) {
                guard let text = String(validating: current, as: UTF8.self) else { throw .init(.invalidRequest, "the CSV body is not UTF-8", field: field) }
                fields.append(wasQuoted ? text : text.trimmingWhitespace)
                current.removeAll(keepingCapacity: true)
                wasQuoted = false
            }
            let end = bytes.endIndex
            while index < end {
                let byte = bytes[index]
                index += 1
                if quoted {
                    if byte == 34 {
                        if index < end, bytes[index] == 34 { current.append(34); index += 1 } else { quoted = false }
                    } else {
                        current.append(byte)
                    }
                } else {
                    switch byte {
                    case 34 where current.allSatisfy({ $0 == 32 || $0 == 9 }): quoted = true; wasQuoted = true; current.removeAll()
                    case 44: try finishField()
                    case 10:
                        try finishField()
                        if !(fields.count == 1 && fields[0].isEmpty) { return fields }
                        fields = []
                    case 13 where index < end && bytes[index] == 10: break
                    default: current.append(byte)
                    }
                }
            }
            guard !quoted else { throw .init(.invalidRequest, "the CSV body has an unterminated quoted field", field: field) }
            if !current.isEmpty || !fields.isEmpty || wasQuoted {
                try finishField()
                if !(fields.count == 1 && fields[0].isEmpty) { return fields }
            }
            return nil
        }
    }
}

/// A single byte range of a `Range: bytes=…` header, resolved against a size.
public enum ByteRange: Equatable, Sendable {
    /// Serve the whole body (no header, a malformed one, or several ranges: RFC 9110 lets a server ignore those).
    case whole
    /// Serve bytes `first...last` (inclusive).
    case partial(first: Int64, last: Int64)
    /// A well-formed range that no byte of the body satisfies (416).
    case unsatisfiable

    /// Resolves `header` (`bytes=X-Y`, `bytes=X-` or `bytes=-Y`) for a body of `size` bytes.
    public static func resolve(_ header: String?, size: Int64) -> ByteRange {
        guard let header else { return .whole }
        let trimmed = header.trimmingWhitespace
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst(6).trimmed(of: " \t")
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let startText = spec[..<dash].trimmed(of: " \t"), endText = spec[spec.index(after: dash)...].trimmed(of: " \t")
        let digits: (String) -> Bool = { !$0.isEmpty && $0.utf8.count <= 18 && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
        if startText.isEmpty {
            guard digits(endText), let suffix = Int64(endText) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .partial(first: max(0, size - suffix), last: size - 1)
        }
        guard digits(startText), let first = Int64(startText) else { return .whole }
        var last = size - 1
        if !endText.isEmpty {
            guard digits(endText), let end = Int64(endText) else { return .whole }
            guard end >= first else { return .whole }
            last = min(end, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .partial(first: first, last: last)
    }
}

extension StringProtocol {
    func trimmed(of set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
