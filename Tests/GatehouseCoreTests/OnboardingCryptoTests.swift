import Crypto
import Foundation
@testable import GatehouseCore
import SwiftASN1
import Testing
import X509

/// Credential formats and request signatures of signed onboarding, checked against the real `openssl`.
@Suite("Onboarding credentials and request signatures")
struct OnboardingCryptoTests {
    // MARK: Encrypted PKCS#8

    @Test func encryptedPEMOpensWithOpenSSLAndOnlyWithThePassword() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let key = P256.Signing.PrivateKey()
        let pem = try EncryptedPrivateKey.encryptPEM(privateKeyDER: key.derRepresentation, password: "SECRET")
        let lines = pem.split(separator: "\n")
        #expect(lines.first == "-----BEGIN ENCRYPTED PRIVATE KEY-----")
        #expect(lines.last == "-----END ENCRYPTED PRIVATE KEY-----")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.count <= 64 })
        #expect(lines.dropFirst().dropLast(2).allSatisfy { $0.count == 64 })
        let path = try dir.write("key.pem", pem)

        let opened = try await openssl(["pkey", "-in", path, "-passin", "pass:SECRET", "-pubout"])
        #expect(opened.status == 0, "\(opened.error)")
        #expect(try P256.Signing.PublicKey(pemRepresentation: opened.text).derRepresentation == key.publicKey.derRepresentation)

        let wrong = try await openssl(["pkey", "-in", path, "-passin", "pass:SECReT", "-pubout"])
        #expect(wrong.status != 0)

        // Our own reader: the same key back, and a clear refusal of a wrong password.
        #expect(try EncryptedPrivateKey.decrypt(pem: pem, password: "SECRET") == Array(key.derRepresentation))
        #expect(failure { try EncryptedPrivateKey.decrypt(pem: pem, password: "SECRET ") }?.code == .unauthenticated)
        #expect(failure { try EncryptedPrivateKey.decrypt(pem: pem, password: "") }?.code == .unauthenticated)
        // Fresh salt and IV every time.
        #expect(try EncryptedPrivateKey.encryptPEM(privateKeyDER: key.derRepresentation, password: "SECRET") != pem)
    }

    @Test func encryptedRSAKeyOpensWithOpenSSL() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pair = try RSAKeyPair.generate()
        let path = try dir.write("rsa.pem", try EncryptedPrivateKey.encryptPEM(
            privateKeyDER: pair.privateKey.derRepresentation, password: "pw", iterations: 2_048))
        let opened = try await openssl(["pkey", "-in", path, "-passin", "pass:pw", "-pubout"])
        #expect(opened.status == 0, "\(opened.error)")
        #expect(try RSAPublicKey(pem: opened.text) == pair.publicKey)
        // And an encrypted platform key reads back as a signing key.
        let encrypted = try String(contentsOfFile: path, encoding: .utf8)
        let signer = try RSAPrivateKey(pem: encrypted, password: "pw")
        #expect(signer.publicKey == pair.publicKey)
        #expect(failure { try RSAPrivateKey(pem: encrypted, password: "PW") }?.code == .unauthenticated)
        #expect(failure { try RSAPrivateKey(pem: encrypted) }?.code == .validationFailed)
    }

    @Test func encryptedPEMUsesPBES2WithPBKDF2HMACSHA256AndAES256CBC() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pem = try EncryptedPrivateKey.encryptPEM(privateKeyDER: P256.Signing.PrivateKey().derRepresentation, password: "SECRET")
        let path = try dir.write("key.pem", pem)
        let parsed = try await openssl(["asn1parse", "-in", path])
        #expect(parsed.status == 0, "\(parsed.error)")
        for name in ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc", "INTEGER           :2710"] {
            #expect(parsed.text.contains(name), "\(name) missing in \(parsed.text)")
        }
        // 16-byte salt and IV.
        #expect(parsed.text.components(separatedBy: "OCTET STRING      [HEX DUMP]:").dropFirst().prefix(2).allSatisfy {
            $0.prefix(while: \.isHexDigit).count == 32
        })
    }

    @Test func decryptsKeysThatOpenSSLEncrypted() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let key = P256.Signing.PrivateKey()
        let plain = try dir.write("plain.pem", key.pemRepresentation)
        let variants: [[String]] = [
            ["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"],
            ["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
            ["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "1000"],
        ]
        for (index, variant) in variants.enumerated() {
            let out = dir.path("enc\(index).pem")
            let made = try await openssl(["pkcs8", "-topk8", "-in", plain, "-out", out, "-passout", "pass:X"] + variant)
            #expect(made.status == 0, "\(made.error)")
            let encrypted = try String(contentsOfFile: out, encoding: .utf8)
            let der = try EncryptedPrivateKey.decrypt(pem: encrypted, password: "X")
            #expect(try P256.Signing.PrivateKey(derRepresentation: der).rawRepresentation == key.rawRepresentation, "\(variant)")
            #expect(failure { try EncryptedPrivateKey.decrypt(pem: encrypted, password: "Y") }?.code == .unauthenticated)
        }
        // Not encrypted, not PEM, not a key: validation errors.
        #expect(failure { try EncryptedPrivateKey.decrypt(pem: key.pemRepresentation, password: "X") }?.code == .validationFailed)
        #expect(failure { try EncryptedPrivateKey.decrypt(pem: "garbage", password: "X") }?.code == .validationFailed)
        #expect(failure { try EncryptedPrivateKey.decrypt(der: [0x30, 0x03, 0x02, 0x01, 0x00], password: "X") }?.code == .validationFailed)
        #expect(failure { try EncryptedPrivateKey.encryptPEM(privateKeyDER: [1, 2, 3], password: "X") }?.code == .validationFailed)
        #expect(failure { try EncryptedPrivateKey.encryptPEM(privateKeyDER: key.derRepresentation, password: "X", iterations: 0) }?.code == .validationFailed)
    }

    // MARK: PKCS#12

    @Test func pkcs12OpensWithOpenSSLAndHoldsCertificateAndKey() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let authority = try CertificateAuthority.generate()
        let issued = try authority.issue(commonName: "endpoint-1", usage: .client, days: 30)
        let p12 = try PKCS12Bundle.build(
            certificate: issued.certificate, privateKeyDER: issued.privateKey.derRepresentation,
            caCertificates: [authority.certificate], password: "SECRET", friendlyName: "endpoint-1")
        let path = try dir.write("f.p12", p12)

        let mac = try await openssl(["pkcs12", "-in", path, "-passin", "pass:SECRET", "-noout"])
        #expect(mac.status == 0, "\(mac.error)")

        let opened = try await openssl(["pkcs12", "-in", path, "-passin", "pass:SECRET", "-nodes"])
        #expect(opened.status == 0, "\(opened.error)")
        let documents = try PEMDocument.parseMultiple(pemString: opened.text)
        let certificates = documents.filter { $0.discriminator == "CERTIFICATE" }.map(\.derBytes)
        #expect(certificates.count == 2)
        #expect(certificates.contains(try PEMDocument(pemString: issued.certificatePEM).derBytes))
        #expect(certificates.contains(try PEMDocument(pemString: authority.certificatePEM).derBytes))
        let keys = documents.filter { $0.discriminator == "PRIVATE KEY" }
        #expect(keys.count == 1)
        #expect(try P256.Signing.PrivateKey(derRepresentation: keys[0].derBytes).rawRepresentation == issued.privateKey.rawRepresentation)
        // Key and end-entity certificate share a localKeyID; the friendly name travels.
        let keyIDs = opened.text.split(separator: "\n").filter { $0.contains("localKeyID:") }.map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(keyIDs.count == 2 && Set(keyIDs).count == 1)
        #expect(opened.text.components(separatedBy: "friendlyName: endpoint-1").count == 3)

        let info = try await openssl(["pkcs12", "-in", path, "-passin", "pass:SECRET", "-info", "-noout"])
        #expect(info.status == 0, "\(info.error)")
        #expect(info.all.contains("MAC: sha256, Iteration 2048"), "\(info.all)")
        #expect(info.all.contains("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256"))
        #expect(info.all.contains("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256"))

        for wrong in ["SECRET1", "secret", ""] {
            let refused = try await openssl(["pkcs12", "-in", path, "-passin", "pass:\(wrong)", "-nodes"])
            #expect(refused.status != 0, "password \(wrong)")
        }
    }

    @Test func pkcs12WithPlainCertificatesOpensWithOpenSSL() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let authority = try CertificateAuthority.generate()
        let issued = try authority.issue(commonName: "endpoint-2", usage: .client, days: 30)
        let path = try dir.write("plain.p12", try PKCS12Bundle.build(issued: issued, password: "pw", iterations: 2_048))
        let raw = try PKCS12Bundle.build(
            certificate: issued.certificate, privateKeyDER: issued.privateKey.derRepresentation,
            password: "pw", macIterations: 4_096, encryptCertificates: false)
        let plainPath = try dir.write("certs-in-clear.p12", raw)

        let info = try await openssl(["pkcs12", "-in", plainPath, "-passin", "pass:pw", "-info", "-nodes"])
        #expect(info.status == 0, "\(info.error)")
        #expect(info.all.contains("MAC: sha256, Iteration 4096"))
        #expect(info.all.components(separatedBy: "PKCS7 Data").count == 3)
        #expect(!info.all.contains("PKCS7 Encrypted data"))
        #expect(info.text.contains(try issued.certificatePEM))

        let encrypted = try await openssl(["pkcs12", "-in", path, "-passin", "pass:pw", "-info", "-noout"])
        #expect(encrypted.status == 0, "\(encrypted.error)")
        #expect(encrypted.all.contains("Iteration 2048, PRF hmacWithSHA256"))
    }

    @Test func pkcs12RefusesAKeyThatIsNotTheCertificates() throws {
        let authority = try CertificateAuthority.generate()
        let issued = try authority.issue(commonName: "endpoint-3", usage: .client, days: 30)
        let other = P256.Signing.PrivateKey()
        #expect(failure {
            try PKCS12Bundle.build(certificate: issued.certificate, privateKeyDER: other.derRepresentation, password: "pw")
        }?.code == .validationFailed)
        #expect(failure {
            try PKCS12Bundle.build(certificate: issued.certificate, privateKeyDER: [0x30, 0x00], password: "pw")
        }?.code == .validationFailed)
        #expect(failure {
            try PKCS12Bundle.build(issued: issued, password: "pw", friendlyName: "emoji 😀")
        }?.code == .validationFailed)
    }

    @Test func nonASCIIPassphrasesWorkWithOpenSSL() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let password = "Grüße-Käse-€-ß-日本-😀"
        let passFile = try dir.write("pass.txt", password)
        let authority = try CertificateAuthority.generate()
        let issued = try authority.issue(commonName: "endpoint-4", usage: .client, days: 30)

        // PKCS#8, ours read by openssl.
        let keyPath = try dir.write("key.pem", try EncryptedPrivateKey.encryptPEM(
            privateKeyDER: issued.privateKey.derRepresentation, password: password))
        let opened = try await openssl(["pkey", "-in", keyPath, "-passin", "file:\(passFile)", "-pubout"])
        #expect(opened.status == 0, "\(opened.error)")
        #expect(try P256.Signing.PublicKey(pemRepresentation: opened.text).rawRepresentation == issued.privateKey.publicKey.rawRepresentation)

        // PKCS#8, openssl's read by us.
        // (Two files: given the same file twice, openssl reads -passin and -passout from its first two lines.)
        let passOutFile = try dir.write("passout.txt", password)
        let theirs = dir.path("theirs.pem")
        let made = try await openssl([
            "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256", "-in", keyPath, "-passin", "file:\(passFile)",
            "-out", theirs, "-passout", "file:\(passOutFile)",
        ])
        #expect(made.status == 0, "\(made.error)")
        let der = try EncryptedPrivateKey.decrypt(pem: String(contentsOfFile: theirs, encoding: .utf8), password: password)
        #expect(try P256.Signing.PrivateKey(derRepresentation: der).rawRepresentation == issued.privateKey.rawRepresentation)

        // PKCS#12: MAC (BMPString password) and PBES2 (UTF-8 password) both agree with openssl.
        let p12 = try dir.write("f.p12", try PKCS12Bundle.build(issued: issued, password: password, friendlyName: "Käse"))
        let mac = try await openssl(["pkcs12", "-in", p12, "-passin", "file:\(passFile)", "-noout"])
        #expect(mac.status == 0, "\(mac.error)")
        let content = try await openssl(["pkcs12", "-in", p12, "-passin", "file:\(passFile)", "-nodes"])
        #expect(content.status == 0, "\(content.error)")
        let key = try PEMDocument.parseMultiple(pemString: content.text).first { $0.discriminator == "PRIVATE KEY" }
        #expect(try key.map { try P256.Signing.PrivateKey(derRepresentation: $0.derBytes).rawRepresentation } == issued.privateKey.rawRepresentation)
        #expect(content.text.contains(try issued.certificatePEM))
        let wrongFile = try dir.write("wrong.txt", "Grusse-Kase-€-ß-日本-😀")
        let refused = try await openssl(["pkcs12", "-in", p12, "-passin", "file:\(wrongFile)", "-noout"])
        #expect(refused.status != 0)
    }

    // MARK: Request signatures

    @Test func signaturesMadeByOpenSSLVerify() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let privatePath = dir.path("priv.pem")
        let generated = try await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privatePath])
        #expect(generated.status == 0, "\(generated.error)")
        let publicOut = try await openssl(["pkey", "-in", privatePath, "-pubout"])
        let publicKey = try RSAPublicKey(pem: publicOut.text)
        #expect(publicKey.bitCount == 2048)
        #expect(publicKey.pemRepresentation == publicOut.text)

        let body = Array(#"{"id":"urn:myapp:snr00003234","applicationId":"16b4f9b0","UTCTimestamp":"2026-05-04T10:00:00.123Z","note":"Grüße"}"#.utf8)
        let bodyPath = try dir.write("body.json", body)
        let signed = try await openssl(["dgst", "-sha256", "-sign", privatePath, "-out", dir.path("sig.bin"), bodyPath])
        #expect(signed.status == 0, "\(signed.error)")
        let signature = Array(try Data(contentsOf: URL(fileURLWithPath: dir.path("sig.bin"))))
        #expect(signature.count == 256)
        let hex = Secrets.hex(signature)

        #expect(RequestSignature.verify(body: body, hexSignature: hex, publicKey: publicKey))
        #expect(RequestSignature.verify(body: body, hexSignature: hex.uppercased(), publicKey: publicKey))
        #expect(RequestSignature.verify(body: Data(body), hexSignature: hex, publicKey: publicKey))
        #expect(RequestSignature.verify(body: body[...], hexSignature: hex, publicKey: publicKey))
        #expect(RequestSignature.verify(body: body, base64Signature: Data(signature).base64EncodedString(), publicKey: publicKey))
        // PKCS#1 v1.5 is deterministic: our signature with openssl's key is openssl's signature.
        let signer = try RSAPrivateKey(pem: String(contentsOfFile: privatePath, encoding: .utf8))
        #expect(try RequestSignature.sign(body: body, privateKey: signer) == hex)

        for index in [0, body.count / 2, body.count - 1] {
            var changed = body
            changed[index] ^= 0x01
            #expect(!RequestSignature.verify(body: changed, hexSignature: hex, publicKey: publicKey))
        }
        #expect(!RequestSignature.verify(body: body + [0x20], hexSignature: hex, publicKey: publicKey))
        for malformed in [
            String(hex.dropLast(2)), String(hex.dropLast()), String(hex.dropFirst(2)), "", "00" + hex,
            "zz" + hex.dropFirst(2), hex.replacingOccurrences(of: "a", with: "g"), " " + hex, String(repeating: "0", count: 512),
            hex + "\n", String(repeating: "é", count: 256),
        ] {
            #expect(!RequestSignature.verify(body: body, hexSignature: malformed, publicKey: publicKey), "\(malformed.prefix(16))")
        }
        let otherKey = try RSAKeyPair.generate()
        let foreign = try RequestSignature.sign(body: body, privateKey: otherKey.privateKey)
        #expect(!RequestSignature.verify(body: body, hexSignature: foreign, publicKey: publicKey))
        #expect(RequestSignature.verify(body: body, hexSignature: foreign, publicKey: otherKey.publicKey))

        // The PKCS#1 form of the same public key is the same key.
        let pkcs1 = try await openssl(["rsa", "-in", privatePath, "-RSAPublicKey_out"])
        #expect(pkcs1.text.hasPrefix("-----BEGIN RSA PUBLIC KEY-----"))
        #expect(try RSAPublicKey(pem: pkcs1.text) == publicKey)
    }

    @Test func generatedKeyPairSignsWhatOpenSSLVerifies() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let pair = try RSAKeyPair.generate()
        #expect(pair.publicKeyPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(pair.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let publicPath = try dir.write("pub.pem", pair.publicKeyPEM)
        let privatePath = try dir.write("priv.pem", pair.privateKeyPEM)
        let text = try await openssl(["pkey", "-in", privatePath, "-text", "-noout"])
        #expect(text.status == 0 && text.text.contains("2048 bit"), "\(text.all)")
        let derived = try await openssl(["pkey", "-in", privatePath, "-pubout"])
        #expect(derived.text == pair.publicKeyPEM)
        #expect(try RSAPrivateKey(pem: pair.privateKeyPEM).publicKey == pair.publicKey)

        let body = Array("state-1234eyJhY2NvdW50IjoiYWJjIn0=".utf8)
        let bodyPath = try dir.write("body", body)
        let hex = try RequestSignature.sign(body: body, privateKey: pair.privateKey)
        #expect(hex.count == 512 && hex == hex.lowercased())
        let signaturePath = try dir.write("sig.bin", RequestSignature.decodeHex(hex) ?? [])
        let verified = try await openssl(["dgst", "-sha256", "-verify", publicPath, "-signature", signaturePath, bodyPath])
        #expect(verified.status == 0 && verified.text.contains("Verified OK"), "\(verified.all)")
        let tampered = try dir.write("body2", body + [0x0a])
        let refused = try await openssl(["dgst", "-sha256", "-verify", publicPath, "-signature", signaturePath, tampered])
        #expect(refused.status != 0)

        // The redirect signature in base64 (standard and URL-safe forms verify).
        let base64 = try RequestSignature.signBase64(body: body, privateKey: pair.privateKey)
        #expect(Data(base64Encoded: base64).map(Array.init) == RequestSignature.decodeHex(hex))
        #expect(RequestSignature.verify(body: body, base64Signature: base64, publicKey: pair.publicKey))
        #expect(RequestSignature.verify(body: body, base64Signature: Secrets.base64URL(RequestSignature.decodeHex(hex) ?? []), publicKey: pair.publicKey))
        #expect(!RequestSignature.verify(body: body, base64Signature: "not base64!", publicKey: pair.publicKey))
        #expect(!RequestSignature.verify(body: body + [0], base64Signature: base64, publicKey: pair.publicKey))
    }

    @Test func unsuitablePublicKeysAreRefused() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        func publicPEM(_ options: [String]) async throws -> String {
            let path = dir.path(UUID().uuidString)
            let made = try await openssl(["genpkey"] + options + ["-out", path])
            #expect(made.status == 0, "\(made.error)")
            return try await openssl(["pkey", "-in", path, "-pubout"]).text
        }
        let ec = try await publicPEM(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        let ecError = failure { try RSAPublicKey(pem: ec) }
        #expect(ecError?.code == .validationFailed && ecError?.field == "publicKey")
        #expect(ecError?.message.contains("not an RSA key (it is an EC key)") == true, "\(String(describing: ecError))")

        let ed = try await publicPEM(["-algorithm", "ED25519"])
        #expect(failure { try RSAPublicKey(pem: ed) }?.message.contains("Ed25519") == true)

        let short = try await publicPEM(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])
        let shortError = failure { try RSAPublicKey(pem: short) }
        #expect(shortError?.code == .validationFailed)
        #expect(shortError?.message.contains("1024 bits") == true, "\(String(describing: shortError))")

        let pair = try RSAKeyPair.generate()
        for garbage in [
            "", "not a key", "-----BEGIN PUBLIC KEY-----\nnot*base64\n-----END PUBLIC KEY-----",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", pair.privateKeyPEM,
            pair.publicKeyPEM + pair.publicKeyPEM, String(pair.publicKeyPEM.dropLast(30)),
            pair.publicKeyPEM.replacingOccurrences(of: "PUBLIC KEY", with: "CERTIFICATE"),
        ] {
            #expect(failure { try RSAPublicKey(pem: garbage) }?.code == .validationFailed, "\(garbage.prefix(40))")
        }
        // CRLF line ends are fine.
        #expect(try RSAPublicKey(pem: pair.publicKeyPEM.replacingOccurrences(of: "\n", with: "\r\n")) == pair.publicKey)
        // Private keys: EC and short RSA keys are refused too.
        let ecPrivate = P256.Signing.PrivateKey().pemRepresentation
        #expect(failure { try RSAPrivateKey(pem: ecPrivate) }?.code == .validationFailed)
    }

    // MARK: Passphrases

    @Test func certificatePassphrasesAreRandomLettersAndDigits() {
        let values = (0..<100).map { _ in CertificatePassphrase.generate() }
        #expect(Set(values).count == values.count)
        #expect(values.allSatisfy { $0.count == 32 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } })
        #expect(CertificatePassphrase.generate(length: 12).count == 12)
    }
}

// MARK: - Helpers

/// The `GatehouseError` a throwing call throws, or `nil` if it succeeds or throws something else.
private func failure<T>(_ body: () throws -> T) -> GatehouseError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? GatehouseError
    }
}

/// A temporary directory, removed by `remove()`.
private struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-onboarding-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// What a finished `openssl` run printed.
private struct ProcessResult: Sendable {
    let status: Int32
    let output: Data
    let error: String
    var text: String { String(decoding: output, as: UTF8.self) }
    var all: String { text + error }
}

/// Runs `openssl` with `arguments` on a thread of its own (never blocking the cooperative pool),
/// with standard input closed, and waits for it to exit; a run that hangs is killed after a minute
/// (SIGKILL: this test process ignores SIGTERM, and so would the child).
private func openssl(_ arguments: [String]) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["openssl"] + arguments
                let output = Pipe(), error = Pipe()
                process.standardOutput = output
                process.standardError = error
                process.standardInput = FileHandle.nullDevice
                try process.run()
                let pid = process.processIdentifier
                let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }  // cancelled as soon as the child has exited
                DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
                // Drain stderr on another thread so that neither pipe can fill up and stall the child.
                let errorData = LockedData()
                let drained = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    errorData.set(error.fileHandleForReading.readDataToEndOfFile())
                    drained.signal()
                }
                let data = output.fileHandleForReading.readDataToEndOfFile()
                drained.wait()
                process.waitUntilExit()
                watchdog.cancel()
                return ProcessResult(status: process.terminationStatus, output: data, error: String(decoding: errorData.get(), as: UTF8.self))
            })
        }
    }
}

/// A `Data` handed from one thread to another.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
