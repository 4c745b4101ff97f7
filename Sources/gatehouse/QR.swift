import ArgumentParser
import Foundation
import GatehouseCore

/// `gatehouse qr --ssid S --password P --operator-id N --token T [--format png|svg|text] [--output FILE]`.
struct QR: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the QR code that activates a camera: Wi-Fi SSID, Wi-Fi password and operator_id:token, one a line.",
        discussion: """
            The text rendering (the default) draws with half blocks for a terminal with dark text on a \
            light background; on a dark-background terminal use --format png or svg. Files are written \
            readable by their owner only (0600): they hold the Wi-Fi password and the activation token.
            """)

    /// The picture to make.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case png, svg, text
    }

    @Option(help: "The Wi-Fi network name (1-32 bytes of UTF-8).") var ssid: String
    @Option(help: "The Wi-Fi password (0-63 bytes; leave out for an open network).") var password = ""
    @Option(help: "The operator id (digits).") var operatorId: String
    @Option(help: "The activation token (no ':').") var token: String
    @Option(help: "png, svg or text (half blocks for a terminal).") var format: Format = .text
    @Option(help: "File to write; required for png, standard output otherwise.") var output: String?
    @Option(help: "Error correction: L, M, Q or H.") var correction = "M"

    func validate() throws {
        if format == .png, output == nil { throw ValidationError("--format png needs --output FILE") }
        guard QRCorrection(rawValue: correction.uppercased()) != nil else { throw ValidationError("--correction must be L, M, Q or H") }
    }

    func run() throws {
        let code: QRCode
        do {
            code = try ActivationQR.code(ssid: ssid, password: password, operatorId: operatorId, token: token,
                                         correction: QRCorrection(rawValue: correction.uppercased()) ?? .medium)
        } catch {
            throw ValidationError(error.message)
        }
        let bytes = switch format {
        case .png: QRRender.png(code)
        case .svg: Array(QRRender.svg(code).utf8)
        case .text: Array(QRRender.terminal(code).utf8)
        }
        guard let output else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            FileHandle.standardError.write(Data("Error: cannot write \(output)\n".utf8))
            throw ExitCode.failure
        }
        FileHandle.standardError.write(Data("wrote \(output): QR version \(code.version), level \(code.correction.rawValue)\n".utf8))
    }
}
