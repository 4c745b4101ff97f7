import AsyncHTTPClient
import Foundation
@testable import GatehouseAgent
import Hummingbird
import Logging
import NIOCore
import Testing

/// What the stub provisioning server saw.
actor ProvisionLog {
    var activations: [String] = []
    var requests: [String] = []
    func activated(_ body: String) -> Int {
        activations.append(body)
        return activations.count
    }
    func add(_ line: String) { requests.append(line) }
}

@Suite("The agent's serial mode against a stub provisioning server")
struct SerialAgentUnitTests {
    static let firstCIK = String(repeating: "1", count: 40)
    static let secondCIK = String(repeating: "2", count: 40)
    static let blob = Array("firmware image 1.0\n".utf8)

    /// Activation hands out `firstCIK`, then `secondCIK`; the first is refused (403) by the
    /// content list, as after a re-enable. One content item, `fw-1`.
    static func withStub(log: ProvisionLog, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/provision/activate") { request, _ in
            let form = String(buffer: try await request.body.collect(upTo: 4096))
            let count = await log.activated(form)
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: count == 1 ? firstCIK : secondCIK)))
        }
        router.get("/provision/download") { request, _ in
            let cik = request.headers.first { $0.name.canonicalName == "x-exosite-cik" }?.value ?? ""
            await log.add("\(request.uri.query ?? "") \(cik == firstCIK ? "first" : cik == secondCIK ? "second" : "none")")
            guard cik == secondCIK else { return Response(status: .forbidden) }
            let query = request.uri.queryParameters
            guard query["vendor"] == "acme", query["model"] == "cam 1" else { return Response(status: .forbidden) }
            guard let id = query["id"] else { return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "fw-1\nother"))) }
            guard id == "fw-1" else { return Response(status: .notFound) }
            if query["info"] == "true" {
                return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "application/x-firmware,\(blob.count),1700000000,1.0")))
            }
            return Response(status: .ok, headers: [.contentLength: String(blob.count)], body: ResponseBody(byteBuffer: ByteBuffer(bytes: blob)))
        }
        try await StubServer.run(router) { port in
            try await body(port)
        }
    }

    @Test func aRefusedCIKIsReplacedAndTheContentInstalledOnce() async throws {
        let log = ProvisionLog()
        try await Self.withStub(log: log) { port in
            let directory = try temporaryDirectory()
            let out = directory + "/received"
            var configuration = ProvisioningConfiguration(vendor: "acme", model: "cam 1", firmwareCommand: "f() { cp \"$1\" '\(out)'; exit 3; }; f")
            configuration.contentPrefix = "fw-"
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                let agent = try SerialAgent(serial: "SN 1", configuration: configuration, http: http, serverURL: "http://127.0.0.1:\(port)",
                                            stateDirectory: directory, backoff: Backoff(baseMilliseconds: 1, capMilliseconds: 5), logger: Logger(label: "test"))
                // Round 1: activates, the list refuses the CIK, which is dropped.
                #expect(await agent.round() == false)
                #expect(await agent.state.cik == nil)
                // Round 2: activates again and installs fw-1; the command exits 3, so it is not recorded.
                #expect(await agent.round() == true)
                #expect(await agent.state.cik == Self.secondCIK)
                #expect(await agent.state.installed.isEmpty)
                #expect(Array(try Data(contentsOf: URL(fileURLWithPath: out))) == Self.blob)
                // A command that succeeds records it; the next round downloads nothing.
                let agent2 = try SerialAgent(serial: "SN 1", configuration: ProvisioningConfiguration(vendor: "acme", model: "cam 1", firmwareCommand: "test -f"),
                                             http: http, serverURL: "http://127.0.0.1:\(port)", stateDirectory: directory,
                                             backoff: Backoff(baseMilliseconds: 1, capMilliseconds: 5), logger: Logger(label: "test"))
                #expect(await agent2.state.cik == Self.secondCIK, "the CIK survives a restart")
                #expect(await agent2.round() == true)
                #expect(await agent2.state.installed["fw-1"]?.size == Int64(Self.blob.count))
                let before = await log.requests.count
                #expect(await agent2.round() == true)
                let after = await log.requests
                #expect(after.count == before + 3, "list and one info per item, no download: \(after.suffix(3))")
                #expect(!after.suffix(3).contains { $0.contains("id=fw-1 ") && !$0.contains("info") })
                let mode = (try FileManager.default.attributesOfItem(atPath: directory + "/provision.json")[.posixPermissions] as? NSNumber)?.intValue
                #expect(mode == 0o600)
            } catch {
                try await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
        #expect(await log.activations == ["vendor=acme&model=cam%201&sn=SN%201", "vendor=acme&model=cam%201&sn=SN%201"])
    }
}
