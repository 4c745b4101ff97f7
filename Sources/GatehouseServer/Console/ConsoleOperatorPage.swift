import GatehouseCore

/// The model of `tenants.mustache`: the platform operator's view of one node of the tenant
/// tree (issue 10, point 4): its feature switches, its children (enable/disable, open) and
/// the form that creates a child.
struct ConsoleTenantsPage: Sendable {
    struct Crumb: Sendable {
        let name: String
        let href: String
    }

    struct Child: Sendable {
        let id: Int64
        let name: String
        let kind: String
        let key: String
        let enabled: Bool
        let href: String
    }

    struct Switch: Sendable {
        let name: String
        let label: String
        let enabled: Bool
    }

    struct KindOption: Sendable {
        let value: String
        let selected: Bool
    }

    /// The "Create a node" form: what was typed and its errors.
    struct NewNodeForm: Sendable {
        var kind = ""
        var name = ""
        var key = ""
        var errors: [String: String] = [:]
    }

    let frame: ConsoleFrame
    let csrf: String
    let node: Child
    let trail: [Crumb]
    let features: [Switch]
    let children: [Child]
    let kinds: [KindOption]
    /// Whether a node can be created under this one (accounts have no children).
    let canCreate: Bool
    let create: NewNodeForm
    /// Where this node's forms post (`/console/operator/tenants/<id>`).
    let base: String
    /// For a dealer node (an activation operator): its organizations and webhooks pages.
    let organizationsHref: String?
    let webhooksHref: String?
}
