import Foundation
import GatehouseCore
import GatehouseStore
import Hummingbird

extension GatehouseApp {
    /// /healthz, /readyz, /metrics and /openapi.yaml.
    func addOperationRoutes(to router: Router<GatehouseRequestContext>) {
        router.get("/healthz") { _, _ in
            try JSON.response(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.database.ping() }
                    group.addTask {
                        try await Task.sleep(for: self.configuration.readinessTimeout)
                        throw GatehouseError(.unavailable, "the database did not answer in time")
                    }
                    try await group.next()
                    group.cancelAll()
                }
            } catch {
                throw GatehouseError(.unavailable, "the database is not reachable")
            }
            return try JSON.response(["status": "ready", "database": database.engine.rawValue])
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            MetricsRegistry.shared.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }
    }
}

/// The hand-written OpenAPI 3.1 document, shipped as a resource of this module.
public enum OpenAPIDocument {
    /// The document's text.
    public static let text: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
              let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "openapi: 3.1.0\n" }
        return text
    }()
}
