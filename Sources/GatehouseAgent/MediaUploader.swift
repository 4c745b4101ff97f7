import AsyncHTTPClient
import Foundation
import GatehouseCore
import NIOCore

/// What the server stored for an upload.
public struct UploadedMedia: Sendable, Hashable {
    public var id: Int64
    public var kind: MediaKind
    public var time: Int64
    public var size: Int64
    public var contentType: String
}

/// Uploads snapshots and clips to `POST <server>/api/v1.0/device/media/{images|clips}` with
/// the device's own credential, streaming the body (a file is read in 64 KiB pieces, never
/// whole). The agent calls it for `snapshot` commands and answers `{"image_id": id}`.
///
/// Failures are ``GatehouseError``s: the server's `errorType` when it refused (for example
/// `payload_too_large` 413, `insufficient_storage` 507, `conflict` 409 when the device is no
/// channel, `unauthenticated` 401), `unavailable` when it could not be reached or answered 5xx.
public struct MediaUploader: Sendable {
    let http: HTTPClient
    let base: String
    let credential: ChannelCredential
    let timeout: TimeAmount

    /// An uploader for the server at `serverURL` (`http://host:port`, optionally with a path prefix).
    public init(http: HTTPClient, serverURL: String, credential: ChannelCredential, timeout: TimeAmount = .seconds(120)) {
        var base = serverURL
        while base.hasSuffix("/") { base.removeLast() }
        self.http = http
        self.base = base
        self.credential = credential
        self.timeout = timeout
    }

    /// The upload URL of a kind with its query (`time`, and `duration` for clips).
    func url(_ kind: MediaKind, time: Int64?, duration: Int64?) -> String {
        var query: [String] = []
        if let time { query.append("time=\(time)") }
        if let duration { query.append("duration=\(duration)") }
        return base + "/api/v1.0/device/media/\(kind.rawValue)s" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }

    /// Uploads bytes held in memory.
    public func upload(_ kind: MediaKind, bytes: ByteBuffer, contentType: String, time: Int64? = nil, duration: Int64? = nil) async throws -> UploadedMedia {
        try await send(kind, body: .bytes(bytes), contentType: contentType, time: time, duration: duration)
    }

    /// Uploads a file, streamed from disk with its length announced.
    public func upload(_ kind: MediaKind, file path: String, contentType: String, time: Int64? = nil, duration: Int64? = nil) async throws -> UploadedMedia {
        let size: Int64
        do {
            size = ((try FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        } catch {
            throw GatehouseError(.notFound, "cannot read \(path)")
        }
        return try await send(kind, body: .stream(FileChunks(path: path), length: .known(size)), contentType: contentType, time: time, duration: duration)
    }

    func send(_ kind: MediaKind, body: HTTPClientRequest.Body, contentType: String, time: Int64?, duration: Int64?) async throws -> UploadedMedia {
        var request = HTTPClientRequest(url: url(kind, time: time, duration: duration))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "Accept", value: "application/json")
        for header in credential.headers { request.headers.add(name: header.name, value: header.value) }
        request.body = body
        let status: Int
        let answer: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = Int(response.status.code)
            answer = try await response.body.collect(upTo: 64 * 1024)
        } catch let error as GatehouseError {
            throw error
        } catch {
            throw GatehouseError(.unavailable, "the upload did not reach the server: \(error)")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView))) as? [String: Any]
        guard (200..<300).contains(status) else {
            if status >= 500 && status != 507 { throw GatehouseError(.unavailable, "the server answered \(status)") }
            let code = (json?["errorType"] as? String).map { GatehouseError.Code(rawValue: $0) } ?? .invalidRequest
            throw GatehouseError(code, json?["errorDetail"] as? String ?? "the server answered \(status)")
        }
        guard let json, let id = (json["id"] as? NSNumber)?.int64Value, let size = (json["size"] as? NSNumber)?.int64Value else {
            throw GatehouseError(.unavailable, "the server answered \(status) without the stored item")
        }
        return UploadedMedia(id: id, kind: kind, time: (json["time"] as? NSNumber)?.int64Value ?? 0, size: size,
                             contentType: json["content_type"] as? String ?? contentType)
    }
}

/// A file's bytes in 64 KiB buffers, read as they are asked for.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let path: String
        var handle: FileHandle?
        var done = false

        mutating func next() async throws -> ByteBuffer? {
            guard !done else { return nil }
            if handle == nil {
                guard let opened = FileHandle(forReadingAtPath: path) else { throw GatehouseError(.notFound, "cannot read \(path)") }
                handle = opened
            }
            guard let data = try handle?.read(upToCount: 64 * 1024), !data.isEmpty else {
                try? handle?.close()
                done = true
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(path: path) }
}
