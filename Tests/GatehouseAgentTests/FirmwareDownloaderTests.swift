import AsyncHTTPClient
import Crypto
import Foundation
@testable import GatehouseAgent
import Hummingbird
import Logging
import NIOCore
import Testing

/// What a stub content server saw.
actor RangeLog {
    var ranges: [String?] = []
    var ifRanges: [String?] = []
    func add(_ range: String?, _ ifRange: String?) -> Int {
        ranges.append(range)
        ifRanges.append(ifRange)
        return ranges.count
    }
}

struct StubCut: Error {}

@Suite("Firmware download with Range resume, against a stub server")
struct FirmwareDownloaderTests {
    static let blob = (0..<700_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
    static var sha: String { SHA256.hash(data: blob).map { String(format: "%02x", $0) }.joined() }

    /// A stub of `/provision/download`: the n-th call with `cut(n)` true sends the head for the
    /// whole answer and half of it, then drops the connection. `etag(n)` is the ETag it gives.
    static func withStub(cut: @escaping @Sendable (Int) -> Bool, etag: @escaping @Sendable (Int) -> String = { _ in "\"\(sha)\"" }, log: RangeLog,
                         _ body: @escaping @Sendable (Int, HTTPClient) async throws -> Void) async throws {
        let router = Router()
        router.get("/provision/download") { request, _ in
            let range = request.headers[.range]
            let count = await log.add(range, request.headers[.ifRange])
            var first = 0
            var status = HTTPResponse.Status.ok
            var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes", .eTag: etag(count)]
            if let range, range.hasPrefix("bytes="), range.hasSuffix("-"), let from = Int(range.dropFirst(6).dropLast()) {
                guard from < blob.count else {
                    headers[.contentRange] = "bytes */\(blob.count)"
                    return Response(status: .rangeNotSatisfiable, headers: headers)
                }
                first = from
                status = .partialContent
                headers[.contentRange] = "bytes \(from)-\(blob.count - 1)/\(blob.count)"
            }
            let slice = Array(blob[first...])
            headers[.contentLength] = String(slice.count)
            let cutHere = cut(count)
            return Response(status: status, headers: headers, body: ResponseBody(contentLength: slice.count) { writer in
                if cutHere {
                    try await writer.write(ByteBuffer(bytes: slice[..<(slice.count / 2)]))
                    throw StubCut()
                }
                try await writer.write(ByteBuffer(bytes: slice))
                try await writer.finish(nil)
            })
        }
        try await StubServer.run(router) { port in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await body(port, http)
            } catch {
                try await http.shutdown()
                throw error
        }
        try await http.shutdown()
        }
    }

    static func url(_ port: Int) -> String { "http://127.0.0.1:\(port)/provision/download?vendor=v&model=m&id=fw" }

    @Test func aTransferCutMidwayResumesFromThePartialFile() async throws {
        let log = RangeLog()
        try await Self.withStub(cut: { $0 == 1 }, log: log) { port, http in
            let partial = try temporaryDirectory() + "/fw.part"
            let downloader = FirmwareDownloader(http: http)
            let first = await downloader.download(url: Self.url(port), cik: String(repeating: "a", count: 40), partial: partial, expectedSize: Int64(Self.blob.count))
            guard case .interrupted = first else { Issue.record("expected an interrupted transfer, got \(first)"); return }
            let kept = try #require(FirmwareDownloader.fileSize(partial))
            #expect(kept > 0 && kept < Int64(Self.blob.count), "the partial file is kept: \(kept)")
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: partial))) == Array(Self.blob[..<Int(kept)]))
            let second = await downloader.download(url: Self.url(port), cik: String(repeating: "a", count: 40), partial: partial, expectedSize: Int64(Self.blob.count))
            #expect(second == .complete(path: partial, size: Int64(Self.blob.count), sha256: Self.sha))
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: partial))) == Self.blob)
            let ranges = await log.ranges, ifRanges = await log.ifRanges
            #expect(ranges == [nil, "bytes=\(kept)-"], "\(ranges)")
            #expect(ifRanges == [nil, "\"\(Self.sha)\""])
        }
    }

    @Test func aChecksumMismatchDeletesThePartialAndTheNextAttemptStartsOver() async throws {
        let log = RangeLog()
        let wrong = "\"" + String(repeating: "0", count: 64) + "\""
        try await Self.withStub(cut: { $0 == 1 }, etag: { $0 <= 2 ? wrong : "\"\(Self.sha)\"" }, log: log) { port, http in
            let partial = try temporaryDirectory() + "/fw.part"
            let downloader = FirmwareDownloader(http: http)
            let cik = String(repeating: "b", count: 40)
            guard case .interrupted = await downloader.download(url: Self.url(port), cik: cik, partial: partial, expectedSize: nil) else {
                Issue.record("the first transfer should break off"); return
            }
            guard case .corrupt = await downloader.download(url: Self.url(port), cik: cik, partial: partial, expectedSize: nil) else {
                Issue.record("a SHA-256 other than the ETag's must be rejected"); return
            }
            #expect(FirmwareDownloader.fileSize(partial) == nil, "the rejected file is deleted")
            #expect(FirmwareDownloader.fileSize(partial + ".etag") == nil)
            let third = await downloader.download(url: Self.url(port), cik: cik, partial: partial, expectedSize: nil)
            #expect(third == .complete(path: partial, size: Int64(Self.blob.count), sha256: Self.sha))
            #expect(await log.ranges.last == .some(nil), "started over without a Range")
        }
    }

    @Test func aPartialOfAnotherBlobIsReplacedWhole() async throws {
        // The partial's ETag no longer matches: the stub ignores If-Range here, so the
        // downloader must notice the size mismatch or the checksum and start over; a partial
        // longer than the content is dropped before asking.
        let log = RangeLog()
        try await Self.withStub(cut: { _ in false }, log: log) { port, http in
            let partial = try temporaryDirectory() + "/fw.part"
            try Data(repeating: 7, count: Self.blob.count + 10).write(to: URL(fileURLWithPath: partial))
            let outcome = await FirmwareDownloader(http: http).download(url: Self.url(port), cik: String(repeating: "c", count: 40), partial: partial,
                                                                        expectedSize: Int64(Self.blob.count))
            #expect(outcome == .complete(path: partial, size: Int64(Self.blob.count), sha256: Self.sha))
            #expect(await log.ranges == [nil])
        }
    }

    @Test func contentInfoAndFileNames() {
        #expect(ContentInfo.parse("application/x-firmware,3000000,1700000000,\"1.2, beta\"\n")
            == ContentInfo(contentType: "application/x-firmware", size: 3_000_000, updated: 1_700_000_000, meta: "1.2, beta"))
        #expect(ContentInfo.parse("x,y,z") == nil)
        #expect(SerialAgent.fileName("fw-1.2") == "content-fw-1.2")
        #expect(SerialAgent.fileName("../x y") == "content-..%2Fx%20y")
        #expect(FirmwareDownloader.sha256FromETag("W/\"\(String(repeating: "A", count: 64))\"") == String(repeating: "a", count: 64))
        #expect(FirmwareDownloader.sha256FromETag("\"abc\"") == nil)
    }
}
