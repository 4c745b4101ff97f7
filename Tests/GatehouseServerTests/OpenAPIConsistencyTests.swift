import Foundation
import GatehouseServer
import Testing

/// The OpenAPI document describes exactly the routes the router serves.
@Suite("OpenAPI document")
struct OpenAPIConsistencyTests {
    /// (METHOD path) pairs under `paths:`: path keys at two spaces, methods at four.
    static func documentedRoutes(_ text: String) -> Set<String> {
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var routes = Set<String>()
        var inPaths = false
        var currentPath: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty {
                inPaths = line.hasPrefix("paths:")
                currentPath = nil
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   ") {
                currentPath = String(line.dropFirst(2).dropLast(line.hasSuffix(":") ? 1 : 0))
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path = currentPath {
                let key = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ":", with: "")
                if methods.contains(key) { routes.insert("\(key.uppercased()) \(path)") }
            }
        }
        return routes
    }

    @Test func documentAndRouterAgree() throws {
        let documented = Self.documentedRoutes(OpenAPIDocument.text)
        let served = Set(try gatehouseRoutes(TestApp().configuration).routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(!documented.isEmpty)
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }

    @Test func parserSeesAMissingRoute() {
        // The check above would notice a route missing from the document.
        let document = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      summary: x\n  /b/{id}:\n    delete:\n      summary: y\ncomponents:\n  /c:\n    get:\n"
        #expect(Self.documentedRoutes(document) == ["GET /a", "DELETE /b/{id}"])
    }
}
