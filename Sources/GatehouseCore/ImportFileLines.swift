import Foundation

/// Reads a file line by line through a fixed buffer, so a file of any size is never held in
/// memory whole (the bulk part of an import file). Lines end with `\n` (a `\r` before it is
/// dropped); a line longer than `maxLineBytes` is an error naming it.
public struct ImportFileLines {
    let handle: FileHandle
    let maxLineBytes: Int
    var buffer: [UInt8] = []
    var start = 0
    var finished = false
    /// The number (1-based) of the last line returned by ``next()``.
    public private(set) var lineNumber = 0

    /// Opens `path`; `validation_failed` when it cannot be read.
    public init(path: String, maxLineBytes: Int = 1 << 20) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw GatehouseError.invalid("file", "cannot read \(path)") }
        self.handle = handle
        self.maxLineBytes = maxLineBytes
    }

    /// The next line without its line end, or nil at the end of the file.
    public mutating func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let end = buffer[start...].firstIndex(of: 10) {
                let line = buffer[start..<(end > start && buffer[end - 1] == 13 ? end - 1 : end)]
                start = end + 1
                lineNumber += 1
                return line
            }
            if finished {
                guard start < buffer.count else { return nil }
                let line = buffer[start...]
                start = buffer.count
                lineNumber += 1
                return line
            }
            guard buffer.count - start <= maxLineBytes else {
                throw GatehouseError.invalid("line \(lineNumber + 1)", "line \(lineNumber + 1) is longer than \(maxLineBytes) bytes")
            }
            // Keep the unread tail, then read the next block after it.
            buffer.removeSubrange(0..<start)
            start = 0
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { finished = true } else { buffer.append(contentsOf: block) }
        }
    }

    /// Closes the file.
    public func close() {
        try? handle.close()
    }
}
