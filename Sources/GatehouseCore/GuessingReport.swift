import Foundation

/// What an attacker can get by guessing each short secret under the configured limits: the
/// space of the secret, guesses allowed per day per source address and per target, how long a
/// secret lives, and the best chance per day. Computed from the settings' values (by default
/// their built-in defaults), so that SECURITY.md and the test report cannot drift from the code.
public struct GuessingReport: Sendable {
    /// One secret's figures.
    public struct Row: Sendable, Hashable {
        public var secret: String
        /// How the space is made, e.g. `26^8`.
        public var shape: String
        public var space: Double
        public var perAddressPerDay: Double
        /// Guesses per day against one target (operator, user name); nil when there is no such limit.
        public var perTargetPerDay: Double?
        /// What the target is.
        public var target: String
        public var validity: String
        /// Live secrets assumed at once for the chance figure.
        public var live: Double
        /// Addresses assumed for a target without a per-target limit.
        public var addresses: Double
        /// The best chance per day, over `live` secrets, of one correct guess.
        public var chancePerDay: Double
        public var note: String
    }

    public var rows: [Row]

    /// Seconds in a day.
    static let day = 86_400.0

    /// Failures a fixed-bucket sliding window lets through per day: `limit` per `window` seconds.
    static func perDay(limit: Int64, windowSeconds: Int64) -> Double {
        (day / Double(windowSeconds)).rounded(.up) * Double(limit)
    }

    /// Evaluated sign-in failures per day for one key under ``SignInThrottle``: `limit` in a
    /// burst, then the lock; when the window outlasts the lock, each guess after the lock
    /// relocks at once until the window has passed. An upper bound.
    static func signInPerDay(limit: Int, window: Int64, lockout: Int64) -> Double {
        let period = Double(max(window, lockout))
        let perPeriod = Double(limit) + (window > lockout ? (Double(window) / Double(max(lockout, 1))).rounded(.up) : 0)
        return (day / period).rounded(.up) * perPeriod
    }

    /// The report for the given settings (the built-in defaults unless told otherwise).
    public init(signIn: SignInThrottle = SignInThrottle(), activation: AgentActivation.GuessLimits = .init(),
                operatorSettings: OperatorSettings = .default, onboarding: OnboardingSettings = OnboardingSettings(),
                liveActivationTokens: Double = 1_000, liveRegistrationCodes: Double = 1_000, attackerAddresses: Double = 1_000) {
        let tokenAlphabet = Double(operatorSettings.tokenAlphabet.count)
        let tokenSpace = pow(tokenAlphabet, Double(operatorSettings.tokenLength))
        let activationWindow = activation.windowMinutes * 60
        let tokenPerOperator = Self.perDay(limit: activation.perOperator, windowSeconds: activationWindow)
        let tokenRow = Row(
            secret: "activation token", shape: "\(Int(tokenAlphabet))^\(operatorSettings.tokenLength)", space: tokenSpace,
            perAddressPerDay: Self.perDay(limit: activation.perAddress, windowSeconds: activationWindow), perTargetPerDay: tokenPerOperator,
            target: "operator", validity: operatorSettings.tokenValidity == 0 ? "until used (no expiry by default)" : "\(operatorSettings.tokenValidity) s, single use",
            live: liveActivationTokens, addresses: attackerAddresses, chancePerDay: min(1, tokenPerOperator * liveActivationTokens / tokenSpace),
            note: "past either limit redemptions answer 429 until the \(activation.windowMinutes)-minute window moves on")

        let codeSpace = pow(16.0, Double(2 * Onboarding.registrationCodeBytes))
        let codeWindow = onboarding.guessWindowMinutes * 60
        let codePerAddress = Self.perDay(limit: onboarding.guessesPerAddress, windowSeconds: codeWindow)
        let codeRow = Row(
            secret: "registration code", shape: "16^\(2 * Onboarding.registrationCodeBytes)", space: codeSpace, perAddressPerDay: codePerAddress,
            perTargetPerDay: nil, target: "account", validity: "\(onboarding.registrationCodeLifetime) s, single use",
            live: liveRegistrationCodes, addresses: attackerAddresses,
            chancePerDay: min(1, codePerAddress * attackerAddresses * liveRegistrationCodes / codeSpace),
            note: "each guess must also carry a valid signature of an application's key (or a CU version open to unsigned onboarding)")

        let passwordSpace = pow(95.0, 8.0)
        let perUser = Self.signInPerDay(limit: signIn.perUsername, window: signIn.window, lockout: signIn.lockout)
        let perAddress = Self.signInPerDay(limit: signIn.perAddress, window: signIn.window, lockout: signIn.lockout)
        let passwordRow = Row(
            secret: "user password", shape: "95^8 (shortest allowed, if random)", space: passwordSpace, perAddressPerDay: perAddress,
            perTargetPerDay: perUser, target: "user name", validity: "until changed", live: 1, addresses: attackerAddresses,
            chancePerDay: min(1, perUser / passwordSpace),
            note: "a human-chosen password is as strong as the attacker's best \(Self.format(perUser)) guesses a day")
        rows = [tokenRow, codeRow, passwordRow]
    }

    /// A number for people: grouped digits, or scientific notation when very large or small.
    static func format(_ value: Double) -> String {
        if value >= 1e9 { return String(format: "%.2e", value) }
        if value >= 1 || value == 0 {
            let formatter = NumberFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.numberStyle = .decimal
            formatter.usesGroupingSeparator = true
            formatter.groupingSeparator = ","
            formatter.maximumFractionDigits = 0
            return formatter.string(from: NSNumber(value: value)) ?? String(value)
        }
        return String(format: "%.1e", value)
    }

    /// The report as Markdown: a table and how to read it.
    public var markdown: String {
        var lines = [
            "| secret | space | guesses per day per address | guesses per day per target | validity | best chance per day |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows {
            let target = row.perTargetPerDay.map { "\(Self.format($0)) per \(row.target)" } ?? "no limit (a guess is not aimed at one \(row.target))"
            let assumption = row.perTargetPerDay == nil
                ? "\(Self.format(row.live)) live, \(Self.format(row.addresses)) addresses"
                : (row.live == 1 ? "one target" : "\(Self.format(row.live)) live")
            lines.append("| \(row.secret) | \(row.shape) = \(Self.format(row.space)) | \(Self.format(row.perAddressPerDay)) | \(target) | \(row.validity) "
                         + "| \(Self.format(row.chancePerDay)) = \(String(format: "%.2g", row.chancePerDay * 100)) % (\(assumption)) |")
        }
        lines.append("")
        for row in rows { lines.append("- **\(row.secret)**: \(row.note).") }
        return lines.joined(separator: "\n") + "\n"
    }
}
