import Foundation

/// A TCP connection that speaks HTTP by hand, the way old device firmware does: it writes
/// exactly the bytes given and reads a bounded number of bytes back. Blocking socket calls
/// run on a thread of their own, never on Swift concurrency's few threads.
public final class RawHTTPConnection: @unchecked Sendable {
    private let fd: Int32

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address such as
    /// 127.0.0.7, which Linux binds without set-up) when given.
    public init(port: Int, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError.socket(errno) }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                close(fd)
                throw RawHTTPError.socket(errno)
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw RawHTTPError.socket(errno)
        }
    }

    deinit { close(fd) }

    /// Writes `text` as it is (CRLFs and all).
    public func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    /// Writes `bytes` as they are (for requests that are not valid UTF-8).
    public func send(bytes: [UInt8]) async throws {
        try await Self.offThread { [fd] in
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }  // EPIPE, not SIGPIPE
                guard n > 0 else { throw RawHTTPError.socket(errno) }
                sent += n
            }
        }
    }

    /// Reads until `atMost` bytes came, the peer closed, or `complete` says the answer is whole;
    /// gives up after `timeout` seconds.
    public func read(atMost: Int, timeout: Double = 10, until complete: @escaping @Sendable ([UInt8]) -> Bool = RawHTTPConnection.isComplete) async throws -> [UInt8] {
        try await Self.offThread { [fd] in
            var received: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            while received.count < atMost, !complete(received) {
                var pollfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
                guard left > 0 else { throw RawHTTPError.timeout(received) }
                guard poll(&pollfd, 1, left) > 0 else { continue }
                var buffer = [UInt8](repeating: 0, count: atMost - received.count)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                received += buffer[..<n]
            }
            return received
        }
    }

    /// Whether `bytes` hold a whole HTTP answer: the head and `Content-Length` bytes of body.
    public static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let answer = RawHTTPAnswer(bytes) else { return false }
        return answer.body.count >= answer.contentLength
    }

    private static func offThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// An HTTP answer read off a socket: the status line as sent, headers, and the body bytes.
public struct RawHTTPAnswer: Sendable {
    public let statusLine: String
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]
    /// The size of the status line and headers, blank line included.
    public let headSize: Int

    /// Parses `bytes`; nil until the blank line after the headers has arrived.
    public init?(_ bytes: [UInt8]) {
        let marker: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == marker }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        statusLine = head[0]
        headers = head.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        headSize = end + 4
        body = Array(bytes[(end + 4)...])
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    public var contentLength: Int { header("Content-Length").flatMap(Int.init) ?? 0 }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

public enum RawHTTPError: Error {
    case socket(Int32)
    case timeout([UInt8])
}
