/// The module grid of a symbol while it is built: the function patterns (finders, timing,
/// alignment, format and version information) and the data area around them.
struct QRMatrix {
    /// Modules on a side.
    let size: Int
    /// Dark modules, row by row.
    private(set) var modules: [Bool]
    /// Modules that belong to a function pattern (never carry data, never masked).
    private var function: [Bool]

    /// A grid for `version` with every function pattern drawn and the format area reserved.
    init(version: Int) {
        size = QRTables.size(version: version)
        modules = [Bool](repeating: false, count: size * size)
        function = modules
        for index in 0..<size {
            setFunction(x: 6, y: index, dark: index % 2 == 0)
            setFunction(x: index, y: 6, dark: index % 2 == 0)
        }
        drawFinder(x: 3, y: 3)
        drawFinder(x: size - 4, y: 3)
        drawFinder(x: 3, y: size - 4)
        let positions = QRTables.alignmentPositions(version: version)
        for x in positions {
            for y in positions where !(x == 6 && y == 6) && !(x == 6 && y == size - 7) && !(x == size - 7 && y == 6) {
                drawAlignment(x: x, y: y)
            }
        }
        drawFormat(correction: .medium, mask: 0)
        if version >= 7 { drawVersion(version) }
    }

    /// Whether the module at column `x`, row `y` is dark.
    func isDark(x: Int, y: Int) -> Bool { modules[y * size + x] }

    private mutating func setFunction(x: Int, y: Int, dark: Bool) {
        modules[y * size + x] = dark
        function[y * size + x] = true
    }

    /// A finder pattern centred on (x, y) with its light separator, clipped to the grid.
    private mutating func drawFinder(x: Int, y: Int) {
        for dy in -4...4 {
            for dx in -4...4 where (0..<size).contains(x + dx) && (0..<size).contains(y + dy) {
                let distance = max(abs(dx), abs(dy))
                setFunction(x: x + dx, y: y + dy, dark: distance != 2 && distance != 4)
            }
        }
    }

    /// A 5×5 alignment pattern centred on (x, y).
    private mutating func drawAlignment(x: Int, y: Int) {
        for dy in -2...2 {
            for dx in -2...2 { setFunction(x: x + dx, y: y + dy, dark: max(abs(dx), abs(dy)) != 1) }
        }
    }

    /// The 15 format bits (level and mask, BCH(15,5) protected, XOR 0x5412) in both copies,
    /// and the dark module beside the lower-left finder.
    mutating func drawFormat(correction: QRCorrection, mask: Int) {
        let data = correction.formatBits << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        let bits = (data << 10 | remainder) ^ 0x5412
        func bit(_ index: Int) -> Bool { (bits >> index) & 1 == 1 }
        for index in 0...5 { setFunction(x: 8, y: index, dark: bit(index)) }
        setFunction(x: 8, y: 7, dark: bit(6))
        setFunction(x: 8, y: 8, dark: bit(7))
        setFunction(x: 7, y: 8, dark: bit(8))
        for index in 9..<15 { setFunction(x: 14 - index, y: 8, dark: bit(index)) }
        for index in 0..<8 { setFunction(x: size - 1 - index, y: 8, dark: bit(index)) }
        for index in 8..<15 { setFunction(x: 8, y: size - 15 + index, dark: bit(index)) }
        setFunction(x: 8, y: size - 8, dark: true)
    }

    /// The 18 version bits (BCH(18,6) protected) in the two 6×3 blocks, versions 7 to 40.
    private mutating func drawVersion(_ version: Int) {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        let bits = version << 12 | remainder
        for index in 0..<18 {
            let dark = (bits >> index) & 1 == 1
            let a = size - 11 + index % 3, b = index / 3
            setFunction(x: a, y: b, dark: dark)
            setFunction(x: b, y: a, dark: dark)
        }
    }

    /// Places `codewords` in the two-column zigzag from the lower right, skipping the
    /// function modules and the vertical timing column; modules left over stay light.
    mutating func place(_ codewords: [UInt8]) {
        var index = 0
        let total = codewords.count * 8
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = (right + 1) & 2 == 0
            for step in 0..<size {
                let y = upward ? size - 1 - step : step
                for x in [right, right - 1] where !function[y * size + x] && index < total {
                    modules[y * size + x] = (codewords[index >> 3] >> UInt8(7 - (index & 7))) & 1 == 1
                    index += 1
                }
            }
            right -= 2
        }
    }

    /// Inverts the data modules for which mask pattern `mask` (0–7) holds; applying it twice undoes it.
    mutating func apply(mask: Int) {
        for y in 0..<size {
            for x in 0..<size where !function[y * size + x] && QRMask.inverts(mask, x: x, y: y) {
                modules[y * size + x].toggle()
            }
        }
    }
}
