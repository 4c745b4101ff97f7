import GatehouseCore

/// The model of `certificates.mustache`: the certificates Gatehouse's authority issued, newest
/// first, with a Revoke button for each one not yet revoked (issue 10, point 4).
struct ConsoleCertificatesPage: Sendable {
    struct Row: Sendable {
        let serial: String
        let subject: String
        let kind: String
        let issued: ConsoleTime
        let notAfter: ConsoleTime
        /// "valid", "expired" or "revoked".
        let status: String
        let revoked: ConsoleTime?
        let revocable: Bool
        let revokeAction: String
    }

    let frame: ConsoleFrame
    let csrf: String
    let certificates: [Row]
    let nextHref: String?
    let crlHref: String
}
