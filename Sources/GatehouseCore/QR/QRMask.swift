/// The eight data-mask patterns and the penalty rules that pick one (ISO/IEC 18004 7.8).
enum QRMask {
    /// Whether mask pattern `mask` inverts the module at column `x`, row `y`.
    static func inverts(_ mask: Int, x: Int, y: Int) -> Bool {
        switch mask {
        case 0: (x + y) % 2 == 0
        case 1: y % 2 == 0
        case 2: x % 3 == 0
        case 3: (x + y) % 3 == 0
        case 4: (x / 3 + y / 2) % 2 == 0
        case 5: x * y % 2 + x * y % 3 == 0
        case 6: (x * y % 2 + x * y % 3) % 2 == 0
        default: ((x + y) % 2 + x * y % 3) % 2 == 0
        }
    }

    /// The penalty score of a finished grid: long runs (N1 = 3), 2×2 blocks (N2 = 3),
    /// finder-like 1:1:3:1:1 patterns beside four light modules (N3 = 40) and the
    /// imbalance of dark and light (N4 = 10 per 5 % off 50 %).
    static func penalty(_ matrix: QRMatrix) -> Int {
        let size = matrix.size
        var score = 0
        for line in 0..<size {
            let row = (0..<size).map { matrix.isDark(x: $0, y: line) }
            let column = (0..<size).map { matrix.isDark(x: line, y: $0) }
            score += runPenalty(row) + runPenalty(column) + finderPenalty(row) + finderPenalty(column)
        }
        var dark = 0
        for y in 0..<size {
            for x in 0..<size {
                let colour = matrix.isDark(x: x, y: y)
                if colour { dark += 1 }
                if x + 1 < size, y + 1 < size, colour == matrix.isDark(x: x + 1, y: y),
                   colour == matrix.isDark(x: x, y: y + 1), colour == matrix.isDark(x: x + 1, y: y + 1) {
                    score += 3
                }
            }
        }
        let total = size * size
        let deviation = abs(dark * 20 - total * 10) / total
        return score + deviation * 10
    }

    /// 3 + (n − 5) for every run of n ≥ 5 modules of one colour.
    private static func runPenalty(_ line: [Bool]) -> Int {
        var score = 0
        var run = 0
        for (index, colour) in line.enumerated() {
            run = index > 0 && line[index - 1] == colour ? run + 1 : 1
            if run == 5 { score += 3 } else if run > 5 { score += 1 }
        }
        return score
    }

    /// 40 for every dark-light-dark×3-light-dark pattern with four light modules before or
    /// after it, outside the grid counting as light (the quiet zone); a pattern that scored
    /// is not counted again in part (the search goes on after its end).
    private static func finderPenalty(_ line: [Bool]) -> Int {
        let core = [true, false, true, true, true, false, true]
        let padded = [Bool](repeating: false, count: 4) + line + [Bool](repeating: false, count: 4)
        var score = 0
        var start = 4
        while start + 11 <= padded.count {
            if padded[start..<(start + 7)].elementsEqual(core),
               !padded[(start - 4)..<start].contains(true) || !padded[(start + 7)..<(start + 11)].contains(true) {
                score += 40
                start += 7
            } else {
                start += 1
            }
        }
        return score
    }
}
