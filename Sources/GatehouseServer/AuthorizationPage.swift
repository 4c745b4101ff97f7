import GatehouseCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The pages of the authorization redirect (seed 004): a small self-contained sign-in form
/// (no scripts, no external assets) and the error page of a request that cannot be redirected.
/// Everything echoed is HTML-escaped.
enum AuthorizationPage {
    /// What the form shows and sends back.
    struct Form {
        let applicationId: String
        let applicationName: String
        let responseType: AuthorizationResponseType
        let state: String
        let redirectURI: String
        var email: String = ""
        var message: String?
    }

    /// Headers of every page: no caching, no framing, nothing loaded from anywhere.
    static var headers: HTTPFields {
        [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ]
    }

    /// The sign-in form with `status` (200 at first, 401 after a wrong password).
    static func form(_ form: Form, status: HTTPResponse.Status = .ok) -> Response {
        let name = escape(form.applicationName)
        let purpose = form.responseType == .onboard
            ? "<strong>\(name)</strong> asks to connect to your account: it receives your account's id and a registration code to onboard with."
            : "<strong>\(name)</strong> asks to confirm which account you use: it receives your account's id."
        var body = "<h1>Sign in to connect \(name)</h1>\n<p>\(purpose)</p>\n"
        if let message = form.message { body += "<p class=\"error\" role=\"alert\">\(escape(message))</p>\n" }
        body += """
            <form method="post" action="/application/\(escape(form.applicationId))/authorize">
            <input type="hidden" name="response_type" value="\(escape(form.responseType.rawValue))">
            <input type="hidden" name="state" value="\(escape(form.state))">
            <input type="hidden" name="redirect_uri" value="\(escape(form.redirectURI))">
            <label for="email">E-mail</label>
            <input id="email" type="email" name="email" autocomplete="username" value="\(escape(form.email))" required>
            <label for="password">Password</label>
            <input id="password" type="password" name="password" autocomplete="current-password" required>
            <div class="buttons">
            <button type="submit" name="decision" value="allow">Allow</button>
            <button type="submit" name="decision" value="deny" formnovalidate class="secondary">Deny</button>
            </div>
            </form>
            <p class="note">Either way you go back to <code>\(escape(form.redirectURI))</code>.</p>

            """
        return page(title: "Sign in – \(form.applicationName)", body: body, status: status)
    }

    /// A request that cannot be redirected (unknown application, unregistered redirect URI,
    /// bad parameters) or another failure: the message on a page, never a redirect.
    static func error(_ error: GatehouseError, status: HTTPResponse.Status) -> Response {
        page(title: "Cannot continue", body: "<h1>Cannot continue</h1>\n<p class=\"error\" role=\"alert\">\(escape(error.message))</p>\n"
             + "<p class=\"note\">Go back to the application and start again.</p>\n", status: status)
    }

    /// 303 to `location` (a registered redirect URI with its parameters).
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer"])
    }

    static func page(title: String, body: String, status: HTTPResponse.Status) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>
            body { font: 16px/1.4 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
            main { max-width: 26rem; margin: 3rem auto; background: #fff; padding: 1.5rem 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
            h1 { font-size: 1.3rem; margin-top: 0; }
            label { display: block; margin-top: .8rem; font-weight: 600; }
            input[type=email], input[type=password] { box-sizing: border-box; width: 100%; padding: .5rem; margin-top: .2rem; font: inherit; }
            .buttons { display: flex; gap: .6rem; margin-top: 1.2rem; }
            button { flex: 1; padding: .6rem; font: inherit; border: 0; border-radius: 4px; background: #2b59c3; color: #fff; cursor: pointer; }
            button.secondary { background: #e3e6ec; color: #1d2330; }
            .error { color: #a11; }
            .note { color: #5a6170; font-size: .85rem; overflow-wrap: anywhere; }
            </style>
            </head>
            <body>
            <main>
            \(body)</main>
            </body>
            </html>

            """
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// `text` safe inside HTML elements and double- or single-quoted attributes.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
