import AsyncHTTPClient
import Foundation
@testable import GatehouseAgent
import Hummingbird
import Logging
import NIOCore
import Testing

/// Counts the calls a stub activation server got.
actor CallLog {
    var bodies: [String] = []
    func add(_ body: String) -> Int {
        bodies.append(body)
        return bodies.count
    }
}

@Suite("The agent's HTTP client against a stub activation server")
struct ActivationClientTests {
    /// Runs a stub server whose activation endpoint answers `answer(n)` to its n-th call; gives `body` its port.
    static func withStub(_ answer: @escaping @Sendable (Int) -> (HTTPResponse.Status, String), log: CallLog,
                         _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post(RouterPath(ActivationClient.activatePath)) { request, _ in
            let bytes = try await request.body.collect(upTo: 16 * 1024)
            let count = await log.add(String(buffer: bytes))
            let (status, text) = answer(count)
            return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        try await StubServer.run(router) { port in
            try await body(port)
        }
    }

    @Test func fiveHundredsAreRetriedThenTheGrantIsStored() async throws {
        let log = CallLog()
        let grant = #"{"agent_id":12,"agent_key":"gak_stub","watcher_url":"http://watcher","status":"active","camera_name":"cam-1"}"#
        try await Self.withStub({ $0 <= 2 ? (.serviceUnavailable, #"{"error":{"code":"unavailable"}}"#) : (.ok, grant) }, log: log) { port in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let directory = try temporaryDirectory()
            let file = AgentStateFile(directory: directory)
            let agent = DeviceAgent(serial: "SN 1/ä", version: "v1", builtInOperatorId: nil, stateFile: file, state: AgentState(),
                                    transport: ActivationClient(http: http, serverURL: "http://127.0.0.1:\(port)/"),
                                    backoff: Backoff(baseMilliseconds: 1, capMilliseconds: 10), logger: Logger(label: "test"))
            try await agent.submit(PendingActivation(operatorId: 44, token: "TOK&EN"))
            await agent.waitUntilIdle()
            try await http.shutdown()
            #expect(await agent.status == .activate)
            #expect(try file.load().state.credentials?.agentKey == "gak_stub")
        }
        let bodies = await log.bodies
        #expect(bodies.count == 3)
        // A form with the operator id, the token, the serial and the version, escaped.
        #expect(bodies.first == "operator_id=44&token=TOK%26EN&serial=SN%201%2F%C3%A4&version=v1", "\(bodies)")
    }

    @Test func aFourHundredIsNotRetried() async throws {
        let log = CallLog()
        try await Self.withStub({ _ in (.unauthorized, #"{"error":{"code":"unauthenticated","message":"no such token"}}"#) }, log: log) { port in
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let client = ActivationClient(http: http, serverURL: "http://127.0.0.1:\(port)")
            let outcome = await client.activate(operatorId: 1, token: nil, serial: "S", version: "v")
            try await http.shutdown()
            #expect(outcome == .refused(status: 401, code: "unauthenticated", message: "no such token"))
        }
        #expect(await log.bodies == ["operator_id=1&serial=S&version=v"])
    }
}
