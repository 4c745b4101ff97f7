import HTTPTypes

/// The (method, path pattern) pairs the router serves: answers 405 with `Allow`, and lets
/// the OpenAPI test compare the router with the document.
public struct RouteTable: Sendable {
    public struct Route: Sendable, Hashable {
        public let method: HTTPRequest.Method
        /// Path pattern with `{name}` parameters, as in the OpenAPI document.
        public let path: String
    }

    public let routes: [Route]

    /// Builds the table from the router's `"/a/:id"` style paths.
    init(_ pairs: [(HTTPRequest.Method, String)]) {
        routes = pairs.map { method, path in
            let segments = path.split(separator: "/").map { segment in
                segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
            }
            return Route(method: method, path: "/" + segments.joined(separator: "/"))
        }
    }

    /// The methods routed for a concrete request path.
    func methods(for path: String) -> Set<HTTPRequest.Method> {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var methods = Set<HTTPRequest.Method>()
        for route in routes {
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: true)
            guard pattern.count == parts.count else { continue }
            if zip(pattern, parts).allSatisfy({ $0.hasPrefix("{") || $0 == $1 }) { methods.insert(route.method) }
        }
        return methods
    }
}
