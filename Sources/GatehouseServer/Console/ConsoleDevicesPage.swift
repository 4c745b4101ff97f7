import Foundation
import GatehouseCore

/// The model of `devices.mustache`: an account's cameras, serial devices and onboarded
/// endpoints with their status and when they were last seen, and the forms that act on them.
struct ConsoleDevicesPage: Sendable {
    struct Account: Sendable {
        let id: Int64
        let name: String
    }

    struct CameraRow: Sendable {
        let deviceId: Int64
        let title: String
        let name: String
        let status: String
        let serial: String
        let lastSeen: ConsoleTime?
    }

    struct SerialRow: Sendable {
        let vendor: String
        let model: String
        let sn: String
        let status: String
        let windowEnds: ConsoleTime?
        let lastSeen: ConsoleTime?
    }

    struct EndpointRow: Sendable {
        let id: Int64
        let externalId: String
        let gateway: String
        let status: String
        let active: Bool
        let lastSeen: ConsoleTime?
    }

    struct PresetOption: Sendable {
        let id: Int64
        let title: String
        let selected: Bool
    }

    /// The "Add camera" form: what was typed (never the Wi-Fi password) and its errors.
    struct CameraForm: Sendable {
        var title = ""
        var presetId = ""
        var ssid = ""
        var errors: [String: String] = [:]
    }

    /// The "Enable a serial" form.
    struct SerialForm: Sendable {
        var vendor = ""
        var model = ""
        var sn = ""
        var errors: [String: String] = [:]
    }

    /// An activation token just issued: shown once, with its QR image and payload.
    struct IssuedToken: Sendable {
        let title: String
        let token: String
        let operatorId: Int64
        /// The QR payload: three lines (Wi-Fi SSID, Wi-Fi password, `operator_id:token`).
        let payload: String
        /// The same-origin URL of the QR image (the Wi-Fi password sealed inside, bound to the session).
        let qrURL: String
        let validTill: ConsoleTime?
    }

    /// A registration code just made ("+ Connection"): shown once, with its expiry.
    struct IssuedCode: Sendable {
        let code: String
        let expires: ConsoleTime
    }

    let frame: ConsoleFrame
    let csrf: String
    let account: Account
    let cameras: [CameraRow]
    let serials: [SerialRow]
    let endpoints: [EndpointRow]
    let presets: [PresetOption]
    let hasPresets: Bool
    let camera: CameraForm
    let serial: SerialForm
    let issued: IssuedToken?
    let code: IssuedCode?
    /// Where the forms post to (`/console/accounts/<id>`).
    let base: String
}

/// A point in time as the console shows it: readable UTC text and the ISO 8601 value for `<time datetime>`.
struct ConsoleTime: Sendable {
    let text: String
    let iso: String

    init(_ seconds: Int64) {
        let iso = Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
        self.iso = iso
        self.text = iso.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    /// The time `seconds`, or nil when unset (nil or 0).
    init?(ifSet seconds: Int64?) {
        guard let seconds, seconds > 0 else { return nil }
        self.init(seconds)
    }
}
