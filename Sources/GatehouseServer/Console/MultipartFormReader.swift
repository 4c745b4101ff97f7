import GatehouseCore
import NIOCore

/// A strict reader of `multipart/form-data` bodies (RFC 7578 over RFC 2046 §5.1), part by
/// part as the body arrives, so that a large file streams through without being held whole.
///
/// What a browser sends is accepted; anything else is refused with `invalid_request` (400),
/// never guessed at: each delimiter is followed by CRLF or by the closing `--`; each part has
/// a `Content-Disposition: form-data; name="…"` header; a part's headers are at most
/// ``maxHeaderBytes``, a form has at most ``maxParts`` parts and at most ``maxPreambleBytes``
/// before the first delimiter; the body ends with the close delimiter (a body cut short is
/// refused, so a truncated upload is never taken for a whole one). What follows the close
/// delimiter (the epilogue) is not read.
///
/// Use: ``nextPart()`` for each part, then ``nextChunk()`` (or ``collect(limit:)``) for its
/// bytes; a part whose bytes are not read is skipped by the next ``nextPart()``.
final class MultipartFormReader<Source: AsyncIteratorProtocol> where Source.Element == ByteBuffer {
    /// One part's headers.
    struct Part: Sendable, Equatable {
        /// The form field's name.
        let name: String
        /// The file name a browser sends for a file field (possibly empty when no file was chosen); nil for a plain field.
        let filename: String?
        /// The part's `Content-Type`, if it has one.
        let contentType: String?
    }

    static var maxHeaderBytes: Int { 8 * 1024 }
    static var maxParts: Int { 32 }
    static var maxPreambleBytes: Int { 8 * 1024 }

    private enum Phase { case start, body, between(closing: Bool), closed }

    private var source: Source
    private var sourceEnded = false
    /// Bytes received and not yet handed out, from `start`.
    private var pending: [UInt8] = []
    private var start = 0
    /// `CRLF--boundary`.
    private let delimiter: [UInt8]
    private var phase = Phase.start
    private var parts = 0

    /// A reader of `source` for a body whose `Content-Type` is `contentType`; `unsupported_media_type`
    /// unless it is `multipart/form-data` with a valid `boundary` parameter.
    init(contentType: String?, source: Source) throws(GatehouseError) {
        guard let boundary = Self.boundary(contentType) else {
            throw GatehouseError(.unsupportedMediaType, "the body must be multipart/form-data with a boundary")
        }
        self.delimiter = Array("\r\n--\(boundary)".utf8)
        self.source = source
        // The first delimiter may open the body without a line break before it.
        self.pending = [13, 10]
    }

    /// The `boundary` parameter of a `multipart/form-data` media type: 1–70 characters of
    /// RFC 2046's set, the last not a space.
    static func boundary(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ".utf8)
            guard (1...70).contains(value.utf8.count), value.utf8.allSatisfy(allowed.contains), value.utf8.last != 32 else { return nil }
            return value
        }
        return nil
    }

    /// The next part's headers, or nil after the close delimiter.
    func nextPart() async throws -> Part? {
        switch phase {
        case .closed: return nil
        case .start:
            // Skip a preamble (browsers send none) up to the first delimiter.
            while true {
                if let at = find(delimiter) {
                    guard at <= Self.maxPreambleBytes else { throw Self.bad("the form has too much text before its first part") }
                    start += at + delimiter.count
                    break
                }
                guard pending.count - start <= Self.maxPreambleBytes + delimiter.count else { throw Self.bad("the form has no part delimiter") }
                guard try await receive() else { throw Self.bad("the form has no part delimiter") }
            }
            phase = .between(closing: try await closing())
        case .body:
            while try await nextChunk() != nil {}
        case .between: break
        }
        guard case .between(let closing) = phase else { return nil }
        if closing {
            phase = .closed
            return nil
        }
        parts += 1
        guard parts <= Self.maxParts else { throw Self.bad("the form has more than \(Self.maxParts) parts") }
        let part = try Self.parse(headers: try await headerBlock())
        phase = .body
        return part
    }

    /// The next bytes of the current part, or nil at its end. A body that ends before the
    /// part's delimiter is `invalid_request`.
    func nextChunk() async throws -> ByteBuffer? {
        guard case .body = phase else { return nil }
        while true {
            if let at = find(delimiter) {
                let chunk = ByteBuffer(bytes: pending[start..<(start + at)])
                start += at + delimiter.count
                phase = .between(closing: try await closing())
                return chunk.readableBytes > 0 ? chunk : nil
            }
            // Hand out what cannot be the start of a delimiter; keep the rest for the next look.
            let safe = pending.count - start - (delimiter.count - 1)
            if safe > 0 {
                let chunk = ByteBuffer(bytes: pending[start..<(start + safe)])
                start += safe
                return chunk
            }
            guard try await receive() else { throw Self.bad("the form ends in the middle of a part (the upload was cut short)") }
        }
    }

    /// The rest of the current part, at most `limit` bytes (`payload_too_large` beyond).
    func collect(limit: Int, what: String) async throws -> ByteBuffer {
        var all = ByteBuffer()
        while var chunk = try await nextChunk() {
            guard all.readableBytes + chunk.readableBytes <= limit else {
                throw GatehouseError(.payloadTooLarge, "\(what) is larger than the limit of \(limit) bytes")
            }
            all.writeBuffer(&chunk)
        }
        return all
    }

    // MARK: Internals

    /// After a delimiter: `--` closes the body, CRLF opens another part.
    private func closing() async throws -> Bool {
        while pending.count - start < 2 {
            guard try await receive() else { throw Self.bad("the form ends right after a part delimiter") }
        }
        let first = pending[start], second = pending[start + 1]
        start += 2
        if first == 45, second == 45 { return true }
        if first == 13, second == 10 { return false }
        throw Self.bad("a part delimiter is followed by something other than a line break or --")
    }

    /// The header lines of a part, up to the blank line that ends them.
    private func headerBlock() async throws -> [UInt8] {
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            if let at = find(end) {
                guard at <= Self.maxHeaderBytes else { throw Self.bad("a part's headers are longer than \(Self.maxHeaderBytes) bytes") }
                let block = Array(pending[start..<(start + at)])
                start += at + end.count
                return block
            }
            guard pending.count - start <= Self.maxHeaderBytes + end.count else {
                throw Self.bad("a part's headers are longer than \(Self.maxHeaderBytes) bytes")
            }
            guard try await receive() else { throw Self.bad("the form ends inside a part's headers") }
        }
    }

    /// Reads the next buffer from the source; false at its end.
    private func receive() async throws -> Bool {
        guard !sourceEnded else { return false }
        while true {
            guard let buffer = try await source.next() else {
                sourceEnded = true
                return false
            }
            guard buffer.readableBytes > 0 else { continue }
            if start > 0 {
                pending.removeFirst(start)
                start = 0
            }
            pending.append(contentsOf: buffer.readableBytesView)
            return true
        }
    }

    /// The offset from `start` of the first occurrence of `needle` in the pending bytes.
    private func find(_ needle: [UInt8]) -> Int? {
        let count = pending.count, length = needle.count, first = needle[0]
        guard count - start >= length else { return nil }
        var index = start
        let last = count - length
        while index <= last {
            if pending[index] == first {
                var match = true
                for offset in 1..<length where pending[index + offset] != needle[offset] {
                    match = false
                    break
                }
                if match { return index - start }
            }
            index += 1
        }
        return nil
    }

    /// A part's headers: `Content-Disposition: form-data; name="…"[; filename="…"]` is
    /// required; `Content-Type` is kept; others are ignored.
    static func parse(headers block: [UInt8]) throws(GatehouseError) -> Part {
        guard let text = String(validating: block, as: UTF8.self) else { throw bad("a part's headers are not UTF-8") }
        var disposition: String?, contentType: String?
        for line in text.split(separator: "\r\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else { throw bad("a part has a malformed header line") }
            let name = line[..<colon].lowercased(), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch name {
            case "content-disposition":
                guard disposition == nil else { throw bad("a part has two Content-Disposition headers") }
                disposition = value
            case "content-type": contentType = value
            default: continue
            }
        }
        guard let disposition else { throw bad("a part has no Content-Disposition header") }
        let parameters = try dispositionParameters(disposition)
        guard let name = parameters["name"] else { throw bad("a part's Content-Disposition has no name") }
        return Part(name: name, filename: parameters["filename"], contentType: contentType)
    }

    /// The parameters of `form-data; name="a"; filename="b.csv"` (names lower-cased).
    static func dispositionParameters(_ value: String) throws(GatehouseError) -> [String: String] {
        var scalars = Substring(value)
        func skipSpaces() { while scalars.first == " " || scalars.first == "\t" { scalars.removeFirst() } }
        let type = scalars.prefix { $0 != ";" }
        guard type.trimmingCharacters(in: .whitespaces).lowercased() == "form-data" else { throw bad("a part's Content-Disposition is not form-data") }
        scalars = scalars.dropFirst(type.count)
        var parameters: [String: String] = [:]
        while !scalars.isEmpty {
            guard scalars.first == ";" else { throw bad("a part's Content-Disposition is malformed") }
            scalars.removeFirst()
            skipSpaces()
            let key = scalars.prefix { $0 != "=" && $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
            scalars = scalars.dropFirst(scalars.prefix { $0 != "=" && $0 != ";" }.count)
            guard scalars.first == "=", !key.isEmpty else { throw bad("a part's Content-Disposition is malformed") }
            scalars.removeFirst()
            skipSpaces()
            let parameter: String
            if scalars.first == "\"" {
                // Browsers escape '"' and line breaks in names as %22, %0D and %0A (HTML's rule), so no backslashes here.
                scalars.removeFirst()
                guard let close = scalars.firstIndex(of: "\"") else { throw bad("a part's Content-Disposition has an unterminated quote") }
                parameter = String(scalars[..<close])
                scalars = scalars[scalars.index(after: close)...]
            } else {
                let token = scalars.prefix { $0 != ";" }
                parameter = token.trimmingCharacters(in: .whitespaces)
                scalars = scalars.dropFirst(token.count)
            }
            skipSpaces()
            guard parameters[key] == nil else { throw bad("a part's Content-Disposition names \(key) twice") }
            parameters[key] = parameter
        }
        return parameters
    }

    static func bad(_ message: String) -> GatehouseError { GatehouseError(.invalidRequest, message) }
}
