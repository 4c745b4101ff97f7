import GatehouseCore
@testable import GatehouseServer
import NIOCore
import Testing

/// The console's `multipart/form-data` reader on its own: the same form split into chunks of
/// every size gives the same parts and bytes (a delimiter may arrive in pieces), and malformed
/// forms are refused with `invalid_request` rather than read wrongly.
@Suite("Console: multipart form reader")
struct ConsoleMultipartFormReaderTests {
    /// Hands out a body in chunks of `size` bytes.
    struct Chunks: AsyncIteratorProtocol {
        var bytes: [UInt8]
        let size: Int
        mutating func next() async throws -> ByteBuffer? {
            guard !bytes.isEmpty else { return nil }
            let chunk = bytes.prefix(size)
            bytes.removeFirst(chunk.count)
            return ByteBuffer(bytes: chunk)
        }
    }

    static let type = "multipart/form-data; boundary=XyZ-1"

    /// Every part of `body` read in chunks of `size`: name, file name and content.
    static func read(_ body: String, size: Int, type: String = type) async throws -> [(String, String?, String)] {
        let reader = try MultipartFormReader(contentType: type, source: Chunks(bytes: Array(body.utf8), size: size))
        var parts: [(String, String?, String)] = []
        while let part = try await reader.nextPart() {
            var text = ""
            while let chunk = try await reader.nextChunk() { text += String(buffer: chunk) }
            parts.append((part.name, part.filename, text))
        }
        return parts
    }

    @Test func theSameFormReadsAlikeInChunksOfAnySize() async throws {
        // The file holds a near-delimiter, CR LF pairs and a dash run, to trip a careless search.
        let file = "line 1\r\n--XyZ-\r\n\r\n--XyZ-0\r\nend\r"
        let body = "preamble\r\n--XyZ-1\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntoken\r\n"
            + "--XyZ-1\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a b.csv\"\r\nContent-Type: text/csv\r\n\r\n\(file)\r\n"
            + "--XyZ-1\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--XyZ-1--\r\nepilogue"
        for size in [1, 2, 3, 5, 7, 11, 64, 4096] {
            let parts = try await Self.read(body, size: size)
            #expect(parts.map(\.0) == ["csrf", "file", "empty"], "size \(size)")
            #expect(parts.map(\.1) == [nil, "a b.csv", nil], "size \(size)")
            #expect(parts.map(\.2) == ["token", file, ""], "size \(size)")
        }
        // A quoted boundary parameter, and a form that starts with its delimiter.
        let plain = try await Self.read("--XyZ-1\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ-1--", size: 3,
                                        type: "multipart/form-data; charset=utf-8; boundary=\"XyZ-1\"")
        #expect(plain.map(\.0) == ["a"] && plain.map(\.2) == ["1"])
    }

    @Test func malformedFormsAreRefused() async throws {
        let part = "--XyZ-1\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue\r\n"
        let refused: [(String, String)] = [
            (part, "no close delimiter"),
            (part + "--XyZ-1", "nothing after the last delimiter"),
            (part + "--XyZ-1xx\r\n", "junk after a delimiter"),
            ("--XyZ-1\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ-1--", "no Content-Disposition"),
            ("--XyZ-1\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ-1--", "not form-data"),
            ("--XyZ-1\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\nx\r\n--XyZ-1--", "no name"),
            ("--XyZ-1\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--XyZ-1--", "an unterminated quote"),
            ("--XyZ-1\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nx\r\n--XyZ-1--", "a parameter twice"),
            ("--XyZ-1\r\nbroken header\r\n\r\nx\r\n--XyZ-1--", "a header without a colon"),
            ("--XyZ-1\r\nContent-Disposition: form-data; name=\"" + String(repeating: "n", count: 9000) + "\"\r\n\r\nx\r\n--XyZ-1--", "headers too long"),
            (String(repeating: "p", count: 9000) + "\r\n" + part + "--XyZ-1--", "a preamble too long"),
            ("no delimiter at all", "no delimiter"),
            (String(repeating: part, count: 33) + "--XyZ-1--", "too many parts"),
        ]
        for (body, why) in refused {
            await #expect(throws: GatehouseError.self, "\(why)") { _ = try await Self.read(body, size: 5) }
            do {
                _ = try await Self.read(body, size: 5)
            } catch let error as GatehouseError {
                #expect(error.code == .invalidRequest, "\(why): \(error)")
            }
        }
        for type in ["text/csv", "multipart/form-data", "multipart/form-data; boundary=", "multipart/mixed; boundary=XyZ-1",
                     "multipart/form-data; boundary=" + String(repeating: "b", count: 71), "multipart/form-data; boundary=bad\u{1}"] {
            #expect(throws: GatehouseError(.unsupportedMediaType, "the body must be multipart/form-data with a boundary"), "\(type)") {
                _ = try MultipartFormReader(contentType: type, source: Chunks(bytes: [], size: 1))
            }
        }
    }

    @Test func collectStopsAtItsLimit() async throws {
        let body = "--XyZ-1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" + String(repeating: "x", count: 100) + "\r\n--XyZ-1--"
        let reader = try MultipartFormReader(contentType: Self.type, source: Chunks(bytes: Array(body.utf8), size: 16))
        #expect(try await reader.nextPart()?.filename == "f")
        await #expect(throws: GatehouseError.self) { _ = try await reader.collect(limit: 99, what: "the file") }
        let whole = try MultipartFormReader(contentType: Self.type, source: Chunks(bytes: Array(body.utf8), size: 16))
        _ = try await whole.nextPart()
        #expect(try await whole.collect(limit: 100, what: "the file").readableBytes == 100)
        #expect(try await whole.nextPart() == nil)
    }
}
