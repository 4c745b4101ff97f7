import Foundation

/// The JSON body of an onboarding call, read without re-serializing it (the signature covers
/// the raw bytes, which the caller keeps).
struct OnboardingBody {
    let fields: [String: Any]

    /// Parses a JSON object; `malformed_body` (0100) otherwise.
    init(_ bytes: [UInt8]) throws(GatehouseError) {
        guard !bytes.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw GatehouseError(.malformedBody, "the body must be a JSON object")
        }
        fields = object
    }

    /// An object already parsed (an entry of a list in a body).
    init(fields: [String: Any]) {
        self.fields = fields
    }

    /// A string field (numbers are taken as their text); nil when absent or null.
    func string(_ name: String) throws(GatehouseError) -> String? {
        switch fields[name] {
        case nil, is NSNull: return nil
        case let text as String: return text
        case let number as NSNumber where !JSONText.isBool(number): return number.stringValue
        default: throw GatehouseError.invalid(name, "\(name) must be a string")
        }
    }

    func required(_ name: String) throws(GatehouseError) -> String {
        guard let value = try string(name), !value.isEmpty else { throw GatehouseError.invalid(name, "\(name) is required") }
        return value
    }

    /// An array of strings.
    func strings(_ name: String) throws(GatehouseError) -> [String] {
        guard let values = fields[name] as? [Any], let strings = values as? [String] else {
            throw GatehouseError.invalid(name, "\(name) must be an array of strings")
        }
        return strings
    }
}

/// `UTCTimestamp` values: ISO-8601 in UTC with `Z`, any number of fraction digits.
public enum OnboardingTimestamp {
    /// Unix seconds of `2018-06-04T12:00:03.000Z`, nil when the text is not of that form.
    public static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40, bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
              bytes[16] == UInt8(ascii: ":"), let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        if bytes.count > 20 {  // fraction: "." and at least one digit
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 21, number(20..<(bytes.count - 1)) != nil else { return nil }
        } else if bytes[19] != UInt8(ascii: "Z") {
            return nil
        }
        // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// `2026-11-23T18:57:00.000Z` for unix seconds.
    public static func format(_ seconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(String(format: "%04d", c.year ?? 1970))-\(two(c.month))-\(two(c.day))T\(two(c.hour)):\(two(c.minute)):\(two(c.second)).000Z"
    }
}
