import Foundation
import GatehouseCore
@testable import GatehouseAgent
import Logging
import Testing

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-agent-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

@Suite("The agent's durable state file")
struct DurableStateTests {
    static let credentials = AgentCredentials(agentId: 7, agentKey: "gak_secret", watcherURL: "http://watcher", serverStatus: "active",
                                              cameraName: "front-door", operatorId: 44, token: "MURAELYI", activatedAt: 1_700_000_000)

    @Test func writesReplacesAndReadsBack() throws {
        let directory = try temporaryDirectory()
        let file = DurableFile(directory: directory, name: "x.json")
        #expect(try file.read() == nil)
        try file.write(Data("first".utf8))
        #expect(try file.read() == Data("first".utf8))
        try file.write(Data("second, longer".utf8))
        #expect(try file.read() == Data("second, longer".utf8))
        try file.write(Data())
        #expect(try file.read() == Data())
        #expect(try mode(file.path) == 0o600)
        // Nothing but the file itself is left in the directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["x.json"])
    }

    @Test func isWrittenOwnerOnlyWhateverTheUmask() throws {
        let directory = try temporaryDirectory()
        let old = umask(0)
        defer { umask(old) }
        let file = DurableFile(directory: directory, name: "x.json")
        try file.write(Data("a".utf8))
        #expect(try mode(file.path) == 0o600)
    }

    @Test func stateRoundTripsAndTornTemporariesAreIgnored() throws {
        let directory = try temporaryDirectory()
        let stateFile = AgentStateFile(directory: directory)
        #expect(try stateFile.load().state == AgentState())
        let state = AgentState(credentials: Self.credentials, pending: PendingActivation(operatorId: 44, token: "NEXTTOKN", abonentId: "a@b.c"))
        try stateFile.save(state)
        // A power cut in the middle of the next write leaves a torn temporary file beside the state.
        let torn = directory + "/state.json.tmp-123-456"
        try Data(#"{"credentials":{"agent_id":8,"agent_k"#.utf8).write(to: URL(fileURLWithPath: torn))
        let loaded = try stateFile.load()
        #expect(loaded.state == state)
        #expect(loaded.removedTemporaries == ["state.json.tmp-123-456"])
        #expect(!FileManager.default.fileExists(atPath: torn))
        #expect(loaded.movedAside == nil)
        #expect(try mode(directory + "/state.json") == 0o600)
    }

    @Test func aCorruptStateFileIsMovedAsideNotDeleted() throws {
        let directory = try temporaryDirectory()
        try Data("not json".utf8).write(to: URL(fileURLWithPath: directory + "/state.json"))
        let loaded = try AgentStateFile(directory: directory).load()
        #expect(loaded.state == AgentState())
        let aside = try #require(loaded.movedAside)
        #expect(try String(contentsOfFile: directory + "/" + aside, encoding: .utf8) == "not json")
        #expect(!FileManager.default.fileExists(atPath: directory + "/state.json"))
    }

    @Test func aFailedWriteKeepsTheOldFile() throws {
        let directory = try temporaryDirectory()
        let file = DurableFile(directory: directory, name: "x.json")
        try file.write(Data("kept".utf8))
        chmod(directory, 0o500)
        defer { chmod(directory, 0o700) }
        // Root may write anyway; the point is that either way the file holds whole contents.
        let failed = (try? file.write(Data("new".utf8))) == nil
        #expect(try file.read() == Data((failed ? "kept" : "new").utf8))
    }

    @Test func theLockIsExclusive() throws {
        let directory = try temporaryDirectory()
        let first = try StateDirectoryLock.acquire(directory: directory)
        #expect(throws: StateDirectoryLockError.self) { _ = try StateDirectoryLock.acquire(directory: directory) }
        do {
            _ = try StateDirectoryLock.acquire(directory: directory)
        } catch let error as StateDirectoryLockError {
            #expect(error.description.contains("pid \(getpid())") && error.description.contains(directory))
        }
        withExtendedLifetime(first) {}
        _ = consume first
        // Released with its holder.
        _ = try StateDirectoryLock.acquire(directory: directory)
    }
}

@Suite("Backoff, QR payloads and the agent's local input")
struct AgentInputTests {
    @Test func backoffDoublesUpToTheCapWithFullJitter() {
        let backoff = Backoff(baseMilliseconds: 100, capMilliseconds: 1_000)
        #expect((0..<6).map { backoff.ceilingMilliseconds(attempt: $0) } == [100, 200, 400, 800, 1_000, 1_000])
        #expect(backoff.ceilingMilliseconds(attempt: 10_000) == 1_000)
        #expect(Backoff(baseMilliseconds: 500, capMilliseconds: 30_000).ceilingMilliseconds(attempt: 63) == 30_000)
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in backoff.delayMilliseconds(attempt: 3, using: &generator) }
        #expect(delays.allSatisfy { (0...800).contains($0) })
        #expect(Set(delays).count > 20, "full jitter spreads the waits")
        #expect(delays.contains { $0 < 400 } && delays.contains { $0 >= 400 })
    }

    @Test func simulateTokensFiles() throws {
        #expect(try AgentSimulator.parseTokens("# codes\n12:ABC\n\n  DEF  \r\n", operatorId: 7)
                == [PendingActivation(operatorId: 12, token: "ABC"), PendingActivation(operatorId: 7, token: "DEF")])
        #expect(throws: QRPayloadError.self) { try AgentSimulator.parseTokens("DEF", operatorId: nil) }
        for bad in ["x:ABC", "0:ABC", "12:", "12:A B"] {
            #expect(throws: QRPayloadError.self, "\(bad)") { try AgentSimulator.parseTokens(bad, operatorId: 7) }
        }
    }

    @Test func qrPayloads() throws {
        #expect(try QRPayload.parse("Home\nwifi pass\n44766:MURAELYI") == QRPayload(ssid: "Home", password: "wifi pass", operatorId: 44766, token: "MURAELYI"))
        #expect(try QRPayload.parse("Home\r\n\r\n12:TOKEN\r\n") == QRPayload(ssid: "Home", password: "", operatorId: 12, token: "TOKEN"))
        for bad in ["Home\npass", "Home\npass\n44766", "Home\npass\nabc:TOKEN", "Home\npass\n0:TOKEN", "Home\npass\n12:", "a\nb\n1:T\nextra", "a\nb\n1:T K"] {
            #expect(throws: QRPayloadError.self, "\(bad)") { try QRPayload.parse(bad) }
        }
    }

    @Test func contentTypes() {
        for good in ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded;charset=UTF-8",
                     "Application/X-WWW-Form-Urlencoded; charset=utf-8", "application/x-www-form-urlencoded; charset=\"UTF-8\""] {
            #expect(AgentLocalAPI.isUTF8Form(good), "\(good)")
        }
        for bad in ["application/json", "text/plain", "application/x-www-form-urlencoded;charset=ISO-8859-1", "multipart/form-data; boundary=x", ""] {
            #expect(!AgentLocalAPI.isUTF8Form(bad), "\(bad)")
        }
    }

    @Test func serverAnswers() {
        let granted = ActivationClient.outcome(status: 200, body: Data(#"{"agent_id":3,"agent_key":"gak_x","watcher_url":"http://w","status":"active","camera_name":"cam"}"#.utf8))
        #expect(granted == .granted(ActivationGrant(agentId: 3, agentKey: "gak_x", watcherURL: "http://w", status: "active", cameraName: "cam")))
        #expect(ActivationClient.outcome(status: 401, body: Data(#"{"error":{"code":"unauthenticated","message":"no"}}"#.utf8))
            == .refused(status: 401, code: "unauthenticated", message: "no"))
        #expect(ActivationClient.outcome(status: 409, body: Data()) == .refused(status: 409, code: nil, message: nil))
        for status in [500, 502, 503, 408, 429] {
            #expect(ActivationClient.outcome(status: status, body: Data()) == .unavailable(reason: "the server answered \(status)"))
        }
        if case .unavailable = ActivationClient.outcome(status: 200, body: Data("garbage".utf8)) {} else { Issue.record("a 200 without credentials is retried") }
        #expect(FormEncoding.encode([("a b", "x&y=z"), ("t", "Ä")]) == "a%20b=x%26y%3Dz&t=%C3%84")
        #expect(FormEncoding.parse("a=1&b=two+words&c=%C3%84")!.map { "\($0.0)=\($0.1)" } == ["a=1", "b=two words", "c=Ä"])
        #expect(FormEncoding.parse("a=%zz") == nil)
    }
}

/// An activation server that answers from a script.
actor ScriptedTransport: ActivationTransport {
    var answers: [ActivationOutcome]
    var calls: [(operatorId: Int64, token: String?, serial: String)] = []
    var checkIns: [CheckInOutcome]
    var checkInCalls: [(agentId: Int64, agentKey: String)] = []
    init(_ answers: [ActivationOutcome], checkIns: [CheckInOutcome] = [.alive(status: "active")]) {
        self.answers = answers
        self.checkIns = checkIns
    }
    func activate(operatorId: Int64, token: String?, serial: String, version: String) async -> ActivationOutcome {
        calls.append((operatorId, token, serial))
        return answers.count > 1 ? answers.removeFirst() : answers[0]
    }
    func checkIn(agentId: Int64, agentKey: String, version: String) async -> CheckInOutcome {
        checkInCalls.append((agentId, agentKey))
        return checkIns.count > 1 ? checkIns.removeFirst() : checkIns[0]
    }
    func setCheckIns(_ outcomes: [CheckInOutcome]) { checkIns = outcomes }
    var callCount: Int { calls.count }
}

@Suite("The agent's activation state machine")
struct DeviceAgentTests {
    static let grant = ActivationGrant(agentId: 9, agentKey: "gak_key", watcherURL: "http://w", status: "active", cameraName: "cam")

    static func agent(_ transport: ScriptedTransport, directory: String, operatorId: Int64? = nil, heartbeat: Duration? = nil) throws -> DeviceAgent {
        let file = AgentStateFile(directory: directory)
        return DeviceAgent(serial: "SN-1", version: "v1", builtInOperatorId: operatorId, stateFile: file, state: try file.load().state,
                           transport: transport, backoff: Backoff(baseMilliseconds: 1, capMilliseconds: 5), logger: Logger(label: "test"),
                           heartbeatInterval: heartbeat)
    }

    @Test func checkInAnswers() {
        #expect(ActivationClient.checkInOutcome(status: 200, body: Data(#"{"agent_id":3,"status":"active","last_seen":1}"#.utf8)) == .alive(status: "active"))
        #expect(ActivationClient.checkInOutcome(status: 410, body: Data(#"{"agent_id":3,"status":"deactivated"}"#.utf8)) == .deactivated)
        #expect(ActivationClient.checkInOutcome(status: 401, body: Data(#"{"error":{"code":"unauthenticated"}}"#.utf8)) == .refused(status: 401, code: "unauthenticated"))
        for status in [403, 404] { #expect(ActivationClient.checkInOutcome(status: status, body: Data()) == .refused(status: status, code: nil)) }
        for status in [500, 502, 503, 408, 429] {
            #expect(ActivationClient.checkInOutcome(status: status, body: Data()) == .unavailable(reason: "the server answered \(status)"))
        }
    }

    @Test func onlyA410WipesTheCredentials() async throws {
        let directory = try temporaryDirectory()
        let transport = ScriptedTransport([.granted(Self.grant)], checkIns: [
            .alive(status: "active"), .unavailable(reason: "connection refused"), .unavailable(reason: "the server answered 503"),
            .refused(status: 401, code: "unauthenticated"), .deactivated])
        let agent = try Self.agent(transport, directory: directory)
        // No credentials: nothing to check in with.
        #expect(await agent.checkIn() == nil)
        try await agent.submit(PendingActivation(operatorId: 4, token: "TOKEN"))
        await agent.waitUntilIdle()
        for expected: CheckInOutcome in [.alive(status: "active"), .unavailable(reason: "connection refused"), .unavailable(reason: "the server answered 503"),
                                         .refused(status: 401, code: "unauthenticated")] {
            #expect(await agent.checkIn() == expected)
            #expect(await agent.status == .activate)
            #expect(try AgentStateFile(directory: directory).load().state.credentials?.agentKey == "gak_key")
        }
        #expect(await transport.checkInCalls.allSatisfy { $0.agentId == 9 && $0.agentKey == "gak_key" })
        #expect(await agent.checkIn() == .deactivated)
        #expect(await agent.status == .waitActivate)
        let stored = try AgentStateFile(directory: directory).load().state
        #expect(stored == AgentState())
        // No built-in operator id: it waits for /activate or a QR code.
        await agent.waitUntilIdle()
        #expect(await transport.callCount == 1)
        #expect(await agent.checkIn() == nil)
        let text = try String(contentsOfFile: directory + "/state.json", encoding: .utf8)
        #expect(!text.contains("gak_key"))
    }

    @Test func deactivatedWithABuiltInOperatorItActivatesAgain() async throws {
        let directory = try temporaryDirectory()
        let second = ActivationGrant(agentId: 10, agentKey: "gak_new", watcherURL: "http://w", status: "unassigned", cameraName: nil)
        let transport = ScriptedTransport([.granted(Self.grant), .unavailable(reason: "503"), .granted(second)], checkIns: [.deactivated, .alive(status: "unassigned")])
        let agent = try Self.agent(transport, directory: directory, operatorId: 77, heartbeat: .milliseconds(20))
        try await agent.submit(PendingActivation(operatorId: 4, token: "TOKEN"))
        await agent.waitUntilIdle()
        await agent.startHeartbeat()
        let deadline = ContinuousClock.now + .seconds(10)
        while await agent.credentials?.agentId != 10, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await agent.waitUntilIdle()
        #expect(await agent.status == .activate)
        #expect(await transport.calls.map(\.operatorId) == [4, 77, 77])
        #expect(await transport.calls.last?.token == nil)
        let stored = try AgentStateFile(directory: directory).load().state
        #expect(stored.credentials?.agentKey == "gak_new" && stored.credentials?.serverStatus == "unassigned" && stored.pending == nil)
        // The heartbeat carries on with the new key.
        while await transport.checkInCalls.count < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await agent.stop()
        #expect(await transport.checkInCalls.first?.agentKey == "gak_key")
        #expect(await transport.checkInCalls.dropFirst().allSatisfy { $0.agentKey == "gak_new" })
    }

    @Test func theHeartbeatKeepsCredentialsWhileTheServerIsAway() async throws {
        let directory = try temporaryDirectory()
        let transport = ScriptedTransport([.granted(Self.grant)], checkIns: [.unavailable(reason: "connection refused")])
        let agent = try Self.agent(transport, directory: directory, operatorId: 77, heartbeat: .milliseconds(10))
        try await agent.submit(PendingActivation(operatorId: 4, token: "TOKEN"))
        await agent.waitUntilIdle()
        await agent.startHeartbeat()
        // Several failed check-ins in a row (a busy machine may run the 10 ms beats late).
        let deadline = ContinuousClock.now + .seconds(30)
        while await transport.checkInCalls.count < 5, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        await agent.stop()
        #expect(await transport.checkInCalls.count >= 5)
        #expect(await agent.status == .activate)
        #expect(await transport.callCount == 1)
        #expect(try AgentStateFile(directory: directory).load().state.credentials?.agentKey == "gak_key")
    }

    @Test func retriesWhileTheServerIsAwayThenActivates() async throws {
        let directory = try temporaryDirectory()
        let transport = ScriptedTransport([.unavailable(reason: "refused"), .unavailable(reason: "503"), .unavailable(reason: "503"), .granted(Self.grant)])
        let agent = try Self.agent(transport, directory: directory)
        #expect(await agent.status == .waitActivate)
        try await agent.submit(PendingActivation(operatorId: 4, token: "TOKEN"))
        // Held in the state file before the server is called.
        #expect(try AgentStateFile(directory: directory).load().state.pending == PendingActivation(operatorId: 4, token: "TOKEN"))
        await agent.waitUntilIdle()
        #expect(await agent.status == .activate)
        #expect(await transport.callCount == 4)
        let stored = try AgentStateFile(directory: directory).load().state
        #expect(stored.pending == nil && stored.credentials?.agentKey == "gak_key" && stored.credentials?.token == "TOKEN")
    }

    @Test func aRefusalIsNotRetriedAndKeepsCredentials() async throws {
        let directory = try temporaryDirectory()
        let transport = ScriptedTransport([.granted(Self.grant), .refused(status: 401, code: "unauthenticated", message: nil)])
        let agent = try Self.agent(transport, directory: directory)
        try await agent.submit(PendingActivation(operatorId: 4, token: "BAD"))
        await agent.waitUntilIdle()
        #expect(await agent.status == .activate)
        try await agent.submit(PendingActivation(operatorId: 4, token: "BADTOO"))
        await agent.waitUntilIdle()
        #expect(await transport.callCount == 2)
        #expect(await agent.status == .activate)
        let stored = try AgentStateFile(directory: directory).load().state
        #expect(stored.pending == nil && stored.credentials?.agentKey == "gak_key")
        // Asked again with the token it holds: nothing to do.
        try await agent.submit(PendingActivation(operatorId: 4, token: "BAD"))
        await agent.waitUntilIdle()
        #expect(await transport.callCount == 2)
    }

    @Test func aRestartCarriesOnWithThePendingActivationOrTheBuiltInOperator() async throws {
        let directory = try temporaryDirectory()
        try AgentStateFile(directory: directory).save(AgentState(pending: PendingActivation(operatorId: 5, token: "HALFWAY")))
        let transport = ScriptedTransport([.granted(Self.grant)])
        let agent = try Self.agent(transport, directory: directory, operatorId: 77)
        try await agent.start()
        await agent.waitUntilIdle()
        #expect(await transport.calls.map(\.token) == ["HALFWAY"])
        #expect(await agent.credentials?.operatorId == 5)
        // Restarted again with credentials: nothing is called.
        let again = try Self.agent(transport, directory: directory, operatorId: 77)
        try await again.start()
        await again.waitUntilIdle()
        #expect(await transport.callCount == 1)
        #expect(await again.status == .activate)
        // A fresh agent with a built-in operator id activates by it alone.
        let fresh = try Self.agent(transport, directory: try temporaryDirectory(), operatorId: 77)
        try await fresh.start()
        await fresh.waitUntilIdle()
        let last = await transport.calls.last
        #expect(last?.operatorId == 77 && last?.token == nil)
        #expect(await fresh.status == .activate)
    }
}
