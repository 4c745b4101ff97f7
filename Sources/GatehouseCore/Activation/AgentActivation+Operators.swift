extension AgentActivation {
    // MARK: Dealer nodes as activation operators, for callers of the tree (the console)

    /// Dealer node `operatorId` as an activation operator, for a caller of the tree (a /v1
    /// user, the console's signed-in user): the node must be visible to the caller (else
    /// `not_found`) and a dealer node (platform, distributor, reseller; an account is
    /// `invalid_request`); `write` needs `manage_tenants` (else `forbidden`). Organizations,
    /// presets and webhooks of the operator API are this node's.
    public func operatorScope(_ caller: Caller, operatorId: Int64, write: Bool) async throws -> OperatorCaller {
        if write { try caller.require(.manageTenants) }
        let node = try await management.tenant(caller, id: operatorId)
        guard node.kind.isDealer else {
            throw GatehouseError.invalid("operator_id", "activation operators are dealer nodes (platform, distributor, reseller)")
        }
        return OperatorCaller(operatorTenant: node, credential: .management, caller: caller)
    }

    /// Deletes organization `id` for a caller of the tree: not while it has cameras (made by
    /// any operator above it, `conflict`) or nodes under it; needs `manage_tenants`.
    public func deleteOrganization(_ caller: Caller, id: Int64) async throws {
        let scope = try await organizationScope(caller, organizationId: id, write: true)
        guard try await accountCameras(caller, accountId: scope.operatorId).isEmpty else {
            throw GatehouseError(.conflict, "organization \(id) still has cameras; delete them first")
        }
        try await management.deleteTenant(caller, id: scope.operatorId)
    }
}
