extension AgentActivation {
    // MARK: Tokens

    /// The look-up hash of a token: tokens are short, so the operator id is part of what is hashed.
    static func tokenHash(operatorId: Int64, token: String) -> String { Secrets.hash("\(operatorId):\(token)") }

    /// Issues a single-use activation token for a camera `title` in an organization with a
    /// preset (session callers only; checked at the edge). Returns the token and its record.
    public func issueToken(_ caller: OperatorCaller, title: String, organizationId: Int64, presetId: Int64) async throws -> (token: String, record: ActivationTokenRecord) {
        let title = try Validation.name(title, field: "title")
        // One read for the organization, the preset's organization and the settings; the
        // slower look-ups run only to name what is wrong.
        let target = try await store.issueTarget(operatorId: caller.operatorId, organizationId: organizationId, presetId: presetId)
        guard let organization = target.organization, organization.kind == .account, organization.path.hasPrefix(caller.operatorTenant.path),
              target.presetOrganizationId == organization.id else {
            _ = try await self.organization(caller, id: organizationId, field: "organization_id")
            _ = try await preset(caller, id: presetId, field: "preset_id")
            throw GatehouseError(.notFound, "preset \(presetId) does not belong to organization \(organizationId)", field: "preset_id")
        }
        let settings = target.settings
        let now = clock.now()
        let alphabet = Array(settings.tokenAlphabet)
        for _ in 0..<5 {
            let token = Secrets.randomString(length: settings.tokenLength, alphabet: alphabet)
            let record = ActivationTokenRecord(id: 0, operatorId: caller.operatorId, organizationId: organization.id, presetId: presetId, title: title,
                                               validTill: settings.tokenValidity == 0 ? 0 : now + settings.tokenValidity, createdAt: now,
                                               usedAt: nil, agentId: nil, cameraName: nil)
            do {
                let stored = try await store.insertActivationToken(record, tokenHash: Self.tokenHash(operatorId: caller.operatorId, token: token),
                                                                   organizationPath: organization.path, audit: AuditIntent(actor: caller.auditName, detail: title))
                return (token, stored)
            } catch let error as GatehouseError where error.code == .conflict {
                continue  // the random token collided with a live one: draw again
            }
        }
        throw GatehouseError(.unavailable, "could not draw a free token; widen the operator's token format")
    }

    /// A token of the operator (`not_found` when unknown).
    public func token(_ caller: OperatorCaller, _ token: String) async throws -> ActivationTokenRecord {
        guard !token.isEmpty, token.utf8.count <= 64,
              let record = try await store.activationToken(operatorId: caller.operatorId, tokenHash: Self.tokenHash(operatorId: caller.operatorId, token: token))
        else { throw GatehouseError.notFound("token", token) }
        return record
    }

    // MARK: Activation (agents)

    /// Activates an agent: with a token, binds it to a new camera exactly once; without one,
    /// registers it as unassigned for the operator. Failed redemptions count against the
    /// caller's address and the operator; unknown, used and expired tokens get one answer.
    public func activate(_ request: AgentActivationRequest) async throws -> AgentGrant {
        let serial = try ActivationValidation.agentField(request.serial, field: "serial", required: true)!
        let version = try ActivationValidation.agentField(request.version, field: "version")
        let mac = try ActivationValidation.agentField(request.mac, field: "mac")
        let refused = GatehouseError(.unauthenticated, "the operator id or token is not valid")
        guard let (node, settings) = try await store.activationOperator(id: request.operatorId), node.kind.isDealer, node.enabled else { throw refused }
        let watcherURL = settings.watcherURL ?? defaultWatcherURL
        let key = Secrets.token(prefix: "gak_", byteCount: 32)
        let now = clock.now()
        let agent = NewAgent(serial: serial, version: version, mac: mac, keyHash: Secrets.hash(key), at: now)

        guard let token = request.token, !token.isEmpty else {
            let record = try await store.registerUnassignedAgent(operatorId: node.id, agent: agent)
            return AgentGrant(agentId: record.id, agentKey: key, watcherURL: watcherURL, status: .unassigned, cameraName: nil)
        }
        let scopes = ["address:\(request.sourceAddress)", "operator:\(node.id)"]
        let minute = now / 60
        let guessing = GuessingCheck(scopes: scopes, limits: [limits.perAddress, limits.perOperator], sinceMinute: minute - limits.windowMinutes + 1)
        guard token.utf8.count <= 64 else {
            if guessing.isExceeded(try await store.activationFailures(scopes: scopes, sinceMinute: guessing.sinceMinute)) {
                throw GatehouseError(.rateLimited, "too many failed activations; try again later")
            }
            try await store.recordActivationFailure(scopes: scopes, minute: minute)
            throw refused
        }
        switch try await store.redeemActivationToken(operatorId: node.id, tokenHash: Self.tokenHash(operatorId: node.id, token: token), agent: agent,
                                                     retryWindow: limits.retryWindow, guessing: guessing) {
        case .activated(let record, let camera):
            return AgentGrant(agentId: record.id, agentKey: key, watcherURL: watcherURL, status: .active, cameraName: camera.name)
        case .repeated(let record, let camera):
            return AgentGrant(agentId: record.id, agentKey: key, watcherURL: watcherURL, status: record.status, cameraName: camera?.name)
        case .conflict:
            throw GatehouseError(.conflict, "another agent redeemed this token a moment ago")
        case .refused:
            // Counted by the store, in the redemption's own transaction.
            throw refused
        }
    }

    /// An agent's check-in with its id and key: records the time and version. A deactivated
    /// agent's key no longer authenticates it, but it is told so (`deactivated`) so that it
    /// activates again.
    public func agentStatus(agentId: Int64, key: String, version: String?) async throws -> AgentRecord {
        let version = try ActivationValidation.agentField(version, field: "version")
        guard key.utf8.count <= 256, let found = try await store.agent(id: agentId), Secrets.matches(key, hash: found.keyHash) else {
            throw GatehouseError(.unauthenticated, "the agent id or key is not valid")
        }
        guard found.record.status != .deactivated else { return found.record }
        let now = clock.now()
        try await store.agentSeen(id: agentId, version: version, at: now)
        var record = found.record
        record.lastSeenAt = now
        if let version { record.version = version }
        return record
    }

    /// The operator's agents, optionally by status (`unassigned` lists those waiting).
    public func agents(_ caller: OperatorCaller, status: AgentStatus?, limit: Int?, offset: Int?) async throws -> OffsetPage<AgentRecord> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        return try await store.agents(operatorId: caller.operatorId, status: status, limit: paging.limit, offset: paging.offset)
    }

    /// Assigns an unassigned agent to an organization and preset: it becomes a camera.
    public func assignAgent(_ caller: OperatorCaller, agentId: Int64, organizationId: Int64, presetId: Int64, title: String) async throws -> Camera {
        let title = try Validation.name(title, field: "title")
        let organization = try await organization(caller, id: organizationId, field: "organization_id")
        let preset = try await preset(caller, id: presetId, field: "preset_id")
        guard preset.organizationId == organization.tenant.id else {
            throw GatehouseError(.notFound, "preset \(presetId) does not belong to organization \(organizationId)", field: "preset_id")
        }
        return try await store.assignAgent(id: agentId, operatorId: caller.operatorId, organizationId: organization.tenant.id, presetId: preset.id,
                                           title: title, at: clock.now(), audit: AuditIntent(actor: caller.auditName, detail: title))
    }

    // MARK: Cameras

    /// The operator's cameras, optionally of one organization.
    public func cameras(_ caller: OperatorCaller, organizationId: Int64?, limit: Int?, offset: Int?) async throws -> OffsetPage<Camera> {
        let paging = try TieredValidation.paging(limit: limit, offset: offset)
        return try await store.cameras(operatorId: caller.operatorId, organizationId: organizationId, limit: paging.limit, offset: paging.offset)
    }

    /// One camera by name.
    public func camera(_ caller: OperatorCaller, name: String) async throws -> Camera {
        guard name.utf8.count <= 128, let camera = try await store.camera(operatorId: caller.operatorId, name: name) else {
            throw GatehouseError.notFound("camera", name)
        }
        return camera
    }

    /// Deletes a camera; its agent is deactivated at once.
    public func deleteCamera(_ caller: OperatorCaller, name: String) async throws {
        guard name.utf8.count <= 128 else { throw GatehouseError.notFound("camera", name) }
        try await store.deleteCamera(operatorId: caller.operatorId, name: name, at: clock.now(), audit: AuditIntent(actor: caller.auditName))
    }
}
