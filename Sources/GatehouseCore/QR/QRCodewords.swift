/// Turns payload bytes into the final codeword sequence of a symbol: one byte-mode segment
/// (after an ECI designator when asked), terminator and padding, then Reed–Solomon blocks
/// interleaved (ISO/IEC 18004 7.4 and 7.6).
enum QRCodewords {
    /// The ECI assignment number of UTF-8.
    static let utf8Designator = 26

    /// Bits of the character count in byte mode: 8 up to version 9, 16 from version 10.
    static func countBits(version: Int) -> Int { version <= 9 ? 8 : 16 }

    /// Bits a byte-mode segment of `count` bytes takes in a symbol of `version`, with the
    /// 12 bits of an ECI header (mode 0111, one designator byte) when `utf8` is set.
    static func segmentBits(count: Int, version: Int, utf8: Bool) -> Int {
        (utf8 ? 12 : 0) + 4 + countBits(version: version) + 8 * count
    }

    /// The smallest version whose data capacity at `correction` holds `count` bytes, if any.
    static func smallestVersion(count: Int, correction: QRCorrection, utf8: Bool) -> Int? {
        (1...40).first { segmentBits(count: count, version: $0, utf8: utf8) <= QRTables.dataCodewords(version: $0, correction: correction) * 8 }
    }

    /// The most bytes a version-40 symbol holds at `correction`.
    static func capacity(correction: QRCorrection, utf8: Bool) -> Int {
        (QRTables.dataCodewords(version: 40, correction: correction) * 8 - segmentBits(count: 0, version: 40, utf8: utf8)) / 8
    }

    /// The data codewords: the ECI header 0111 00011010 when `utf8` is set, mode 0100, count,
    /// the bytes, up to four zero bits of terminator, zero bits to a byte boundary, then the
    /// pad bytes 0xEC and 0x11 in turn.
    static func data(_ bytes: [UInt8], version: Int, correction: QRCorrection, utf8: Bool) -> [UInt8] {
        let capacity = QRTables.dataCodewords(version: version, correction: correction)
        var bits = BitBuffer()
        if utf8 {
            bits.append(0b0111, count: 4)
            bits.append(utf8Designator, count: 8)
        }
        bits.append(0b0100, count: 4)
        bits.append(bytes.count, count: countBits(version: version))
        for byte in bytes { bits.append(Int(byte), count: 8) }
        bits.append(0, count: min(4, capacity * 8 - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var result = bits.bytes
        var pad: UInt8 = 0xEC
        while result.count < capacity {
            result.append(pad)
            pad ^= 0xEC ^ 0x11
        }
        return result
    }

    /// Splits `data` into the blocks of `version` at `correction` (the short blocks first),
    /// adds each block's error correction, and interleaves: the data codewords column by
    /// column across the blocks, then the error-correction codewords the same way.
    static func interleaved(_ data: [UInt8], version: Int, correction: QRCorrection) -> [UInt8] {
        let blockCount = QRTables.errorCorrectionBlocks[correction.ordinal][version]
        let eccLength = QRTables.eccCodewordsPerBlock[correction.ordinal][version]
        let total = QRTables.rawDataModules(version: version) / 8
        let shortBlocks = blockCount - total % blockCount
        let shortDataLength = total / blockCount - eccLength
        let generator = ReedSolomon.generator(degree: eccLength)
        var dataBlocks: [[UInt8]] = []
        var eccBlocks: [[UInt8]] = []
        var start = 0
        for block in 0..<blockCount {
            let length = shortDataLength + (block < shortBlocks ? 0 : 1)
            let slice = Array(data[start..<(start + length)])
            start += length
            dataBlocks.append(slice)
            eccBlocks.append(ReedSolomon.remainder(slice, generator: generator))
        }
        var result: [UInt8] = []
        result.reserveCapacity(total)
        for column in 0...shortDataLength {
            for block in dataBlocks where column < block.count { result.append(block[column]) }
        }
        for column in 0..<eccLength {
            for block in eccBlocks { result.append(block[column]) }
        }
        return result
    }
}

/// A growing sequence of bits, most significant first.
struct BitBuffer {
    private(set) var bits: [Bool] = []

    /// How many bits so far.
    var count: Int { bits.count }

    /// Appends the low `count` bits of `value`, the highest first.
    mutating func append(_ value: Int, count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> shift) & 1 == 1) }
    }

    /// The bits packed into bytes (the last one padded with zero bits).
    var bytes: [UInt8] {
        var result = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (index, bit) in bits.enumerated() where bit { result[index / 8] |= 0x80 >> UInt8(index % 8) }
        return result
    }
}
