import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// The outcome of one download attempt.
public enum DownloadOutcome: Sendable, Equatable {
    /// The file is whole at `path`: its size matched, and its SHA-256 matched the server's where it gave one.
    case complete(path: String, size: Int64, sha256: String)
    /// The server refused (403 the CIK, 404 the content): the partial file is kept.
    case refused(status: Int)
    /// The transfer broke off or the server is away: the partial file is kept, and the next
    /// attempt resumes from its size.
    case interrupted(reason: String)
    /// The finished file had the wrong size or checksum: the partial file was deleted, and the
    /// next attempt starts over.
    case corrupt(reason: String)
}

/// Downloads one content item to `<partial>` with HTTP Range resume: a partial file left by an
/// interrupted transfer (or a killed process) is kept and the next attempt asks for
/// `Range: bytes=<its size>-`, with `If-Range` naming the ETag the partial came from, so that a
/// blob replaced in between is fetched whole instead of spliced. The ETag is kept beside the
/// partial in `<partial>.etag`. The finished file's size is checked against the server's, and
/// its SHA-256 against the ETag when the ETag is one (Gatehouse's is the blob's SHA-256).
public struct FirmwareDownloader: Sendable {
    let http: HTTPClient
    /// How long the whole transfer may take.
    let timeout: TimeAmount

    public init(http: HTTPClient, timeout: TimeAmount = .hours(2)) {
        self.http = http
        self.timeout = timeout
    }

    /// One attempt: resumes or starts the download of `url` into `partial`. `expectedSize`, when
    /// known (the content info), is checked too. Never throws; every failure is an outcome.
    public func download(url: String, cik: String, partial: String, expectedSize: Int64?) async -> DownloadOutcome {
        let etagFile = partial + ".etag"
        var have = Self.fileSize(partial) ?? 0
        var etag = (try? String(contentsOfFile: etagFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if have > 0, let expectedSize, have > expectedSize {
            Self.discard(partial)
            have = 0
        }
        if have == 0 { etag = nil }
        var request = ProvisionClient.get(url, cik: cik)
        if have > 0 {
            request.headers.add(name: "Range", value: "bytes=\(have)-")
            if let etag, !etag.isEmpty { request.headers.add(name: "If-Range", value: etag) }
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            return .interrupted(reason: "\(error)")
        }
        let status = Int(response.status.code)
        let total: Int64
        let append: Bool
        switch status {
        case 206:
            guard let range = response.headers.first(name: "Content-Range").flatMap(Self.contentRange), let size = range.total, range.first <= have else {
                // A range the partial cannot be continued with: start over next time.
                Self.discard(partial)
                return .corrupt(reason: "a 206 answer whose Content-Range does not continue the partial file")
            }
            // The server may start earlier than asked: skip what we hold.
            total = size
            append = true
            if range.first < have {
                _ = ftruncateFile(partial, to: range.first)
                have = range.first
            }
        case 200:
            let length = response.headers.first(name: "Content-Length").flatMap { Int64($0) }
            guard let length = length ?? expectedSize else { return .interrupted(reason: "a 200 answer without Content-Length") }
            total = length
            append = false
            have = 0
        case 416:
            // Asked from the end of the partial: it may be whole already (killed after the last byte).
            let size = response.headers.first(name: "Content-Range").flatMap(Self.contentRange)?.total
            if let size, size == have {
                return finish(partial, size: size, etag: etag, expectedSize: expectedSize)
            }
            Self.discard(partial)
            return .corrupt(reason: "the partial file (\(have) bytes) does not fit the content (\(size.map(String.init) ?? "?") bytes)")
        case 408, 429, 500...:
            return .interrupted(reason: "the server answered \(status)")
        default:
            return .refused(status: status)
        }
        if let expectedSize, total != expectedSize {
            // The content changed since its info was read; the next round reads it again.
            return .interrupted(reason: "the server sends \(total) bytes where the info said \(expectedSize)")
        }
        let newTag = response.headers.first(name: "ETag")
        if let newTag, newTag != etag {
            do { try DurableFile.writeSmall(etagFile, newTag) } catch { return .interrupted(reason: "\(error)") }
            etag = newTag
        } else if newTag == nil, etag != nil {
            unlink(etagFile)
            etag = nil
        }
        let fd = open(partial, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o600)
        guard fd >= 0 else { return .interrupted(reason: "\(AgentFileError(operation: "open", path: partial, errno: errno))") }
        var written = have
        do {
            defer { close(fd) }
            _ = fchmod(fd, 0o600)
            for try await buffer in response.body {
                guard written + Int64(buffer.readableBytes) <= total else { throw AgentFileError(operation: "accept more than Content-Length into", path: partial, errno: EFBIG) }
                try Self.writeAll(fd, buffer, path: partial)
                written += Int64(buffer.readableBytes)
            }
            _ = fsync(fd)
        } catch {
            return .interrupted(reason: "the transfer broke off after \(written) of \(total) bytes: \(error)")
        }
        guard written == total else { return .interrupted(reason: "the transfer ended after \(written) of \(total) bytes") }
        return finish(partial, size: total, etag: etag, expectedSize: expectedSize)
    }

    /// Checks the whole file's size and SHA-256; deletes it on a mismatch.
    func finish(_ partial: String, size: Int64, etag: String?, expectedSize: Int64?) -> DownloadOutcome {
        let actual = Self.fileSize(partial) ?? -1
        guard actual == size, expectedSize.map({ $0 == actual }) ?? true else {
            Self.discard(partial)
            return .corrupt(reason: "the file has \(actual) bytes, not \(size)")
        }
        guard let digest = Self.sha256(partial) else { return .interrupted(reason: "cannot read \(partial)") }
        if let expected = etag.flatMap(Self.sha256FromETag), expected != digest {
            Self.discard(partial)
            return .corrupt(reason: "SHA-256 \(digest) does not match the server's \(expected)")
        }
        return .complete(path: partial, size: actual, sha256: digest)
    }

    /// Deletes a partial file and its ETag.
    public static func discard(_ partial: String) {
        unlink(partial)
        unlink(partial + ".etag")
    }

    /// The SHA-256 an ETag names: `"<64 hex>"` (or weak `W/"…"`), lower-cased; nil for other tags.
    public static func sha256FromETag(_ etag: String) -> String? {
        var tag = etag.trimmingCharacters(in: .whitespaces)
        if tag.hasPrefix("W/") { tag.removeFirst(2) }
        tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard tag.utf8.count == 64, tag.utf8.allSatisfy({ $0 < 128 && ($0 as UInt8).isHexDigit }) else { return nil }
        return tag.lowercased()
    }

    /// `bytes first-last/total` (total nil for `*`) or `bytes */total` (first 0).
    static func contentRange(_ value: String) -> (first: Int64, total: Int64?)? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes ") else { return nil }
        let parts = text.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let total = Int64(parts[1])
        if parts[0] == "*" { return (0, total) }
        guard let first = parts[0].split(separator: "-").first.flatMap({ Int64($0) }) else { return nil }
        return (first, total)
    }

    /// The lower-case hex SHA-256 of a file, read in 1 MiB pieces.
    public static func sha256(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    static func writeAll(_ fd: Int32, _ buffer: ByteBuffer, path: String) throws(AgentFileError) {
        var error: AgentFileError?
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    error = AgentFileError(operation: "write", path: path, errno: errno)
                    return
                }
                offset += count
            }
        }
        if let error { throw error }
    }
}

private func ftruncateFile(_ path: String, to size: Int64) -> Bool {
    truncate(path, off_t(size)) == 0
}

extension UInt8 {
    fileprivate var isHexDigit: Bool { (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self) }
}

extension DurableFile {
    /// Replaces the file at `path` with `text` durably (temporary file, fsync, rename), mode 0600.
    static func writeSmall(_ path: String, _ text: String) throws(AgentFileError) {
        let url = URL(fileURLWithPath: path)
        try DurableFile(directory: url.deletingLastPathComponent().path, name: url.lastPathComponent).write(Data(text.utf8))
    }
}
