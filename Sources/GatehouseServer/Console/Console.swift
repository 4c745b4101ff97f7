import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The console's fixed parts: its Mustache templates and static files (bundled resources
/// under `Resources/Console`), how its cookies are made, and how a page becomes a response.
///
/// Every answer carries a Content-Security-Policy that lets a page load only what Gatehouse
/// itself serves (`'self'`): no inline script or style, nothing from another host, no framing.
struct Console: Sendable {
    /// The templates by name (`sign-in`, `devices`, …; the file name without `.mustache`).
    let library: MustacheLibrary
    /// Static files by name (`console.css`, `console.js`): content type and bytes.
    let files: [String: (type: String, body: ByteBuffer)]
    /// Whether cookies are `Secure` (and the session cookie `__Host-` prefixed): the console
    /// is served over TLS, as `--public-url https://…` declares.
    let secure: Bool
    /// The origin browsers send for the console's own forms, from `--public-url`; nil when
    /// not configured (then the request's `Host` is the origin).
    let publicOrigin: String?
    /// How long a console session lives, in seconds (the /v1 session lifetime).
    let sessionLifetime: Int64

    /// The session cookie's name.
    var sessionCookie: String { secure ? "__Host-gatehouse-console" : "gatehouse-console" }
    /// The sign-in form's cookie (the CSRF secret before there is a session).
    var signInCookie: String { secure ? "__Host-gatehouse-sign-in" : "gatehouse-sign-in" }

    /// Loads the bundled templates and files; a broken resource is a build error that the
    /// console's tests catch, and is reported by every page as a 500 (the rest of Gatehouse runs on).
    init(configuration: GatehouseConfiguration) throws {
        var library = MustacheLibrary()
        var files: [String: (type: String, body: ByteBuffer)] = [:]
        guard let root = Bundle.module.url(forResource: "Console", withExtension: nil) else {
            throw GatehouseError(.internal, "the console's resources are missing from the bundle")
        }
        let manager = FileManager.default
        for name in try manager.contentsOfDirectory(atPath: root.appendingPathComponent("templates").path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: root.appendingPathComponent("templates/\(name)"), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        for name in try manager.contentsOfDirectory(atPath: root.appendingPathComponent("static").path) {
            let data = try Data(contentsOf: root.appendingPathComponent("static/\(name)"))
            let type = name.hasSuffix(".css") ? "text/css; charset=utf-8"
                : name.hasSuffix(".js") ? "text/javascript; charset=utf-8"
                : name.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
            files[name] = (type, ByteBuffer(bytes: data))
        }
        self.library = library
        self.files = files
        let url = configuration.publicURL.flatMap { URL(string: $0) }
        self.secure = url?.scheme?.lowercased() == "https"
        if let url, let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() {
            let defaultPort = scheme == "https" ? 443 : 80
            self.publicOrigin = "\(scheme)://\(host)" + (url.port.map { $0 == defaultPort ? "" : ":\($0)" } ?? "")
        } else {
            self.publicOrigin = nil
        }
        self.sessionLifetime = configuration.sessionLifetime
    }

    /// The policy of every console answer: only Gatehouse's own scripts, styles, images and
    /// form targets; no plugins, no framing, no `<base>`.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Headers of every console page: HTML, never cached, never framed, nothing from elsewhere.
    static var pageHeaders: HTTPFields {
        [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: contentSecurityPolicy,
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "same-origin",
        ]
    }

    /// `template` rendered with `model` as a page answer with `status`; `cookies` are added as
    /// `Set-Cookie` headers. A missing template is an internal error.
    func render(_ template: String, _ model: Any, status: HTTPResponse.Status = .ok, cookies: [String] = []) throws -> Response {
        guard let html = library.render(model, withTemplate: template) else {
            throw GatehouseError(.internal, "console template \(template) is missing")
        }
        var headers = Self.pageHeaders
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// 303 See Other to a console path (after a form, or to the sign-in page).
    static func redirect(to location: String, cookies: [String] = []) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store", .contentSecurityPolicy: contentSecurityPolicy]
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, `Path=/`, `Secure` under TLS;
    /// `maxAge` 0 deletes the cookie.
    func cookie(_ name: String, _ value: String, maxAge: Int64) -> String {
        var text = "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
        if secure { text += "; Secure" }
        return text
    }
}
