import GatehouseCore

/// The model of `vendor-models.mustache`: a vendor's models (issue 10, point 5) and the
/// "Create a model" form.
struct ConsoleVendorModelsPage: Sendable {
    struct Row: Sendable {
        let name: String
        let window: String
        let created: ConsoleTime
        let href: String
    }

    /// The "Create a model" form: what was typed and its errors.
    struct ModelForm: Sendable {
        var name = ""
        var window = ""
        var errors: [String: String] = [:]
    }

    let frame: ConsoleFrame
    let csrf: String
    let vendor: String
    let models: [Row]
    let create: ModelForm
    let base: String
}

/// The model of `vendor-model.mustache`: one model with its activation window, its serial
/// numbers (a page at a time, with status), the CSV upload of serials, and its content.
struct ConsoleVendorModelPage: Sendable {
    struct SerialRow: Sendable {
        let sn: String
        let status: String
        let owner: String
        let extra: String
        let windowEnds: ConsoleTime?
        let activated: ConsoleTime?
    }

    struct ContentRow: Sendable {
        let name: String
        let version: String
        let type: String
        let size: String
        let sha256: String
        let isProtected: Bool
        let updated: ConsoleTime
        let uploaded: Bool
    }

    /// The activation window form.
    struct WindowForm: Sendable {
        var window = ""
        var errors: [String: String] = [:]
    }

    /// A row of an uploaded CSV that was refused.
    struct RowProblem: Sendable {
        let row: Int
        let sn: String
        let message: String
    }

    /// The CSV upload form: the problems of the last file (nothing of it was imported).
    struct ImportForm: Sendable {
        var filename = ""
        var problems: [RowProblem] = []
        var more = false
        var errors: [String: String] = [:]
    }

    /// The content upload form: what was typed (a browser cannot be handed the file back) and its errors.
    struct ContentForm: Sendable {
        var contentId = ""
        var version = ""
        var isProtected = false
        var errors: [String: String] = [:]
    }

    let frame: ConsoleFrame
    let csrf: String
    let vendor: String
    let model: String
    let windowText: String
    let serials: [SerialRow]
    let next: String?
    let previous: String?
    let firstRow: Int
    let contents: [ContentRow]
    let window: WindowForm
    let upload: ImportForm
    let content: ContentForm
    /// `/console/vendors/<id>/models/<model>`: where the forms post to.
    let base: String
    let modelsHref: String
    let maxCSV: String
    let maxContent: String
}

/// Sizes and durations as the console shows them.
enum ConsoleFormat {
    /// `1.5 MB`, `12 KB`, `900 bytes`.
    static func bytes(_ count: Int64) -> String {
        if count < 1000 { return "\(count) bytes" }
        let units = ["KB", "MB", "GB", "TB"]
        var value = Double(count) / 1000
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        let rounded = value < 10 ? (value * 10).rounded() / 10 : value.rounded()
        let text = rounded == rounded.rounded() ? String(Int64(rounded)) : String(rounded)
        return "\(text) \(units[unit])"
    }

    /// `24 hours`, `90 minutes`, `45 seconds`, with the seconds for precision.
    static func window(_ seconds: Int64) -> String {
        let words: String
        if seconds % 86_400 == 0 { words = plural(seconds / 86_400, "day") }
        else if seconds % 3600 == 0 { words = plural(seconds / 3600, "hour") }
        else if seconds % 60 == 0 { words = plural(seconds / 60, "minute") }
        else { return plural(seconds, "second") }
        return "\(words) (\(seconds) s)"
    }

    static func plural(_ count: Int64, _ word: String) -> String { count == 1 ? "1 \(word)" : "\(count) \(word)s" }
}
