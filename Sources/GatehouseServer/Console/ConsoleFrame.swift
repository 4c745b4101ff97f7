import GatehouseCore

/// What the layout (`layout.mustache`) shows around every page: the title, the signed-in
/// user with the navigation and the sign-out form, and a one-line notice.
///
/// Every page model has a `frame` property of this type; page templates extend the layout
/// with `{{<layout}}{{$content}}…{{/content}}{{/layout}}`.
struct ConsoleFrame: Sendable {
    struct NavItem: Sendable {
        let label: String
        let href: String
        let current: Bool
    }

    /// The signed-in user as the header shows it.
    struct SignedIn: Sendable {
        let email: String
        let node: String
        let nav: [NavItem]
        /// The session's form token, for the sign-out form.
        let csrf: String
    }

    let title: String
    let user: SignedIn?
    let notice: String?

    /// The frame of a page for a signed-in user; `path` marks the current navigation entry.
    init(title: String, session: ConsoleSession, path: String, notice: String? = nil) {
        self.title = title
        self.user = SignedIn(email: session.user.email, node: session.tenant.name,
                             nav: ConsoleNavigation.items(for: session).map { NavItem(label: $0.label, href: $0.href, current: $0.href == path) },
                             csrf: session.csrf)
        self.notice = notice
    }

    /// The frame of a page nobody is signed in to (sign-in, errors).
    init(title: String, notice: String? = nil) {
        self.title = title
        self.user = nil
        self.notice = notice
    }
}

/// The console's main navigation: which sections a signed-in user sees.
///
/// To add a section, add an entry to ``ConsoleNavigation/sections``: its label and the
/// link for a session (nil hides it from that user, e.g. from users of an account).
enum ConsoleNavigation {
    struct Section: Sendable {
        let label: String
        let href: @Sendable (ConsoleSession) -> String?
    }

    static let sections: [Section] = [
        Section(label: "Devices") { session in
            session.tenant.kind == .account ? ConsolePaths.devices(account: session.tenant.id) : nil
        },
        Section(label: "Accounts") { session in
            session.tenant.kind.isDealer ? ConsolePaths.dealerAccounts : nil
        },
        Section(label: "Audit log") { session in
            session.tenant.kind.isDealer && session.user.permissions.contains(.readAudit) ? ConsolePaths.audit : nil
        },
        Section(label: "Tenant tree") { session in
            session.tenant.kind == .platform && session.user.permissions.contains(.manageTenants) ? ConsolePaths.tenants : nil
        },
        Section(label: "Organizations") { session in
            session.tenant.kind == .platform && session.user.permissions.contains(.manageTenants) ? ConsolePaths.organizations : nil
        },
        Section(label: "Webhooks") { session in
            session.tenant.kind == .platform && session.user.permissions.contains(.manageTenants) ? ConsolePaths.webhooks : nil
        },
        Section(label: "Certificates") { session in
            session.tenant.kind == .platform && session.user.permissions.contains(.manageTenants) ? ConsolePaths.certificates : nil
        },
        Section(label: "Models") { session in
            session.vendor != nil ? ConsolePaths.vendorModels(session.tenant.id) : nil
        },
        Section(label: "Applications") { session in
            session.tenant.kind.isDealer && session.user.permissions.contains(.manageClients) ? ConsolePaths.applications : nil
        },
    ]

    /// The sections `session` sees, with their links.
    static func items(for session: ConsoleSession) -> [(label: String, href: String)] {
        sections.compactMap { section in section.href(session).map { (section.label, $0) } }
    }
}

/// The console's paths, in one place so that links and routes agree.
enum ConsolePaths {
    static let root = "/console"
    static let signIn = "/console/sign-in"
    static let signOut = "/console/sign-out"
    static let qr = "/console/qr.png"
    static func account(_ id: Int64) -> String { "/console/accounts/\(id)" }
    static func devices(account: Int64) -> String { "/console/accounts/\(account)/devices" }
}
