import Foundation

/// The MQTT topics of endpoints on the broker: each endpoint publishes to
/// `<measuresPrefix><its id>` and receives on `<commandsPrefix><its id>`, where its id is the
/// common name of its client certificate (the endpoint's deviceAlternateId).
public struct BrokerTopics: Sendable, Hashable {
    /// Prefix of the topics endpoints publish to; ends with `/`. Default `measures/`.
    public let measuresPrefix: String
    /// Prefix of the topics endpoints receive on; ends with `/`. Default `commands/`.
    public let commandsPrefix: String

    /// The default topics: `measures/<id>` and `commands/<id>`.
    public static let standard = BrokerTopics(checkedMeasures: "measures/", commands: "commands/")

    /// Topics under the given prefixes. A prefix is one or more topic levels without wildcards
    /// (`+`, `#`), `%`, white space or control characters, not starting with `$`; a missing final
    /// `/` is added. Neither prefix may lie inside the other.
    public init(measuresPrefix: String = "measures/", commandsPrefix: String = "commands/") throws(GatehouseError) {
        let measures = try Self.prefix(measuresPrefix, field: "measuresPrefix")
        let commands = try Self.prefix(commandsPrefix, field: "commandsPrefix")
        guard !measures.hasPrefix(commands), !commands.hasPrefix(measures) else {
            throw GatehouseError(.validationFailed, "the measures and commands topic prefixes must not overlap", field: "commandsPrefix")
        }
        self.init(checkedMeasures: measures, commands: commands)
    }

    private init(checkedMeasures measures: String, commands: String) {
        measuresPrefix = measures
        commandsPrefix = commands
    }

    /// The topic `endpoint` publishes its measures to.
    public func measures(endpoint: String) -> String { measuresPrefix + endpoint }

    /// The topic `endpoint` receives its commands on.
    public func commands(endpoint: String) -> String { commandsPrefix + endpoint }

    private static func prefix(_ value: String, field: String) throws(GatehouseError) -> String {
        let prefix = value.hasSuffix("/") ? value : value + "/"
        let forbidden = prefix.unicodeScalars.contains {
            $0 == "+" || $0 == "#" || $0 == "%" || $0.properties.isWhitespace || $0.properties.generalCategory == .control
        }
        guard prefix.utf8.count >= 2, prefix.utf8.count <= 200, !forbidden, !prefix.hasPrefix("$"), !prefix.contains("//") else {
            throw GatehouseError(.validationFailed, "a topic prefix must be topic levels without wildcards, '%', spaces or a leading '$'", field: field)
        }
        return prefix
    }
}

/// What Gatehouse writes for an MQTT broker (mosquitto 2.x): the CA file (the authority's
/// certificate), the certificate revocation list and the topic access-control list.
///
/// The broker authenticates endpoints by their client certificate (`require_certificate true`)
/// and takes the certificate's common name as the MQTT username (`use_identity_as_username
/// true`); the ACL's `pattern` lines, keyed by `%u`, then let each endpoint write only its own
/// measures topic and read only its own commands topic. Gatehouse's own service identity (a
/// client certificate whose common name is ``serviceIdentity``) reads every measures topic and
/// writes every commands topic. mosquitto 2.0 accepts any SUBSCRIBE; `read` is checked when a
/// message is delivered, so a subscription to another endpoint's topic simply receives nothing.
public struct BrokerFiles: Sendable, Hashable {
    /// The CA file's name in the broker directory.
    public static let caFileName = "ca.pem"
    /// The revocation list's name in the broker directory.
    public static let revocationListFileName = "crl.pem"
    /// The ACL file's name in the broker directory.
    public static let aclFileName = "acl"
    /// The default common name of Gatehouse's own broker client certificate. The `:` keeps it
    /// apart from endpoint ids (UUIDs) and super-admin names (`a-z 0-9 . _ -`): the authority must
    /// issue a client certificate with this name to Gatehouse alone.
    public static let defaultServiceIdentity = "gatehouse:service"

    /// The authority's certificate in PEM: the broker's `cafile`.
    public var caPEM: String
    /// The revocation list in PEM: the broker's `crlfile`.
    public var revocationListPEM: String
    /// The topic ACL: the broker's `acl_file`.
    public var acl: String

    /// The three files from their contents.
    public init(caPEM: String, revocationListPEM: String, acl: String) {
        self.caPEM = caPEM
        self.revocationListPEM = revocationListPEM
        self.acl = acl
    }

    /// The broker files for `authority`: its certificate, a revocation list of `revoked` (see
    /// ``CertificateAuthority/revocationList(revoked:number:thisUpdate:nextUpdate:)``) and the ACL
    /// for `topics` and `serviceIdentity` (no service rules when `nil`).
    public init(authority: CertificateAuthority, revoked: [(serialHex: String, at: Date)], crlNumber: Int64, thisUpdate: Date, nextUpdate: Date,
                topics: BrokerTopics = .standard, serviceIdentity: String? = BrokerFiles.defaultServiceIdentity) throws(GatehouseError) {
        let caPEM: String
        do { caPEM = try authority.certificatePEM + "\n" } catch { throw GatehouseError(.internal, "the authority's certificate cannot be encoded") }
        self.init(caPEM: caPEM,
                  revocationListPEM: try authority.revocationListPEM(revoked: revoked, number: crlNumber, thisUpdate: thisUpdate, nextUpdate: nextUpdate),
                  acl: try Self.accessControlList(topics: topics, serviceIdentity: serviceIdentity))
    }

    /// The broker files for `authority` with a revocation list of those `certificates` (as the
    /// store keeps them) that are revoked; see ``init(authority:revoked:crlNumber:thisUpdate:nextUpdate:topics:serviceIdentity:)``.
    public init(authority: CertificateAuthority, certificates: [IssuedCertificate], crlNumber: Int64, thisUpdate: Date, nextUpdate: Date,
                topics: BrokerTopics = .standard, serviceIdentity: String? = BrokerFiles.defaultServiceIdentity) throws(GatehouseError) {
        try self.init(authority: authority, revoked: CertificateAuthority.revocations(of: certificates), crlNumber: crlNumber,
                      thisUpdate: thisUpdate, nextUpdate: nextUpdate, topics: topics, serviceIdentity: serviceIdentity)
    }

    /// The files as `(name, contents)`, in the order to write them (the ACL last).
    public var files: [(name: String, contents: String)] {
        [(Self.caFileName, caPEM), (Self.revocationListFileName, revocationListPEM), (Self.aclFileName, acl)]
    }

    /// The text of mosquitto's `acl_file`: every client may write `<measuresPrefix><its username>`
    /// and read `<commandsPrefix><its username>`; `serviceIdentity`, when given, may read all
    /// measures and write all commands. Anything not granted is denied.
    ///
    /// - Throws: `validationFailed` when `serviceIdentity` is empty, longer than 64 bytes or holds
    ///   white space, control characters, `/`, `+`, `#` or `%`.
    public static func accessControlList(topics: BrokerTopics = .standard, serviceIdentity: String? = defaultServiceIdentity) throws(GatehouseError) -> String {
        var lines = [
            "# Written by Gatehouse; rewritten on every change. mosquitto 2.x acl_file.",
            "# With use_identity_as_username, %u is the common name of the client's certificate.",
            "# Each endpoint writes only its own measures topic and reads only its own commands topic.",
            "pattern write \(topics.measuresPrefix)%u",
            "pattern read \(topics.commandsPrefix)%u",
        ]
        if let serviceIdentity {
            let forbidden = serviceIdentity.unicodeScalars.contains {
                $0 == "/" || $0 == "+" || $0 == "#" || $0 == "%" || $0.properties.isWhitespace || $0.properties.generalCategory == .control
            }
            guard !serviceIdentity.isEmpty, serviceIdentity.utf8.count <= 64, !forbidden else {
                throw GatehouseError(.validationFailed, "the broker service identity must be 1-64 bytes without spaces, '/', '+', '#' or '%'",
                                     field: "serviceIdentity")
            }
            lines += [
                "",
                "# Gatehouse's own service identity reads every endpoint's measures and writes every endpoint's commands.",
                "user \(serviceIdentity)",
                "topic read \(topics.measuresPrefix)#",
                "topic write \(topics.commandsPrefix)#",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A mosquitto.conf snippet for the TLS listener that uses the broker files in `directory`:
    /// clients must present a certificate from Gatehouse's authority that the revocation list does
    /// not name, their certificate's common name is their username, the ACL applies, anonymous
    /// clients are refused and TLS is 1.2 or later. `allow_anonymous` and `acl_file` are global
    /// settings (mosquitto's default `per_listener_settings false`), so they come first.
    ///
    /// - Parameters:
    ///   - port: the listener's TCP port.
    ///   - bindAddress: the address it binds, loopback by default.
    ///   - directory: where ``BrokerFiles`` are written (absolute).
    ///   - certificateFile: the broker's server certificate in PEM (absolute).
    ///   - keyFile: its private key in PEM (absolute).
    /// - Throws: `validationFailed` for a port outside 1-65535, or an address or path that is
    ///   empty or holds control characters (the address: also white space).
    public static func mosquittoListener(port: Int, bindAddress: String = "127.0.0.1", directory: String, certificateFile: String,
                                         keyFile: String) throws(GatehouseError) -> String {
        guard (1...65_535).contains(port) else { throw GatehouseError(.validationFailed, "the port must be 1-65535", field: "port") }
        guard !bindAddress.isEmpty, !bindAddress.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control })
        else { throw GatehouseError(.validationFailed, "the bind address must not be empty or hold spaces", field: "bindAddress") }
        for (field, path) in [("directory", directory), ("certificateFile", certificateFile), ("keyFile", keyFile)] {
            guard !path.isEmpty, !path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw GatehouseError(.validationFailed, "a broker path must not be empty or hold control characters", field: field)
            }
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return """
            # Gatehouse MQTT listener (mosquitto 2.x). Endpoints authenticate with the client
            # certificate Gatehouse issued them; its common name becomes their username.
            allow_anonymous false
            acl_file \(base)/\(aclFileName)

            listener \(port) \(bindAddress)
            cafile \(base)/\(caFileName)
            certfile \(certificateFile)
            keyfile \(keyFile)
            crlfile \(base)/\(revocationListFileName)
            require_certificate true
            use_identity_as_username true
            tls_version tlsv1.2

            """
    }
}
