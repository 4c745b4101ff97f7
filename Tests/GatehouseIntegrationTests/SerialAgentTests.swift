import Foundation
import GatehouseTestSupport
import Testing

/// `gatehouse agent --vendor --model` (issue 8, point 5: serial mode of seed 003) against a
/// real `gatehouse serve`: activation by `/provision/activate`, the CIK kept in a 0600 state
/// file and never logged, the content list polled, firmware downloaded and handed to the
/// firmware command byte for byte, nothing downloaded again after a restart, and a transfer
/// cut by SIGKILL resumed with a Range request to the exact bytes.
@Suite("The device agent in serial mode", .serialized)
struct SerialAgentTests {
    /// A deterministic image of `count` bytes (`salt` makes two images differ).
    static func image(_ count: Int, salt: Int) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: (($0 &+ salt) &* 2_654_435_761) >> 13) })
    }

    static func sha256(_ path: String) async throws -> String {
        let result = try await LiveServer.shellAsync("sha256sum", [path])
        return String(result.output.prefix(64))
    }

    static func upload(_ port: Int, token: String, id: String, meta: String, file: String, client: VSaaSLiveClient) async throws {
        let headers = ["X-Exosite-Token: \(token)", ProvisioningSeedTests.form]
        #expect(try await client.call("POST", "/provision/manage/content/cam1/", headers: headers, body: "id=\(id)&meta=\(meta)").status == 205)
        let upload = try await LiveServer.shellAsync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "X-Exosite-Token: \(token)",
                                                              "-H", "Content-Type: application/x-firmware", "--data-binary", "@\(file)",
                                                              "http://127.0.0.1:\(port)/provision/manage/content/cam1/\(id)"])
        #expect(upload.output == "205", "upload of \(id): \(upload.output)")
    }

    /// A firmware command that copies the file it is given to `<out>/<content id>.bin` and notes the run.
    static func installer(_ out: String) throws -> String {
        let path = out + "/install.sh"
        try "#!/bin/sh\ncp \"$1\" \"\(out)/$GATEHOUSE_CONTENT_ID.bin\" && echo \"$GATEHOUSE_CONTENT_ID $1\" >> \"\(out)/runs\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        _ = chmod(path, 0o755)
        return path
    }

    static func runs(_ out: String) -> [String] {
        ((try? String(contentsOfFile: out + "/runs", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static func waitFor(_ timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test func activatesDownloadsInstallsAndResumesAfterSIGKILL() async throws {
        let (server, client) = try await ProvisioningSeedTests.start()
        defer { _ = server.process.isRunning ? kill(server.process.processIdentifier, SIGKILL) : 0 }
        let (token, _) = try await ProvisioningSeedTests.vendorSetup(client, adminToken: try #require(server.adminToken))
        let vendorHeaders = ["X-Exosite-Token: \(token)", ProvisioningSeedTests.form]
        #expect(try await client.call("POST", "/provision/manage/model/", headers: vendorHeaders, body: "model=cam1").status == 205)
        #expect(try await client.call("POST", "/provision/manage/model/cam1/", headers: vendorHeaders, body: "sn=SER-1").status == 205)
        let out = try TestDatabases.temporaryDirectory()
        let firstImage = out + "/fw-1.bin.src"
        try Self.image(3_000_000, salt: 1).write(to: URL(fileURLWithPath: firstImage))
        try await Self.upload(server.port, token: token, id: "fw-1", meta: "1.0", file: firstImage, client: client)

        let directory = try TestDatabases.temporaryDirectory() + "/agent"
        let serverURL = "http://127.0.0.1:\(server.port)"
        let arguments = ["--vendor", ProvisioningSeedTests.vendor, "--model", "cam1", "--firmware-command", try Self.installer(out), "--poll-ms", "200"]
        var agent = try LiveAgent(serial: "SER-1", server: serverURL, stateDirectory: directory, port: LiveServer.freePort(), arguments: arguments)
        defer { agent.kill() }

        // Not enabled yet: refused (409), retried with backoff until the vendor enables it.
        #expect(try await agent.waitForLog("activation refused"), "\(agent.log)")
        #expect(agent.log.contains(#""http_status":"409""#), "\(agent.log)")
        #expect(try await client.call("POST", "/provision/manage/model/cam1/SER-1", headers: vendorHeaders, body: "enable=true&owner=home-1").status == 200)
        #expect(try await agent.waitForLog("firmware command succeeded", timeout: .seconds(60)), "\(agent.log)")
        #expect(try await Self.sha256(out + "/fw-1.bin") == (try await Self.sha256(firstImage)))
        #expect(Self.runs(out).count == 1)

        // The CIK: in provision.json (0600), never in the log.
        let stateFile = directory + "/provision.json"
        let state = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        let cik = try #require(state["cik"] as? String)
        #expect(ProvisioningSeedTests.isCIK(cik))
        #expect((try FileManager.default.attributesOfItem(atPath: stateFile)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(!agent.log.contains(cik))
        #expect((state["installed"] as? [String: Any])?["fw-1"] != nil, "\(state)")

        // Restarted: neither activates nor downloads again (the serial could not activate twice anyway).
        agent.kill()
        agent = try LiveAgent(serial: "SER-1", server: serverURL, stateDirectory: directory, port: LiveServer.freePort(), arguments: arguments)
        #expect(try await agent.waitForLog("agent starting in serial mode"), "\(agent.log)")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(!agent.log.contains("downloading content") && !agent.log.contains("activat"), "\(agent.log)")
        #expect(Self.runs(out).count == 1)

        // A large image, killed mid-transfer with SIGKILL, resumed by the next agent from its partial file.
        agent.kill()
        let bigImage = out + "/fw-2.bin.src"
        let size = 96 << 20
        try Self.image(size, salt: 2).write(to: URL(fileURLWithPath: bigImage))
        try await Self.upload(server.port, token: token, id: "fw-2", meta: "2.0", file: bigImage, client: client)
        let partial = directory + "/firmware/content-fw-2.part"
        agent = try LiveAgent(serial: "SER-1", server: serverURL, stateDirectory: directory, port: LiveServer.freePort(), arguments: arguments)
        let cut = try await Self.waitFor(.seconds(60)) {
            guard let held = (try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? NSNumber else { return false }
            return held.intValue > 0
        }
        agent.kill()
        #expect(cut, "the download never started: \(agent.log)")
        let kept = ((try? FileManager.default.attributesOfItem(atPath: partial))?[.size] as? NSNumber)?.intValue ?? 0
        #expect(kept > 0 && kept < size, "SIGKILL landed mid-transfer: \(kept) of \(size) bytes kept")
        #expect(Self.runs(out).count == 1)

        agent = try LiveAgent(serial: "SER-1", server: serverURL, stateDirectory: directory, port: LiveServer.freePort(), arguments: arguments)
        #expect(try await Self.waitFor(.seconds(120)) { Self.runs(out).count == 2 }, "\(agent.log)")
        #expect(agent.log.contains(#""resume_from":"\#(kept)""#), "resumed from the partial file: \(agent.log)")
        #expect(try await Self.sha256(out + "/fw-2.bin") == (try await Self.sha256(bigImage)))
        #expect(Self.runs(out).last?.hasPrefix("fw-2 ") == true)
        #expect(!agent.log.contains(cik))
        agent.kill()
    }
}
