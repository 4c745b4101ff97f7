import Foundation
import GatehouseCore
import Testing

/// Every symbol is read back by a real decoder, zbarimg (Debian `zbar-tools`); SVG goes
/// through rsvg-convert (`librsvg2-bin`) first. The tests are synchronous and serialized:
/// they block their thread on a child process, and one at a time is enough for two cores.
@Suite("QR codes for agent activation", .serialized)
struct QRCodeTests {
    static let seed = "HomeNet\nsecret pw\n44766:MURAELYI"

    /// SSID and password pairs that must come back byte for byte.
    static let wifi: [(ssid: String, password: String)] = [
        ("Café-Wi-Fi", "crème brûlée"),
        ("Дом", "пароль 123"),
        ("日本語", "秘密のパスワード"),
        ("📷 cams 🏠", "🔑🔑 key"),
        ("a:b;c,d\\e\"f g", " p:w;\"x\\y, z "),
        ("WIFI:S:x;;", "WIFI:T:WPA;P:\"q\";;"),
        ("OpenNet", ""),
        (String(repeating: "й", count: 16), String(repeating: "ü", count: 31) + "!"),
    ]

    // MARK: - Activation payload

    /// The payload is exactly SSID, password and `operator_id:token`, joined with "\n".
    @Test func activationPayloadIsExactlyThreeLines() async throws {
        let payload = try ActivationQR.payload(ssid: "HomeNet", password: "secret pw", operatorId: "44766", token: "MURAELYI")
        #expect(payload == Self.seed)
        #expect(payload.split(separator: "\n", omittingEmptySubsequences: false) == ["HomeNet", "secret pw", "44766:MURAELYI"])
        #expect(try ActivationQR.payload(ssid: "x", password: "", operatorId: "1", token: "t") == "x\n\n1:t")
    }

    /// The seed example reads back from the PNG, the SVG and the terminal rendering.
    @Test func seedExampleReadsBackFromEveryRendering() async throws {
        let code = try ActivationQR.code(ssid: "HomeNet", password: "secret pw", operatorId: "44766", token: "MURAELYI")
        #expect(code.correction == .medium)
        #expect(try await QRReader.read(png: QRRender.png(code)) == Array(Self.seed.utf8))
        #expect(try await QRReader.read(svg: QRRender.svg(code)) == Array(Self.seed.utf8))
        #expect(try await QRReader.read(terminal: QRRender.terminal(code)) == Array(Self.seed.utf8))
    }

    /// Non-ASCII text, separators, quotes, backslashes, spaces and an empty password come
    /// back exactly, and the payload still splits into the three lines given.
    @Test(arguments: wifi) func wifiCredentialsSurviveExactly(ssid: String, password: String) async throws {
        let payload = try ActivationQR.payload(ssid: ssid, password: password, operatorId: "44766", token: "MURAELYI")
        let read = try await QRReader.read(png: QRRender.png(QRCode.encode(text: payload), scale: 4))
        #expect(read == Array(payload.utf8))
        let lines = String(decoding: read, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines == [Substring(ssid), Substring(password), "44766:MURAELYI"])
    }

    /// Non-ASCII text carries ECI 26, so zbarimg's text output (no `-Sbinary`) is UTF-8 too;
    /// without it zbar takes "Café" for Shift JIS. ASCII text carries no ECI and reads the same.
    @Test func nonASCIITextReadsAsUTF8WithoutBinaryMode() async throws {
        for text in ["Café-Wi-Fi\nStraße\n1:A", "é", Self.seed] {
            let output = try await QRReader.zbar(png: QRRender.png(QRCode.encode(text: text), scale: 4), binary: false)
            #expect(output == Array((text + "\n").utf8))
        }
    }

    // MARK: - Versions, levels, capacity

    /// Long payloads take the smallest version that holds them and read back: 300 bytes are
    /// version 13 at M, 1,000 bytes version 26 at M (23 interleaved blocks of two lengths),
    /// 1,100 bytes version 38 at H (74 blocks), and the full 2,953 bytes version 40 at L
    /// (25 blocks; its PNG also spans several stored deflate blocks).
    @Test(arguments: [(300, QRCorrection.medium, 13), (1_000, .medium, 26), (1_100, .high, 38), (2_953, .low, 40)])
    func longPayloadsReadBack(length: Int, correction: QRCorrection, version: Int) async throws {
        let text = Self.longText(bytes: length)
        #expect(text.utf8.count == length)
        let code = try QRCode.encode(Array(text.utf8), correction: correction)
        #expect(code.version == version)
        #expect(try await QRReader.read(png: QRRender.png(code, scale: 3)) == Array(text.utf8))
    }

    /// Each level reads back and is the level asked for; the stronger level needs a version
    /// at least as large.
    @Test func everyCorrectionLevelReadsBack() async throws {
        let payload = try ActivationQR.payload(ssid: "Café-Wi-Fi", password: "p:w;\"x", operatorId: "44766", token: "MURAELYI")
        var versions: [Int] = []
        for correction in QRCorrection.allCases {
            let code = try QRCode.encode(text: payload, correction: correction)
            #expect(code.correction == correction)
            #expect(try await QRReader.read(png: QRRender.png(code, scale: 4)) == Array(payload.utf8))
            versions.append(code.version)
        }
        #expect(versions == versions.sorted())
    }

    /// The smallest version that fits is used: 14 bytes are version 1 at M, 15 are version 2.
    @Test func smallestVersionIsChosen() async throws {
        #expect(try QRCode.encode(Array(repeating: 0x41, count: 14)).version == 1)
        #expect(try QRCode.encode(Array(repeating: 0x41, count: 15)).version == 2)
        #expect(try QRCode.encode([], correction: .high).version == 1)
        #expect(try QRCode.encode(Array(repeating: 0x41, count: 14)).size == 21)
    }

    /// Level H recovers a symbol with a block of modules destroyed in the data area.
    @Test func damagedSymbolStillReadsAtLevelH() async throws {
        let payload = try ActivationQR.payload(ssid: "Дом", password: "secret pw", operatorId: "44766", token: "MURAELYI")
        let code = try QRCode.encode(text: payload, correction: .high)
        let damaged = { (x: Int, y: Int) -> Bool in
            (code.size / 2 - 3...code.size / 2 + 2).contains(x) && (code.size - 9...code.size - 4).contains(y)
                ? (x + y) % 3 == 0 : code.isDark(x: x, y: y)
        }
        #expect(try await QRReader.read(png: QRReader.png(size: code.size, isDark: damaged)) == Array(payload.utf8))
    }

    /// Too much data for version 40 is a validation error, not a crash.
    @Test func tooLongInputThrows() async throws {
        #expect(try QRCode.encode(Array(repeating: 0x41, count: 2_953), correction: .low).version == 40)
        for (count, correction) in [(2_954, QRCorrection.low), (2_332, .medium), (1_664, .quartile), (1_274, .high)] {
            let error = #expect(throws: GatehouseError.self) { try QRCode.encode(Array(repeating: 0x41, count: count), correction: correction) }
            #expect(error?.code == .validationFailed)
        }
        // As text with a non-ASCII character the ECI header takes the room of one byte.
        #expect(throws: GatehouseError.self) { try QRCode.encode(text: "é" + String(repeating: "a", count: 2_951), correction: .low) }
    }

    // MARK: - Renderings

    /// The SVG is one crisp `<path>` of dark modules on a white background, and reads back once rasterised.
    @Test func svgIsOnePathAndReadsBack() async throws {
        let payload = try ActivationQR.payload(ssid: "日本語", password: "", operatorId: "7", token: "T0K3N")
        let code = try QRCode.encode(text: payload, correction: .quartile)
        let svg = QRRender.svg(code, scale: 5)
        #expect(svg.components(separatedBy: "<path").count == 2)
        #expect(svg.contains(#"shape-rendering="crispEdges""#))
        #expect(svg.contains(##"<rect width="\##(code.size + 8)" height="\##(code.size + 8)" fill="#ffffff"/>"##))
        #expect(svg.contains(#"width="\#((code.size + 8) * 5)""#))
        #expect(try await QRReader.read(svg: svg) == Array(payload.utf8))
    }

    /// The terminal text uses only half blocks, full blocks and spaces, two module rows a
    /// line with a light border, and the modules it shows read back.
    @Test func terminalTextReadsBack() async throws {
        let payload = try ActivationQR.payload(ssid: "📷 cams", password: "a b;c", operatorId: "44766", token: "MURAELYI")
        let code = try QRCode.encode(text: payload)
        let text = QRRender.terminal(code, border: 2)
        #expect(Set(text).isSubset(of: ["▀", "▄", "█", " ", "\n"]))
        let lines = text.split(separator: "\n")
        #expect(lines.count == (code.size + 4 + 1) / 2)
        #expect(lines.allSatisfy { $0.count == code.size + 4 })
        #expect(lines[0].allSatisfy { $0 == " " })
        #expect(try await QRReader.read(terminal: text) == Array(payload.utf8))
    }

    /// The PNG has the signature, a 1-bit greyscale IHDR of the expected size, and ends with IEND and its fixed CRC.
    @Test func pngIsWellFormed() async throws {
        let code = try QRCode.encode(text: "x")
        let png = QRRender.png(code, scale: 2, border: 4)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
        let side = UInt32((21 + 8) * 2)
        #expect(Array(png[16..<26]) == [0, 0, 0, UInt8(side), 0, 0, 0, UInt8(side), 1, 0])
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    // MARK: - Invalid input

    /// Line breaks, lengths outside the limits, a non-numeric operator id and a bad token are
    /// refused with `validation_failed` naming the field.
    @Test func invalidActivationInputIsRefused() {
        let cases: [(field: String, ssid: String, password: String, operatorId: String, token: String)] = [
            ("ssid", "Home\nNet", "pw", "1", "T"),
            ("ssid", "Home\r\nNet", "pw", "1", "T"),
            ("ssid", "Home\rNet", "pw", "1", "T"),
            ("ssid", "", "pw", "1", "T"),
            ("ssid", String(repeating: "日", count: 11), "pw", "1", "T"),
            ("password", "Home", "p\nw", "1", "T"),
            ("password", "Home", "p\r\n", "1", "T"),
            ("password", "Home", String(repeating: "a", count: 64), "1", "T"),
            ("operator_id", "Home", "pw", "", "T"),
            ("operator_id", "Home", "pw", "12a", "T"),
            ("operator_id", "Home", "pw", "-1", "T"),
            ("operator_id", "Home", "pw", "４４", "T"),
            ("token", "Home", "pw", "1", ""),
            ("token", "Home", "pw", "1", "a:b"),
            ("token", "Home", "pw", "1", "a\nb"),
        ]
        for item in cases {
            let error = #expect(throws: GatehouseError.self, "\(item)") {
                try ActivationQR.payload(ssid: item.ssid, password: item.password, operatorId: item.operatorId, token: item.token)
            }
            #expect(error?.code == .validationFailed)
            #expect(error?.field == item.field, "\(item)")
        }
        #expect((try? ActivationQR.payload(ssid: String(repeating: "a", count: 32), password: String(repeating: "b", count: 63),
                                           operatorId: "0123", token: "T")) != nil)
    }

    /// Text of exactly `bytes` UTF-8 bytes mixing ASCII, Cyrillic and separators.
    static func longText(bytes: Int) -> String {
        let unit = "Line: Дом;\"x\"\\ 0123456789 "
        var text = ""
        while text.utf8.count + unit.utf8.count <= bytes { text += unit }
        return text + String(repeating: "z", count: bytes - text.utf8.count)
    }
}

/// zbarimg and rsvg-convert, run as child processes.
enum QRReader {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The bytes zbarimg reads from a PNG (`--raw -q -Sbinary`: the payload's bytes as
    /// encoded, no character-set guessing and no newline added).
    static func read(png: [UInt8]) async throws -> [UInt8] { try await zbar(png: png, binary: true) }

    /// The SVG rasterised by rsvg-convert, then read by zbarimg.
    static func read(svg: String) async throws -> [UInt8] {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("code.svg"), output = directory.appendingPathComponent("code.png")
        try Data(svg.utf8).write(to: input)
        let result = try await run("rsvg-convert", ["--background-color", "white", "-o", output.path, input.path], in: directory)
        guard result.status == 0 else { throw Failure(description: "rsvg-convert failed (\(result.status)): \(result.error)") }
        return try await read(png: Array(Data(contentsOf: output)))
    }

    /// The terminal text parsed back into modules (each character two rows: `▀` upper, `▄`
    /// lower, `█` both), drawn as a PNG with two more light modules around (the terminal's
    /// light background), then read by zbarimg.
    static func read(terminal text: String) async throws -> [UInt8] {
        var rows: [[Bool]] = []
        for line in text.split(separator: "\n") {
            var upper: [Bool] = [], lower: [Bool] = []
            for character in line {
                guard let halves = ["▀": (true, false), "▄": (false, true), "█": (true, true), " ": (false, false)][character] else {
                    throw Failure(description: "unexpected character \(character) in terminal rendering")
                }
                upper.append(halves.0)
                lower.append(halves.1)
            }
            rows += [upper, lower]
        }
        let side = rows.first?.count ?? 0
        return try await read(png: png(size: side) { x, y in y < rows.count && rows[y][x] })
    }

    /// A PNG of a `size`-module grid with a 2-module light border, 4 pixels a module.
    static func png(size: Int, isDark: @escaping (Int, Int) -> Bool) -> [UInt8] {
        let border = 2, scale = 4
        let side = (size + 2 * border) * scale
        return PNGWriter.blackAndWhite(width: side, height: side) { x, y in
            let moduleX = x / scale - border, moduleY = y / scale - border
            return (0..<size).contains(moduleX) && (0..<size).contains(moduleY) && isDark(moduleX, moduleY)
        }
    }

    /// zbarimg's output for a PNG, QR codes only; `binary` adds `-Sbinary`. Fails when no code is found.
    static func zbar(png: [UInt8], binary: Bool) async throws -> [UInt8] {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("code.png")
        try Data(png).write(to: file)
        let result = try await run("zbarimg", ["--raw", "-q", "-Sdisable", "-Sqrcode.enable"] + (binary ? ["-Sbinary"] : []) + [file.path], in: directory)
        guard result.status == 0 else { throw Failure(description: "zbarimg found no QR code (exit \(result.status)): \(result.error)") }
        return result.output
    }

    /// Runs `tool` from PATH with its standard error in a file in `directory` (a pipe left
    /// unread could fill and stall it); fails with the install command when it is missing.
    static func run(_ tool: String, _ arguments: [String], in directory: URL) async throws -> (status: Int32, output: [UInt8], error: String) {
        // On a thread of its own: a blocked Swift-concurrency thread (2 cores, 2 threads) would
        // starve the database tests running beside this suite.
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runBlocking(tool, arguments, in: directory) }) }.start()
        }
    }

    static func runBlocking(_ tool: String, _ arguments: [String], in directory: URL) throws -> (status: Int32, output: [UInt8], error: String) {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(tool)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw Failure(description: "\(tool) is not installed: run `apt-get install zbar-tools librsvg2-bin` (the QR tests need zbarimg and rsvg-convert)")
        }
        let errorFile = directory.appendingPathComponent("\(tool).stderr")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        let output = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let bytes = Array(output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return (process.terminationStatus, bytes, (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "")
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
