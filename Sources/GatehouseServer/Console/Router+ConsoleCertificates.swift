import GatehouseCore
import HTTPTypes
import Hummingbird

extension GatehouseApp {
    /// The platform operator's certificate pages (issue 10, point 4): the certificates the
    /// authority issued (super-admin client certificates of `gatehouse cert issue`, endpoint
    /// certificates of signed onboarding) with revoke, through `CertificateRegistry` with the
    /// signed-in user as the caller (the platform operator only, as `gatehouse cert list` /
    /// `revoke` on the server's own machine). A revoked certificate is refused at its next TLS
    /// handshake and listed on `/pki/crl`.
    func addConsoleCertificatePages(_ routes: ConsoleRoutes) {
        let console = routes.console
        let registry = CertificateRegistry(store: store, clock: configuration.clock)
        routes.page(RouterPath(ConsolePaths.certificates)) { request, _, session in
            let cursor = request.uri.queryParameters["cursor"].map(String.init)
            let page = try await registry.certificates(session.caller, cursor: cursor)
            var notice: String?
            if request.uri.queryParameters["done"] == "revoked", let serial = request.uri.queryParameters["serial"].flatMap({ CertificateRegistry.serial(String($0)) }) {
                notice = "Certificate \(serial) revoked. It is refused from now on and listed on the revocation list."
            }
            let now = configuration.clock.now()
            let rows = page.items.map { certificate in
                ConsoleCertificatesPage.Row(
                    serial: certificate.serial, subject: certificate.subject, kind: Self.consoleCertificateKinds[certificate.purpose] ?? certificate.purpose,
                    issued: ConsoleTime(certificate.createdAt), notAfter: ConsoleTime(certificate.notAfter),
                    status: certificate.revokedAt != nil ? "revoked" : certificate.notAfter <= now ? "expired" : "valid",
                    revoked: ConsoleTime(ifSet: certificate.revokedAt), revocable: certificate.revokedAt == nil,
                    revokeAction: ConsolePaths.certificates + "/\(certificate.serial)/revoke")
            }
            let model = ConsoleCertificatesPage(
                frame: ConsoleFrame(title: "Certificates", session: session, path: ConsolePaths.certificates, notice: notice), csrf: session.csrf,
                certificates: rows, nextHref: page.nextCursor.map { ConsolePaths.certificates + "?cursor=" + $0 }, crlHref: "/pki/crl")
            return try console.render("certificates", model)
        }
        routes.action("/console/operator/certificates/:serial/revoke") { _, context, session, _ in
            let revoked = try await registry.revoke(session.caller, serial: context.text("serial"))
            return Console.redirect(to: ConsolePaths.certificates + "?done=revoked&serial=" + revoked.serial)
        }
    }

    /// What each purpose of a certificate is, as the list shows it.
    static let consoleCertificateKinds: [String: String] = [
        "superadmin": "super-admin (admin listener)",
        "endpoint": "endpoint (REST gateway)",
        "server": "server",
        "device": "device",
    ]
}

extension ConsolePaths {
    static let certificates = "/console/operator/certificates"
}
